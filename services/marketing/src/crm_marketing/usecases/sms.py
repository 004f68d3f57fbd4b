"""SMS waves: freeze (each recipient with their phone, or the reason they will be skipped), and
the send log the SMS sender (jobs/sms.py) drives in two transactions around each hand-off:

1. `claim`: pending rows (and rows whose claim expired) are checked again (consent withdrawn,
   an opt-out reply, a deletion since the freeze skips them), their variables rendered, and
   marked `sending` with this sender's claim, committed before any SMS leaves;
2. the sender hands each to the provider;
3. `record`: sent (the provider's id), failed (a permanent refusal), or back to pending.

A provider takes no idempotency key, so a crash between 2 and 3 re-sends that message once its
claim expired (at least once; the window is one message per sender). An answer lost after the
request went out is counted as sent (`handed`), never re-sent.

Replies and delivery receipts (`report_events`, the gateway's callbacks): every reply is kept; an
opt-out word withdraws `marketing_sms` for every contact of that phone here at once (later waves
skip them as `unsubscribed`) and in contacts through a consent job (RecordConsent, retried with
backoff); a receipt marks its message delivered or failed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import (
    ReportSmsEventsResponse,
    SendWave,
    SmsContent,
    SmsReceipt,
    SmsReply,
    SmsReplyRecord,
    Template,
)
from crm_marketing.events import MARKETING, emit
from crm_marketing.rules import access
from crm_marketing.rules import campaigns as campaign_rules
from crm_marketing.rules import sms as rules
from crm_marketing.rules.eligibility import RENDER_FAILED
from crm_marketing.store import projection, records, sending
from crm_marketing.store import sms as store
from crm_marketing.usecases import campaigns, waves
from crm_marketing.usecases.templates import merge_context
from crmkit.auth import SYSTEM, Principal
from crmkit.consent_purposes import check_purpose
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, PermissionDenied
from crmkit.records import bump, new_id, stamp_new
from crmkit.sms import OutgoingSms, e164

MAX_EVENTS = 500
UNCONFIRMED = "unconfirmed"  # provider id of a message whose answer was lost after it went out


def retry_wait(attempts: int) -> timedelta:
    """30 s, 1, 2, 4 ... minutes, at most 10, after the n-th retryable refusal."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 600))
OPT_OUT_SOURCE = "sms_reply"


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, wave: SendWave,
           members: waves.Members) -> SendWave:
    """An sms wave, frozen: its content checked, every recipient stored with their phone or the
    reason they will be skipped."""
    campaign = campaigns.for_write(uow, principal, wave.campaign_id, field="wave.campaign_id")
    campaign_rules.require_live(campaign, "text")
    if wave.template_id:
        raise InvalidArgument("an sms wave sends wave.sms (a provider template), not an email template",
                              field="wave.template_id")
    rules.check_content(wave.sms)
    wave.purpose = check_purpose(wave.purpose, "wave.purpose", rules.DEFAULT_PURPOSE)
    wave.variant = wave.variant.strip() or "main"
    wave.sender = ""
    if len(wave.variant) > 60:
        raise InvalidArgument("a variant has at most 60 characters", field="wave.variant")
    wave.audience.CopyFrom(waves.choose_audience(wave.audience, campaign.audience, "wave.audience"))
    waves.apply_members(uow, members, now)
    session = uow.session
    contact_ids = waves.evaluate_audience(session, wave.audience, members)
    wave.id = new_id()
    wave.status = "ready"
    wave.created_by = principal.user_id
    stamp_new(wave, now)
    sending.save_wave(session, wave, Template())
    _store_rows(session, wave, contact_ids)
    waves.with_counts(session, wave)
    emit(uow, principal, MARKETING.WAVE_CREATED, wave.id, wave.version, ev.WaveChanged(wave=wave, channel="sms"), now)
    return wave


def create_for(uow: UnitOfWork, *, principal: Principal, now: datetime, campaign_id: str, content: SmsContent,
               variant: str, kind: str, source_id: str) -> SendWave:
    """A continuous sms wave of automation (a sequence step), sending at once: recipients join it
    one at a time through `enqueue`."""
    wave = SendWave(id=new_id(), campaign_id=campaign_id, channel="sms", purpose=rules.DEFAULT_PURPOSE,
                    variant=variant, kind=kind, source_id=source_id, status="sending", created_by=principal.user_id)
    wave.sms.CopyFrom(content)
    stamp_new(wave, now)
    wave.started_at.FromDatetime(now)
    sending.save_wave(uow.session, wave, Template())
    waves.with_counts(uow.session, wave)
    for kind_of in (MARKETING.WAVE_CREATED, MARKETING.WAVE_STARTED):
        emit(uow, principal, kind_of, wave.id, wave.version, ev.WaveChanged(wave=wave, channel="sms"), now)
    return wave


