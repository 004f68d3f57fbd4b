"""Send waves: freeze (prepare asks contacts for the segments' members, outside the transaction,
a page at a time: each page projected as it comes, only the ids kept; the write evaluates the
audience against the projection and stores every recipient with its email and language or the
reason it will be skipped, plus the template as it is), start, cancel, and read them with their
counts."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import Contact
from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import Audience, Recipient, SendWave, Template
from crm_marketing.events import MARKETING, emit
from crm_marketing.ports import ContactsPort, DependencyUnavailable
from crm_marketing.rules import access
from crm_marketing.rules import audience as algebra
from crm_marketing.rules import campaigns as campaign_rules
from crm_marketing.rules.eligibility import DEFAULT_PURPOSE, skip_reason
from crm_marketing.rules.templates import normalize_language
from crm_marketing.store import projection, records, sending
from crm_marketing.store import sms as sms_store
from crm_marketing.usecases import campaigns
from crm_marketing.usecases import projection as projecting
from crmkit.auth import Principal
from crmkit.consent_purposes import check_purpose
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound
from crmkit.mail import InvalidMail, address_of
from crmkit.records import bump, check_version, new_id, stamp_new

STATUSES = ("ready", "sending", "completed", "cancelled")
CHANNEL = "email"
RECIPIENT_STATUSES = ("pending", "sending", "sent", "failed", "skipped")


@dataclass(frozen=True)
class Members:
    """What contacts answered for each segment of the audience (prepare's result): the members'
    ids, in contacts' order, and the snapshots that were not projected page by page yet."""

    by_segment: dict[str, list[str]] = field(default_factory=dict)
    unprojected: list[Contact] = field(default_factory=list)


Project = Callable[[Sequence[Contact]], None]  # writes one page of snapshots to the projection


def choose_audience(given: Audience, campaign_audience: Audience, field: str) -> Audience:
    """The audience given, else the campaign's; one that names nobody is refused."""
    chosen = Audience()
    chosen.CopyFrom(given if not campaign_rules.is_empty(given) else campaign_audience)
    campaign_rules.normalize_audience(chosen, field)
    if campaign_rules.is_empty(chosen):
        raise InvalidArgument("no audience: name segments, tags or contacts (here or on the campaign)", field=field)
    return chosen


def _audience(wave: SendWave, campaign_audience: Audience) -> Audience:
    return choose_audience(wave.audience, campaign_audience, "wave.audience")


def prepare(session: Session, contacts: ContactsPort | None, *, principal: Principal, wave: SendWave,
            prefix: str = "wave.", project: Project | None = None) -> Members:
    """Before the transaction: the caller may change the campaign, and contacts lists each segment.
    With `project` (each page in a transaction of its own: the projection only ever moves to newer
    snapshots, so a freeze that fails afterwards leaves it correct) a segment of any size costs a
    page of snapshots and its ids; without it, the snapshots wait for `apply_members`."""
    campaign = campaigns.get(session, principal=principal, campaign_id=wave.campaign_id, field=f"{prefix}campaign_id")
    audience = choose_audience(wave.audience, campaign.audience, f"{prefix}audience")
    segments = list(dict.fromkeys([*audience.segment_ids, *audience.exclude_segment_ids]))
    if segments and contacts is None:
        raise DependencyUnavailable("contacts is not configured (CONTACTS_SERVICE_ADDR): segments cannot be listed")
    members = Members()
    if contacts is None:
        return members
    for segment_id in segments:
        ids: list[str] = []
        members.by_segment[segment_id] = ids
        for page in contacts.segment_pages(segment_id):
            ids.extend(c.id for c in page)
            if project is not None:
                project(page)
            else:
                members.unprojected.extend(page)
    return members


def apply_members(uow: UnitOfWork, members: Members, now: datetime) -> None:
    """The freshest snapshots we have and did not project yet: contacts just sent them."""
    projecting.apply_contacts(uow.session, members.unprojected, now)


def project_page(uow: UnitOfWork, page: Sequence[Contact], now: datetime) -> None:
    """One page of a segment's members, as prepare's `project` writes it (the caller's transaction)."""
    projecting.apply_contacts(uow.session, page, now)


def check_sender(sender: str, default_sender: str, field: str) -> str:
    chosen = sender.strip() or default_sender
    try:
        address_of(chosen, "sender")
    except InvalidMail as exc:
        raise InvalidArgument(str(exc), field=field) from None
    return chosen


def _check_new(wave: SendWave, default_sender: str) -> None:
    wave.purpose = check_purpose(wave.purpose, "wave.purpose", DEFAULT_PURPOSE)
    wave.variant = wave.variant.strip() or "main"
    if len(wave.variant) > 60:
        raise InvalidArgument("a variant has at most 60 characters", field="wave.variant")
    wave.sender = check_sender(wave.sender, default_sender, "wave.sender")


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, wave: SendWave, members: Members,
           default_sender: str) -> SendWave:
    campaign = campaigns.for_write(uow, principal, wave.campaign_id, field="wave.campaign_id")
    campaign_rules.require_live(campaign, "mail")
    template = records.load_template(uow.session, wave.template_id) if wave.template_id else None
    if template is None:
        raise NotFound(f"template {wave.template_id} not found", field="wave.template_id")
    _check_new(wave, default_sender)
    audience = _audience(wave, campaign.audience)
    wave.audience.CopyFrom(audience)
    apply_members(uow, members, now)
    session = uow.session
    contact_ids = evaluate_audience(session, audience, members)
    wave.id = new_id()
    wave.status = "ready"
    wave.template_version = template.version
    wave.created_by = principal.user_id
    stamp_new(wave, now)
    sending.save_wave(session, wave, template)
    _store_rows(session, wave, contact_ids)
    wave.counts.CopyFrom(sending.counts(session, [wave.id]))
    emit(uow, principal, MARKETING.WAVE_CREATED, wave.id, wave.version, ev.WaveChanged(wave=wave, channel=wave.channel or CHANNEL), now)
    return wave


