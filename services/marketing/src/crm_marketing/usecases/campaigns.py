"""Campaigns: create, change, move through the status flow, delete drafts, and their results.
Events and business rows go into the caller's unit of work together."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import Campaign, CampaignFilter, CampaignResults
from crm_marketing.events import MARKETING, emit
from crm_marketing.metrics import CAMPAIGNS_CREATED
from crm_marketing.rules import access
from crm_marketing.rules import campaigns as rules
from crm_marketing.store import records, sending
from crm_marketing.store import sms as sms_store
from crm_marketing.tables import campaigns
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crmkit.fields import patchable
from crmkit.records import bump, check_version, new_id, stamp_new
from crmkit.visibility import check_assignable

UPDATABLE = patchable(Campaign)


def get(session: Session, *, principal: Principal, campaign_id: str, field: str = "id") -> Campaign:
    """The campaign, or NOT_FOUND when missing or not visible (no existence leak)."""
    if not campaign_id:
        raise InvalidArgument(f"{field} is required", field=field)
    campaign = records.load_campaign(session, campaign_id)
    if campaign is None or not access.can_read(principal, campaign):
        raise NotFound(f"campaign {campaign_id} not found", field=field)
    return campaign


def for_write(uow: UnitOfWork, principal: Principal, campaign_id: str, field: str = "id") -> Campaign:
    """The campaign locked for a change the caller may make (NOT_FOUND / PERMISSION_DENIED)."""
    campaign = records.load_campaign(uow.session, campaign_id, for_update=True) if campaign_id else None
    if campaign is None or not access.can_read(principal, campaign):
        raise NotFound(f"campaign {campaign_id} not found", field=field)
    if not access.can_write(principal, campaign):
        raise PermissionDenied("you may not change this campaign", field=field)
    return campaign


def list_campaigns(session: Session, *, principal: Principal, flt: CampaignFilter, page_size: int,
                   page_token: str) -> tuple[list[Campaign], str]:
    if access.is_public(principal):
        raise PermissionDenied("this needs a signed-in user")
    where: list[ColumnElement[bool]] = [access.CAMPAIGNS.clause(principal, campaigns)]
    for column, value in ((campaigns.c.status, flt.status), (campaigns.c.type, flt.type),
                          (campaigns.c.owner_id, flt.owner_id)):
        if value:
            where.append(column == value)
    return records.list_campaigns(session, where, page_size, page_token)


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, campaign: Campaign) -> Campaign:
    access.require_writer(principal)
    rules.check(campaign)
    campaign.owner_id = campaign.owner_id or principal.user_id
    check_assignable(principal, campaign.owner_id)
    if campaign.owner_id == principal.user_id:
        campaign.team = campaign.team or principal.team
        campaign.region = campaign.region or principal.region
    campaign.id = new_id()
    slug = rules.slugify(campaign.name, campaign.slug) or f"campaign-{campaign.id[:8]}"
    if records.slug_taken(uow.session, slug):
        if campaign.slug:
            raise InvalidArgument(f"another campaign uses the slug {slug}", field="slug")
        slug = f"{slug[:51]}-{campaign.id[:8]}"
    campaign.slug = slug
    campaign.status = "draft"
    campaign.created_by = principal.user_id
    del campaign.history[:]
    stamp_new(campaign, now)
    campaign.history.add(from_status="", to_status="draft", actor_id=principal.user_id).at.FromDatetime(now)
    records.insert_campaign(uow.session, campaign)
    emit(uow, principal, MARKETING.CAMPAIGN_CREATED, campaign.id, campaign.version,
         ev.CampaignCreated(campaign=campaign), now)
    CAMPAIGNS_CREATED.labels(campaign.type).inc()
    return campaign


def update(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: Campaign, paths: Sequence[str],
           expected_version: int) -> Campaign:
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument(f"{path} cannot be changed here", field=path)
    campaign = for_write(uow, principal, patch.id)
    check_version(campaign.version, expected_version)
    if campaign.status in ("completed", "cancelled") and set(paths) - {"actual_cost", "description"}:
        raise FailedPrecondition(f"a {campaign.status} campaign only takes its actual cost and description",
                                 field=next(p for p in paths if p not in ("actual_cost", "description")))
    for path in paths:
        field = getattr(campaign, path)
        value = getattr(patch, path)
        if hasattr(field, "CopyFrom"):
            field.CopyFrom(value)
        else:
            setattr(campaign, path, value)
    rules.check(campaign)
    if "owner_id" in paths:
        check_assignable(principal, campaign.owner_id)
    bump(campaign, now)
    records.update_campaign(uow.session, campaign)
    emit(uow, principal, MARKETING.CAMPAIGN_UPDATED, campaign.id, campaign.version,
         ev.CampaignUpdated(campaign=campaign, changed_fields=list(paths)), now)
    return campaign


def change_status(uow: UnitOfWork, *, principal: Principal, now: datetime, campaign_id: str, status: str,
                  reason: str, expected_version: int) -> Campaign:
    campaign = for_write(uow, principal, campaign_id)
    check_version(campaign.version, expected_version)
    old = campaign.status
    rules.check_transition(old, status)
    if status == "scheduled" and not campaign.start_date:
        raise FailedPrecondition("schedule a campaign with its start_date set", field="start_date")
    campaign.status = status
    campaign.history.add(from_status=old, to_status=status, actor_id=principal.user_id,
                         reason=reason.strip()[:500]).at.FromDatetime(now)
    bump(campaign, now)
    records.update_campaign(uow.session, campaign)
    emit(uow, principal, MARKETING.CAMPAIGN_STATUS_CHANGED, campaign.id, campaign.version,
         ev.CampaignStatusChanged(campaign=campaign, from_status=old, to_status=status, reason=reason), now)
    return campaign


def delete(uow: UnitOfWork, *, principal: Principal, now: datetime, campaign_id: str, expected_version: int) -> None:
    campaign = for_write(uow, principal, campaign_id)
    check_version(campaign.version, expected_version)
    if campaign.status != "draft" or sending.wave_ids_of(uow.session, campaign.id):
        raise FailedPrecondition("only a draft that sent nothing can be deleted; cancel it instead", field="id")
    records.delete_campaign(uow.session, campaign.id)
    emit(uow, principal, MARKETING.CAMPAIGN_DELETED, campaign.id, campaign.version + 1,
         ev.CampaignDeleted(campaign=campaign), now)


def results(session: Session, *, principal: Principal, campaign_id: str) -> CampaignResults:
    campaign = get(session, principal=principal, campaign_id=campaign_id, field="campaign_id")
    wave_ids = sending.wave_ids_of(session, campaign.id, "email")
    sms_waves = sending.wave_ids_of(session, campaign.id, "sms")
    invited = records.invitee_counts(session, campaign.id)
    out = CampaignResults(
        campaign_id=campaign.id, email=sending.counts(session, wave_ids), waves=len(wave_ids) + len(sms_waves),
        sms=sms_store.counts(session, sms_waves),
        invited=sum(invited.values()), registered=invited.get("registered", 0) + invited.get("attended", 0),
        attended=invited.get("attended", 0))
    out.budget.CopyFrom(campaign.budget)
    out.actual_cost.CopyFrom(campaign.actual_cost)
    out.expected.CopyFrom(campaign.expected)
    return out