def enqueue(uow: UnitOfWork, *, wave_id: str, contact_id: str) -> str:
    """One recipient joins a continuous sms wave: pending, or skipped with the reason, which it
    returns ("" when it will be texted). A contact joins a wave once."""
    session = uow.session
    if sending.has_recipient(session, wave_id, contact_id):
        return "duplicate"
    reason = rules.skip_reason(projection.reachability(session, [contact_id], rules.DEFAULT_PURPOSE).get(contact_id),
                               rules.DEFAULT_PURPOSE)
    contact = projection.get(session, contact_id)
    sending.insert_recipients(session, [{
        "wave_id": wave_id, "contact_id": contact_id, "email": "", "phone": contact.phone if contact else "",
        "language": contact.language if contact else "", "status": "skipped" if reason else "pending",
        "skip_reason": reason}])
    return reason


def refuse_channel(channel: str) -> SendWave:
    raise InvalidArgument(f"a wave's channel is email or sms, not {channel!r}", field="wave.channel")


def _store_rows(session: Session, wave: SendWave, contact_ids: list[str]) -> None:
    seen: set[str] = set()
    for start in range(0, len(contact_ids), waves.FREEZE_PAGE):
        page = contact_ids[start:start + waves.FREEZE_PAGE]
        known = projection.load(session, page)
        reach = projection.reachability(session, page, wave.purpose, known=known)
        rows: list[dict[str, Any]] = []
        for contact_id in page:
            reason = rules.skip_reason(reach.get(contact_id), wave.purpose, seen)
            contact = known.get(contact_id)
            rows.append({"wave_id": wave.id, "contact_id": contact_id, "email": "",
                         "phone": contact.phone if contact else "", "language": contact.language if contact else "",
                         "status": "skipped" if reason else "pending", "skip_reason": reason})
        sending.insert_recipients(session, rows)


# -- the send log

@dataclass(frozen=True)
class OutgoingItem:
    seq: int
    sms: OutgoingSms


@dataclass
class SmsClaim:
    wave_id: str
    items: list[OutgoingItem] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    finished: bool = False


def claim(uow: UnitOfWork, *, wave_id: str, worker: str, now: datetime, limit: int, lease: timedelta,
          skip_locked: bool = False) -> SmsClaim:
    session = uow.session
    result = SmsClaim(wave_id)
    batch = waves.open_batch(uow, wave_id=wave_id, now=now, complete=_complete,
                             claimable=lambda s: store.claimable(s, wave_id, now, limit, skip_locked=skip_locked))
    wave, rows = batch.wave, batch.rows
    if wave is None or not rows:
        result.finished = batch.finished
        return result
    campaign = records.load_campaign(session, wave.campaign_id)
    ids = [row.contact_id for row in rows]
    contacts = projection.load(session, ids)
    reach = projection.reachability(session, ids, wave.purpose, known=contacts)
    skips: list[tuple[int, str, str, str]] = []
    claimed: list[int] = []
    for row in rows:
        contact = contacts.get(row.contact_id)
        reason = rules.skip_reason(reach.get(row.contact_id), wave.purpose)  # duplicates were skipped at freeze
        if reason or contact is None:
            skips.append((row.seq, "skipped", reason or "unknown_contact", ""))
            continue
        try:
            params = rules.render_params(wave.sms, merge_context(contact, campaign_name=campaign.name if campaign else "",
                                                                 unsubscribe_url=""))
        except InvalidArgument as exc:
            skips.append((row.seq, "skipped", RENDER_FAILED, exc.message))
            continue
        claimed.append(row.seq)
        result.items.append(OutgoingItem(row.seq, OutgoingSms(row.phone, wave.sms.template_code, params,
                                                              wave.sms.sign_name, store.out_id(row.seq))))
    sending.mark(session, skips)
    store.claim(session, claimed, worker, now + lease)
    for _, _, reason, _ in skips:
        result.skipped[reason] = result.skipped.get(reason, 0) + 1
    return result


@dataclass
class SmsOutcomes:
    sent: list[tuple[int, str, datetime]] = field(default_factory=list)   # seq, provider id, at
    failed: list[tuple[int, str]] = field(default_factory=list)          # seq, error
    released: list[tuple[int, str]] = field(default_factory=list)        # seq, error: back to pending
    later: list[tuple[int, str, datetime]] = field(default_factory=list)  # seq, error, not before

    def __len__(self) -> int:
        return len(self.sent) + len(self.failed) + len(self.released) + len(self.later)