def evaluate_audience(session: Session, audience: Audience, members: Members) -> list[str]:
    """The contact ids an audience names now: its segments (as contacts answered in `prepare`),
    tags (the projection) and explicit contacts, minus the exclusions."""
    def segment_ids(ids: list[str]) -> list[list[str]]:
        return [members.by_segment.get(s, []) for s in ids]

    include = [*segment_ids(list(audience.segment_ids)), projection.tagged(session, list(audience.tags)),
               list(audience.contact_ids)]
    exclude = [*segment_ids(list(audience.exclude_segment_ids)), projection.tagged(session, list(audience.exclude_tags)),
               list(audience.exclude_contact_ids)]
    return algebra.evaluate(include, exclude)


FREEZE_PAGE = 1000  # recipients evaluated and stored per page: a big audience is never held as rows


def _store_rows(session: Session, wave: SendWave, contact_ids: list[str]) -> None:
    """The frozen recipient list, a page at a time: each contact with its email and language, or
    the reason it is skipped."""
    seen: set[str] = set()  # addresses already on the list (a duplicate is skipped)
    for start in range(0, len(contact_ids), FREEZE_PAGE):
        page = contact_ids[start:start + FREEZE_PAGE]
        known = projection.load(session, page)
        reach = projection.reachability(session, page, wave.purpose, known=known)
        rows: list[dict[str, Any]] = []
        for contact_id in page:
            reason = skip_reason(reach.get(contact_id), wave.purpose, seen)
            contact = known.get(contact_id)
            rows.append({"wave_id": wave.id, "contact_id": contact_id, "email": contact.email if contact else "",
                         "language": normalize_language(contact.language) if contact and contact.language else "",
                         "status": "skipped" if reason else "pending", "skip_reason": reason})
        sending.insert_recipients(session, rows)


