"""Invitation lists: invite contacts (each gets its check-in code), register them, check them in
at the door by code. Contacts come from marketing's projection (name and email as they are now)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import Campaign, Invitee
from crm_marketing.events import MARKETING, emit
from crm_marketing.rules import access
from crm_marketing.rules import campaigns as rules
from crm_marketing.store import projection, records
from crm_marketing.usecases import campaigns
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound

MAX_PER_CALL = 5000
STATUSES = ("invited", "registered", "attended")


def _emit(uow: UnitOfWork, principal: Principal, kind: str, invitee: Invitee, campaign: Campaign,
          now: datetime) -> None:
    emit(uow, principal, kind, f"{invitee.campaign_id}/{invitee.contact_id}", invitee.version,
         ev.InviteeChanged(invitee=invitee, campaign_name=campaign.name), now)


def add(uow: UnitOfWork, *, principal: Principal, now: datetime, campaign_id: str,
        contact_ids: list[str]) -> tuple[list[Invitee], int]:
    """The invitees added, and how many of the ids were invited before."""
    campaign = campaigns.for_write(uow, principal, campaign_id, field="campaign_id")
    rules.require_live(campaign, "invitations")
    wanted = list(dict.fromkeys(c.strip() for c in contact_ids if c.strip()))
    if not wanted:
        raise InvalidArgument("name at least one contact", field="contact_ids")
    if len(wanted) > MAX_PER_CALL:
        raise InvalidArgument(f"at most {MAX_PER_CALL} contacts per call", field="contact_ids")
    known = projection.load(uow.session, wanted)
    for i, contact_id in enumerate(wanted):
        contact = known.get(contact_id)
        if contact is None or contact.suppressed:
            raise NotFound(f"contact {contact_id} is not known to marketing", field=f"contact_ids[{i}]")
    before = records.invited_ids(uow.session, campaign.id, wanted)
    added: list[Invitee] = []
    for contact_id in wanted:
        if contact_id in before:
            continue
        contact = known[contact_id]
        code = rules.new_check_in_code()
        while records.code_taken(uow.session, campaign.id, code):  # 40 bits: a clash is rare, not impossible
            code = rules.new_check_in_code()
        invitee = Invitee(campaign_id=campaign.id, contact_id=contact_id, name=contact.name, email=contact.email,
                          check_in_code=code, status="invited", version=1)
        invitee.invited_at.FromDatetime(now)
        records.insert_invitee(uow.session, invitee)
        _emit(uow, principal, MARKETING.INVITEE_INVITED, invitee, campaign, now)
        added.append(invitee)
    return added, len(before)


def list_invitees(session: Session, *, principal: Principal, campaign_id: str, status: str, page_size: int,
                  page_token: str) -> tuple[list[Invitee], str]:
    campaign = campaigns.get(session, principal=principal, campaign_id=campaign_id, field="campaign_id")
    if status and status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", field="status")
    found, token = records.list_invitees(session, campaign.id, status, page_size, page_token)
    return access.masked_emails(principal, list(found)), token


def register(uow: UnitOfWork, *, principal: Principal, now: datetime, campaign_id: str, contact_id: str) -> Invitee:
    """Registration is repeatable: a second one changes nothing (and emits nothing)."""
    campaign = campaigns.for_write(uow, principal, campaign_id, field="campaign_id")
    rules.require_live(campaign, "registrations")
    invitee = records.load_invitee(uow.session, campaign.id, contact_id=contact_id) if contact_id else None
    if invitee is None:
        raise NotFound(f"contact {contact_id} is not invited to this campaign", field="contact_id")
    if invitee.status != "invited":
        return invitee
    invitee.status = "registered"
    invitee.registered_at.FromDatetime(now)
    invitee.version += 1
    records.update_invitee(uow.session, invitee)
    _emit(uow, principal, MARKETING.INVITEE_REGISTERED, invitee, campaign, now)
    return invitee


def check_in(uow: UnitOfWork, *, principal: Principal, now: datetime, campaign_id: str, code: str) -> Invitee:
    """At the door: the code finds the invitee (registered or not: walk-ins with an invitation
    count); a second scan of the same code is refused, so one code admits one person."""
    campaign = campaigns.for_write(uow, principal, campaign_id, field="campaign_id")
    if campaign.status not in ("scheduled", "active"):
        raise FailedPrecondition(f"check-in is for scheduled or active campaigns, this one is {campaign.status}",
                                 field="campaign_id")
    normalized = rules.normalize_code(code)
    invitee = records.load_invitee(uow.session, campaign.id, code=normalized) if normalized else None
    if invitee is None:
        raise NotFound("no invitee has this check-in code", field="check_in_code")
    if invitee.status == "attended":
        raise FailedPrecondition(f"this code was already checked in at {invitee.checked_in_at.ToJsonString()}",
                                 field="check_in_code")
    if not invitee.HasField("registered_at"):
        invitee.registered_at.FromDatetime(now)
    invitee.status = "attended"
    invitee.checked_in_at.FromDatetime(now)
    invitee.checked_in_by = principal.user_id
    invitee.version += 1
    records.update_invitee(uow.session, invitee)
    _emit(uow, principal, MARKETING.INVITEE_CHECKED_IN, invitee, campaign, now)
    return invitee