def record(uow: UnitOfWork, *, outcomes: SmsOutcomes) -> None:
    store.accepted(uow.session, outcomes.sent)
    store.retry_later(uow.session, outcomes.later)
    sending.mark(uow.session, [(seq, "failed", "", error) for seq, error in outcomes.failed]
                 + [(seq, "pending", "", error) for seq, error in outcomes.released])


def _complete(uow: UnitOfWork, wave: SendWave, now: datetime) -> None:
    wave.status = "completed"
    wave.completed_at.FromDatetime(now)
    bump(wave, now)
    sending.save_wave(uow.session, wave)
    waves.with_counts(uow.session, wave)
    emit(uow, SYSTEM, MARKETING.WAVE_COMPLETED, wave.id, wave.version, ev.WaveChanged(wave=wave, channel="sms"), now)


# -- what the provider pushes back

def _check_events(replies: list[SmsReply], receipts: list[SmsReceipt]) -> None:
    if not replies and not receipts:
        raise InvalidArgument("nothing to report: send replies or receipts", field="replies")
    for name, items in (("replies", replies), ("receipts", receipts)):
        if len(items) > MAX_EVENTS:
            raise InvalidArgument(f"at most {MAX_EVENTS} a call", field=name)
    for i, reply in enumerate(replies):
        if not e164(reply.phone):
            raise InvalidArgument("not a phone number", field=f"replies[{i}].phone")
        if len(reply.content) > 2000:
            raise InvalidArgument("at most 2000 characters", field=f"replies[{i}].content")
    for i, receipt in enumerate(receipts):
        if not receipt.out_id and not receipt.provider_id:
            raise InvalidArgument("a receipt names our out_id or the provider's id", field=f"receipts[{i}].out_id")


def report_events(uow: UnitOfWork, *, principal: Principal, now: datetime, replies: list[SmsReply],
                  receipts: list[SmsReceipt]) -> ReportSmsEventsResponse:
    if not (access.is_public(principal) or principal.has_role(*access.WRITERS)):
        raise PermissionDenied("only the provider's callbacks (through the gateway) and marketing report SMS")
    _check_events(replies, receipts)
    out = ReportSmsEventsResponse()
    session = uow.session
    for reply in replies:
        phone = e164(reply.phone)
        contact_ids = projection.contacts_by_phone(session, phone)
        opt_out = rules.is_opt_out(reply.content)
        store.add_reply(session, phone=phone, content=reply.content, opt_out=opt_out, contact_ids=contact_ids,
                        sign_name=reply.sign_name[:100], sent_at=reply.sent_at[:40], at=now)
        out.replies_kept += 1
        if not contact_ids:
            out.replies_unmatched += 1
        if opt_out:
            out.opted_out += _opt_out(uow, phone, contact_ids, reply, now)
    for receipt in receipts:
        out.receipts_marked += int(_receipt(session, receipt, now))
    out.receipts_unmatched = len(receipts) - out.receipts_marked
    return out


def _opt_out(uow: UnitOfWork, phone: str, contact_ids: list[str], reply: SmsReply, now: datetime) -> int:
    """Withdraw marketing_sms for each contact of the phone: here at once, in contacts by a job."""
    for contact_id in contact_ids:
        projection.record_unsubscribe(uow.session, contact_id, rules.DEFAULT_PURPOSE, "", "", now)
        sending.add_consent_job(uow.session, key=f"marketing-sms-optout-{contact_id}-{now.isoformat()}",
                                contact_id=contact_id, purpose=rules.DEFAULT_PURPOSE, granted=False,
                                source=OPT_OUT_SOURCE,
                                evidence=f"SMS reply {reply.content.strip()[:50]!r} from {phone}", at=now)
    return len(contact_ids)


def _receipt(session: Session, receipt: SmsReceipt, now: datetime) -> bool:
    seq = store.seq_of(receipt.out_id)
    row = store.recipient(session, seq) if seq is not None else None
    if row is None and receipt.provider_id:
        row = store.by_provider_id(session, receipt.provider_id)
    if row is None or store.wave_channel(session, row.wave_id) != "sms":
        return False
    if receipt.success:
        store.delivered(session, row.seq, now)
    else:
        code = receipt.error_code or "undelivered"
        store.undelivered(session, row.seq, f"{code}: {receipt.error_message}".strip(": "))
    return True


def list_replies(session: Session, *, principal: Principal, phone: str, page_size: int,
                 page_token: str) -> tuple[list[SmsReplyRecord], str]:
    access.require_reader(principal)
    wanted = e164(phone) if phone else ""
    if phone and not wanted:
        raise InvalidArgument("not a phone number", field="phone")
    return store.list_replies(session, wanted, page_size, page_token)