def create_for(uow: UnitOfWork, *, principal: Principal, now: datetime, campaign_id: str, template: Template,
               purpose: str, sender: str, variant: str, kind: str, source_id: str,
               contact_ids: list[str] | None = None) -> SendWave:
    """A wave of automation (a sequence step, a rule, an A/B test variant or winner), sending at
    once: frozen with `contact_ids`, or continuous (recipients join it through `enqueue`)."""
    wave = SendWave(id=new_id(), campaign_id=campaign_id, template_id=template.id, purpose=purpose, sender=sender,
                    variant=variant, kind=kind, source_id=source_id, status="sending",
                    template_version=template.version, created_by=principal.user_id)
    stamp_new(wave, now)
    wave.started_at.FromDatetime(now)
    sending.save_wave(uow.session, wave, template)
    if contact_ids:
        _store_rows(uow.session, wave, contact_ids)
    wave.counts.CopyFrom(sending.counts(uow.session, [wave.id]))
    emit(uow, principal, MARKETING.WAVE_CREATED, wave.id, wave.version, ev.WaveChanged(wave=wave, channel=wave.channel or CHANNEL), now)
    emit(uow, principal, MARKETING.WAVE_STARTED, wave.id, wave.version, ev.WaveChanged(wave=wave, channel=wave.channel or CHANNEL), now)
    return wave


def enqueue(uow: UnitOfWork, *, wave_id: str, contact_id: str, purpose: str) -> str:
    """One recipient joins a continuous wave: pending, or skipped with the reason, which it
    returns ("" when it will be mailed). A contact joins a wave once (its Message-ID is the
    wave's and the contact's)."""
    session = uow.session
    if sending.has_recipient(session, wave_id, contact_id):
        return "duplicate"
    reach = projection.reachability(session, [contact_id], purpose).get(contact_id)
    reason = skip_reason(reach, purpose)
    contact = projection.get(session, contact_id)
    sending.insert_recipients(session, [{
        "wave_id": wave_id, "contact_id": contact_id, "email": contact.email if contact else "",
        "language": normalize_language(contact.language) if contact and contact.language else "",
        "status": "skipped" if reason else "pending", "skip_reason": reason}])
    return reason


def close(uow: UnitOfWork, *, principal: Principal, now: datetime, wave_id: str) -> None:
    """An automation wave whose sequence or rule is gone: what was not mailed stays unmailed."""
    wave = sending.load_wave(uow.session, wave_id, for_update=True)
    if wave is None or wave.status not in ("ready", "sending"):
        return
    sending.cancel_pending(uow.session, wave.id)
    wave.status = "cancelled"
    wave.completed_at.FromDatetime(now)
    bump(wave, now)
    sending.save_wave(uow.session, wave)
    wave.counts.CopyFrom(sending.counts(uow.session, [wave.id]))
    emit(uow, principal, MARKETING.WAVE_CANCELLED, wave.id, wave.version, ev.WaveChanged(wave=wave, channel=wave.channel or CHANNEL),
         now)


@dataclass
class Batch:
    """What a sender's claim starts from: the wave (None: gone) and the rows it may claim.
    No rows and not `finished`: other senders hold live claims, ask again later."""

    wave: SendWave | None
    rows: list[Row[Any]] = field(default_factory=list)
    finished: bool = False


def open_batch(uow: UnitOfWork, *, wave_id: str, now: datetime,
               claimable: Callable[[Session], list[Row[Any]]],
               complete: Callable[[UnitOfWork, SendWave, datetime], None]) -> Batch:
    """The shared start of the email and sms claims, inside the caller's transaction (it
    commits): the wave locked, finished unless sending; no claimable rows completes it (with the
    channel's own `complete`) once nothing is unfinished, a continuous wave never completes."""
    session = uow.session
    wave = sending.load_wave(session, wave_id, for_update=True)
    if wave is None or wave.status != "sending":
        return Batch(wave, finished=True)
    rows = claimable(session)
    if not rows:
        if wave.kind in sending.CONTINUOUS:  # more recipients join later: never complete
            return Batch(wave, finished=True)
        if sending.unfinished(session, wave_id) == 0:
            complete(uow, wave, now)
            return Batch(wave, finished=True)
    return Batch(wave, rows)


