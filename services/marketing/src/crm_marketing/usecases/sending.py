"""Mailing a wave, in two transactions around each SMTP hand-off (the worker in jobs.py owns them):

1. `claim`: pending recipients (and those whose claim expired: their worker died mid-send) are
   checked again against the projection (a consent withdrawn, an unsubscribe, a bounce since the
   freeze skips them, with the reason), rendered, and marked `sending` with this worker's claim and
   their deterministic Message-ID (wave, contact) — committed before any mail leaves;
2. the worker hands each mail to the relay;
3. `record`: each is marked `sent` (or failed, or released to pending when the relay is away).

With the SMTP relay (ports.SmtpRounds) step 2 is split around the send log: everything but the
end of data goes out, then `handed` commits the rows' `sent_at` (still `sending`), and only then
the final "." goes out. A relay discards a message whose DATA never ended, so a crash before that
commit leaves nothing delivered (the row is mailed again once its claim expired, with the same
Message-ID), and a crash after it leaves a row that `claim` finds handed and records as sent
without mailing it again: never twice. (What that costs: a crash in the instant between the
commit and the "." leaves one mail per connection recorded and not delivered.)

With a plain Mailer (tests' fakes), a crash between 2 and 3 leaves rows `sending`; once their
claim expires they are mailed again with the same Message-ID, after asking the relay whether it
already took it when it can tell (ports.AcceptedCheck)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import SendWave, Template
from crm_marketing.events import MARKETING, emit
from crm_marketing.ports import OutgoingMail
from crm_marketing.rules import templates, tracking
from crm_marketing.rules.eligibility import RENDER_FAILED, skip_reason
from crm_marketing.rules.mime import WaveMime, display_address
from crm_marketing.store import projection, records, sending
from crm_marketing.store.projection import ProjectedContact
from crm_marketing.usecases import waves
from crm_marketing.usecases.templates import merge_context
from crmkit import shredding
from crmkit.auth import SYSTEM
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument
from crmkit.mail import InvalidMail, domain_of, make_message_id
from crmkit.records import aware, bump

ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class Outgoing:
    seq: int
    contact_id: str
    mail: OutgoingMail
    retry: bool  # its earlier claim expired: it may have been handed over already
    data: bytes = b""  # the mail's DATA (rules.mime), for a relay that takes bytes
    address: str = ""  # RCPT TO
    envelope_from: str = ""  # MAIL FROM


@dataclass
class Claim:
    wave_id: str
    mails: list[Outgoing] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    finished: bool = False  # nothing left to send: the wave is completed (or was stopped)
    confirmed: int = 0  # rows a dead worker had handed over: recorded as sent, not mailed again


def message_id(wave: SendWave, contact_id: str) -> str:
    return make_message_id(wave.id, contact_id, domain=domain_of(wave.sender))


def compose(wave: SendWave, template: Template, contact: ProjectedContact, *, seq: int, email: str,
            language: str, campaign_name: str, slug: str, links: tracking.LinkMaker,
            domain: str = "") -> tuple[OutgoingMail, list[str]]:
    """One recipient's mail (InvalidArgument when the template cannot render for them) and the
    links it contains, in token order. `domain`: the Message-ID's (the sender's), once per wave."""
    unsubscribe = links.unsubscribe(seq)
    rendered = templates.render(templates.pick(template, language or contact.language),
                                merge_context(contact, campaign_name=campaign_name, unsubscribe_url=unsubscribe))
    signed: dict[int, str] = {}  # a link in both the text and the html is signed once

    def click_url(i: int) -> str:
        if i not in signed:
            signed[i] = links.click(seq, i)
        return signed[i]

    tracked = tracking.track_links(rendered.text, rendered.html, own_base=links.base, click_url=click_url,
                                   utm=tracking.utm_params(slug, wave.variant))
    mid = make_message_id(wave.id, contact.contact_id, domain=domain) if domain else message_id(wave, contact.contact_id)
    mail = OutgoingMail(
        sender=wave.sender, to=display_address(contact.name, email), subject=_one_line(rendered.subject),
        text=tracked.text, html=tracking.add_pixel(tracked.html, links.pixel(seq)), message_id=mid,
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": ONE_CLICK,
                 "Precedence": "bulk"})
    return mail, tracked.links


def _one_line(value: str) -> str:
    return value.replace("\r\n", " ").replace("\r", " ").replace("\n", " ") if "\r" in value or "\n" in value else value


def _data(mime: WaveMime, mail: OutgoingMail, name: str, email: str, now: datetime) -> bytes:
    try:
        return mime.build(to_name=name, to_address=email, subject=mail.subject, text=mail.text, html=mail.html,
                          message_id=mail.message_id, headers={"List-Unsubscribe": mail.headers["List-Unsubscribe"]},
                          at=now)
    except InvalidMail as exc:
        raise InvalidArgument(str(exc)) from None


@dataclass
class Claimed:
    """What `claim_rows` committed and `render` needs (read in the claim's transaction)."""

    wave: SendWave
    template: Template
    campaign_name: str
    slug: str
    rows: list[Any]
    contacts: dict[str, ProjectedContact]
    wave_links: list[str] | None  # None: the wave's links are not known yet (its first mail saves them)
    now: datetime


@dataclass
class Rendered:
    """`render`'s result: the mails, and what `settle` records before any of them leaves."""

    mails: list[Outgoing] = field(default_factory=list)
    failed: list[tuple[int, str, str, str]] = field(default_factory=list)  # RENDER_FAILED skips
    wave_links: list[str] = field(default_factory=list)  # to save as the wave's (its first mail's)
    row_links: list[tuple[int, list[str]]] = field(default_factory=list)  # mails with links of their own
    on_wave_links: list[int] = field(default_factory=list)  # mails whose links are `wave_links`

    @property
    def unsettled(self) -> bool:
        return bool(self.failed or self.wave_links or self.row_links)


def claim(uow: UnitOfWork, *, wave_id: str, worker: str, now: datetime, limit: int, lease: timedelta,
          links: tracking.LinkMaker, skip_locked: bool = False, part: tuple[int, int] = (0, 1)) -> Claim:
    """`claim_rows`, `render` and `settle` in the caller's one transaction."""
    result, claimed = claim_rows(uow, wave_id=wave_id, worker=worker, now=now, limit=limit, lease=lease,
                                 skip_locked=skip_locked, part=part)
    if claimed is not None:
        rendered = render(claimed, links)
        settle(uow, result, claimed, rendered)
    return result


def claim_rows(uow: UnitOfWork, *, wave_id: str, worker: str, now: datetime, limit: int, lease: timedelta,
               skip_locked: bool = False, part: tuple[int, int] = (0, 1)) -> tuple[Claim, Claimed | None]:
    """The claim's transaction: the next rows checked again and marked `sending` with this worker's
    claim and their deterministic Message-ID, and what rendering them needs. Rendering (the CPU of a
    wave) is `render`, outside the transaction: the sender's send-log commits do not wait for it.
    `part` (i, n): the rows of the wave's slice i of n only (MARKETING_SEND_WORKERS); the wave
    completes once every slice is done, whichever worker finds it so."""
    session = uow.session
    result = Claim(wave_id)
    batch = waves.open_batch(uow, wave_id=wave_id, now=now, complete=_complete,
                             claimable=lambda s: sending.claimable(s, wave_id, now, limit, skip_locked=skip_locked,
                                                                   part=part))
    wave, rows = batch.wave, batch.rows
    if wave is None or not rows:
        result.finished = batch.finished  # not finished: other workers hold live claims
        return result, None
    handed = [row for row in rows if row.status == "sending" and row.sent_at is not None]
    if handed:  # a dead worker's: past the send log's commit, the end of data went out
        confirmed = [(row.seq, aware(row.sent_at)) for row in handed]
        sending.mark_sent(session, confirmed)
        _sent_events(uow, confirmed)
        result.confirmed = len(confirmed)
        rows = [row for row in rows if row.sent_at is None]
        if not rows:
            return result, None
    template = sending.wave_template(session, wave_id)
    domain = domain_of(wave.sender)
    campaign = records.load_campaign(session, wave.campaign_id)
    campaign_name, slug = (campaign.name, campaign.slug) if campaign else ("", wave.campaign_id[:8])
    ids = [row.contact_id for row in rows]
    contacts = projection.load(session, ids)
    reach = projection.reachability(session, ids, wave.purpose, known=contacts)
    wave_links: list[str] | None = sending.links_of_wave(session, wave_id) or None
    skips: list[tuple[int, str, str, str]] = []
    claimed: dict[int, str] = {}
    kept = []
    for row in rows:
        reason = skip_reason(reach.get(row.contact_id), wave.purpose)  # duplicates were skipped at freeze
        if reason or row.contact_id not in contacts:
            skips.append((row.seq, "skipped", reason or "unknown_contact", ""))
            continue
        claimed[row.seq] = make_message_id(wave.id, row.contact_id, domain=domain)
        kept.append(row)
    sending.mark(session, skips)
    if claimed:
        sending.claim(session, list(claimed), worker, now + lease, claimed)
    for _, _, reason, _ in skips:
        result.skipped[reason] = result.skipped.get(reason, 0) + 1
    if not kept:
        return result, None
    return result, Claimed(wave, template, campaign_name, slug, kept, contacts, wave_links, now)


def render(claimed: Claimed, links: tracking.LinkMaker) -> Rendered:
    """Each claimed recipient's mail (no database: outside any transaction)."""
    wave, now = claimed.wave, claimed.now
    domain = domain_of(wave.sender)
    mime = WaveMime(wave.sender, {"List-Unsubscribe-Post": ONE_CLICK, "Precedence": "bulk"})
    out = Rendered()
    wave_links = claimed.wave_links
    for row in claimed.rows:
        contact = claimed.contacts[row.contact_id]
        try:
            mail, mail_links = compose(wave, claimed.template, contact, seq=row.seq, email=row.email,
                                       language=row.language, campaign_name=claimed.campaign_name,
                                       slug=claimed.slug, links=links, domain=domain)
            data = _data(mime, mail, contact.name, row.email, now)
        except InvalidArgument as exc:
            out.failed.append((row.seq, "skipped", RENDER_FAILED, exc.message))
            continue
        if wave_links is None:
            wave_links = out.wave_links = mail_links
        if mail_links != wave_links:  # merge fields in links: this mail's own list
            out.row_links.append((row.seq, mail_links))
        elif out.wave_links:
            out.on_wave_links.append(row.seq)
        out.mails.append(Outgoing(row.seq, row.contact_id, mail, retry=row.status == "sending", data=data,
                                  address=row.email, envelope_from=mime.envelope_from))
    return out


def settle(uow: UnitOfWork, result: Claim, claimed: Claimed, rendered: Rendered) -> None:
    """What rendering found, recorded before any of the mails leaves (a click resolves its link
    from what is saved here); the mails join `result`."""
    session = uow.session
    if rendered.wave_links:
        saved = sending.links_of_wave(session, claimed.wave.id)  # another worker's first mail may have won
        if not saved:
            sending.save_wave_links(session, claimed.wave.id, rendered.wave_links)
        elif saved != rendered.wave_links:
            for seq in rendered.on_wave_links:
                sending.set_links(session, seq, rendered.wave_links)
    for seq, mail_links in rendered.row_links:
        sending.set_links(session, seq, mail_links)
    sending.mark(session, rendered.failed)
    for _, _, reason, _ in rendered.failed:
        result.skipped[reason] = result.skipped.get(reason, 0) + 1
    result.mails.extend(rendered.mails)


@dataclass(frozen=True)
class SentMail:
    """A recipient row as its email.sent event needs it."""

    wave_id: str
    contact_id: str
    email: str
    message_id: str

    @classmethod
    def of(cls, wave_id: str, item: Outgoing) -> SentMail:
        return cls(wave_id, item.contact_id, item.address, item.mail.message_id)


@dataclass
class Outcomes:
    sent: list[tuple[int, datetime]] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)     # seq, email, error
    bounced: set[int] = field(default_factory=set)                      # failed seqs whose address is refused
    released: list[tuple[int, str]] = field(default_factory=list)       # seq, error: back to pending
    # What the sender knows of mails in `sent`: their email.sent events are written without reading the rows.
    known: dict[int, SentMail] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sent) + len(self.failed) + len(self.released)


def handed(uow: UnitOfWork, *, seqs: list[int], now: datetime) -> None:
    """The send log's commit before the end of data goes out: these rows are past the point of
    no return (a restart records them as sent, never mails them again)."""
    sending.mark_handed(uow.session, seqs, now)


def record(uow: UnitOfWork, *, outcomes: Outcomes, now: datetime,
           waves_seen: dict[str, SendWave | None] | None = None) -> None:
    """`waves_seen`: the caller's cache of the waves its mails belong to (their id, campaign,
    purpose, variant and kind, which never change), so a round reads none of them again."""
    session = uow.session
    sending.mark_sent(session, outcomes.sent)
    _sent_events(uow, outcomes.sent, outcomes.known, {} if waves_seen is None else waves_seen)
    sending.mark(session, [(seq, "failed", "", error) for seq, _, error in outcomes.failed]
                 + [(seq, "pending", "", error) for seq, error in outcomes.released])
    for seq, email, error in outcomes.failed:
        if seq in outcomes.bounced and email:
            projection.add_suppression(session, email.lower(), "bounced", error, now)


def engagement_event(wave: SendWave, contact_id: str, email: str, at: datetime, **extra: Any) -> ev.EmailEngagement:
    """One recipient's mail as reporting and scoring read it: wave, campaign, channel, variant."""
    event = ev.EmailEngagement(wave_id=wave.id, campaign_id=wave.campaign_id, contact_id=contact_id, email=email,
                               purpose=wave.purpose, channel="email", variant=wave.variant, wave_kind=wave.kind,
                               source_id=wave.source_id, **extra)
    event.at.FromDatetime(at)
    return event