def with_counts(session: Session, wave: SendWave) -> SendWave:
    """The wave with its counts: a mail wave's, or an sms wave's (sms_counts)."""
    if wave.channel == "sms":
        wave.sms_counts.CopyFrom(sms_store.counts(session, [wave.id], wave.purpose))
    else:
        wave.counts.CopyFrom(sending.counts(session, [wave.id]))
    return wave


def get(session: Session, *, principal: Principal, wave_id: str, field: str = "id") -> SendWave:
    wave = sending.load_wave(session, wave_id) if wave_id else None
    if wave is None:
        raise NotFound(f"send wave {wave_id} not found", field=field)
    campaigns.get(session, principal=principal, campaign_id=wave.campaign_id, field=field)  # visibility
    return with_counts(session, wave)


def list_waves(session: Session, *, principal: Principal, campaign_id: str, page_size: int,
               page_token: str) -> tuple[list[SendWave], str]:
    campaign = campaigns.get(session, principal=principal, campaign_id=campaign_id, field="campaign_id")
    items, token = sending.list_waves(session, campaign.id, page_size, page_token)
    for wave in items:
        with_counts(session, wave)
    return items, token


def _for_write(uow: UnitOfWork, principal: Principal, wave_id: str, expected_version: int) -> SendWave:
    wave = sending.load_wave(uow.session, wave_id, for_update=True) if wave_id else None
    if wave is None:
        raise NotFound(f"send wave {wave_id} not found", field="id")
    campaigns.for_write(uow, principal, wave.campaign_id)
    check_version(wave.version, expected_version)
    return wave


def start(uow: UnitOfWork, *, principal: Principal, now: datetime, wave_id: str, expected_version: int,
          mail_enabled: bool, sms_enabled: bool = False) -> SendWave:
    wave = _for_write(uow, principal, wave_id, expected_version)
    if wave.status != "ready":
        raise FailedPrecondition(f"the wave is {wave.status}; only a ready wave starts", field="id")
    if wave.channel == "sms" and not sms_enabled:
        raise FailedPrecondition("this marketing service sends no SMS: set SMS_URL", field="id")
    if wave.channel != "sms" and not mail_enabled:
        raise FailedPrecondition("this marketing service sends no mail: set SMTP_URL", field="id")
    wave.status = "sending"
    wave.started_at.FromDatetime(now)
    bump(wave, now)
    sending.save_wave(uow.session, wave)
    with_counts(uow.session, wave)
    emit(uow, principal, MARKETING.WAVE_STARTED, wave.id, wave.version, ev.WaveChanged(wave=wave, channel=wave.channel or CHANNEL), now)
    return wave


def cancel(uow: UnitOfWork, *, principal: Principal, now: datetime, wave_id: str, expected_version: int) -> SendWave:
    """Recipients not handed over yet stay unsent (skipped: cancelled); one being handed over
    right now still completes."""
    wave = _for_write(uow, principal, wave_id, expected_version)
    if wave.status not in ("ready", "sending"):
        raise FailedPrecondition(f"the wave is {wave.status} already", field="id")
    sending.cancel_pending(uow.session, wave.id)
    wave.status = "cancelled"
    wave.completed_at.FromDatetime(now)
    bump(wave, now)
    sending.save_wave(uow.session, wave)
    with_counts(uow.session, wave)
    emit(uow, principal, MARKETING.WAVE_CANCELLED, wave.id, wave.version, ev.WaveChanged(wave=wave, channel=wave.channel or CHANNEL), now)
    return wave


def list_recipients(session: Session, *, principal: Principal, wave_id: str, status: str, reason: str,
                    page_size: int, page_token: str) -> tuple[list[Recipient], str]:
    wave = get(session, principal=principal, wave_id=wave_id, field="wave_id")
    if status and status not in RECIPIENT_STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(RECIPIENT_STATUSES)}", field="status")
    found, token = sending.list_recipients(session, wave.id, status, reason, page_size, page_token)
    return access.masked_emails(principal, list(found)), token