def _sent_events(uow: UnitOfWork, sent: list[tuple[int, datetime]], known: dict[int, SentMail] | None = None,
                 loaded: dict[str, SendWave | None] | None = None) -> None:
    """crm.marketing.email.sent for each mail the relay took (reporting's denominators)."""
    if not sent:
        return
    mails = dict(known or {})
    unknown = [seq for seq, _ in sent if seq not in mails]
    if unknown:
        mails.update((seq, SentMail(row.wave_id, row.contact_id, row.email, row.message_id))
                     for seq, row in sending.sent_rows(uow.session, unknown).items())
    shredding.key_for_records(uow.session, "marketing", "contact",
                              [mails[seq].contact_id for seq, _ in sent if seq in mails])
    loaded = {} if loaded is None else loaded
    for seq, at in sent:
        mail = mails.get(seq)
        if mail is None:
            continue
        if mail.wave_id not in loaded:
            loaded[mail.wave_id] = sending.load_wave(uow.session, mail.wave_id)
        wave = loaded[mail.wave_id]
        if wave is not None:
            emit(uow, SYSTEM, MARKETING.EMAIL_SENT, f"{wave.id}/{mail.contact_id}", 1,
                 engagement_event(wave, mail.contact_id, mail.email, at, message_id=mail.message_id), at)


def _complete(uow: UnitOfWork, wave: SendWave, now: datetime) -> None:
    wave.status = "completed"
    wave.completed_at.FromDatetime(now)
    bump(wave, now)
    sending.save_wave(uow.session, wave)
    wave.counts.CopyFrom(sending.counts(uow.session, [wave.id]))
    emit(uow, SYSTEM, MARKETING.WAVE_COMPLETED, wave.id, wave.version, ev.WaveChanged(wave=wave, channel="email"), now)


def recipient_links(row_links: str | None, wave_links: list[str]) -> list[str]:
    return json.loads(row_links) if row_links else wave_links
