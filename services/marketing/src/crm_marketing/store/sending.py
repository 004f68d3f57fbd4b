"""Send waves, their recipients (the frozen list and the send log), their links, and the consent
jobs owed to contacts. The sender's statements are built once (bindparam), it runs them by the
hundred per second."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Row, any_, bindparam, exists, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from crm.marketing.v1.marketing_pb2 import EmailCounts, Recipient, SendWave, Template
from crm_marketing.tables import consent_jobs, recipients, wave_links, waves
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.records import aware
from crmkit.runtime_tables import Ts

r = recipients.c
# A round's rows in one statement each (not one per row: on PostgreSQL each is a round of the
# server's parse, plan and execute).
_MARK_SENT = update(recipients).where(r.seq.in_(bindparam("b_seqs", expanding=True))).values(
    status="sent", sent_at=bindparam("b_at"), claimed_by="", claimed_until=None, error="")
_MARK = update(recipients).where(r.seq == bindparam("b_seq")).values(
    status=bindparam("b_status"), skip_reason=bindparam("b_reason"), error=bindparam("b_error"), claimed_by="",
    claimed_until=None, sent_at=None)
# Past the send log's commit point (still `sending`, sent_at set): the end of data goes out next.
_MARK_HANDED = update(recipients).where(r.seq.in_(bindparam("b_seqs", expanding=True)), r.status == "sending").values(
    sent_at=bindparam("b_at"))
# PostgreSQL: the seqs as one array parameter (`= ANY`): one statement text whatever their number, so
# the driver prepares it once, and no IN list expanded on every execution.
_SEQS_PG = bindparam("b_seqs", type_=postgresql.ARRAY(BigInteger))
_MARK_SENT_PG = update(recipients).where(r.seq == any_(_SEQS_PG)).values(
    status="sent", sent_at=bindparam("b_at"), claimed_by="", claimed_until=None, error="")
_MARK_HANDED_PG = update(recipients).where(r.seq == any_(_SEQS_PG), r.status == "sending").values(
    sent_at=bindparam("b_at"))
_CLAIM = update(recipients).where(r.seq == bindparam("b_seq")).values(
    status="sending", claimed_by=bindparam("b_worker"), claimed_until=bindparam("b_until"), attempts=r.attempts + 1,
    message_id=bindparam("b_mid"))
# PostgreSQL: a batch's claim as one statement, each row's Message-ID paired with its seq by unnest.
_CLAIM_PG = text(
    "UPDATE recipients SET status = 'sending', claimed_by = :worker, claimed_until = :until, "
    "attempts = recipients.attempts + 1, message_id = v.mid "
    "FROM unnest(CAST(:seqs AS bigint[]), CAST(:mids AS varchar[])) AS v(seq, mid) WHERE recipients.seq = v.seq"
).bindparams(bindparam("until", type_=Ts))
_IN_ONE = 500  # seqs per IN list

# Waves that recipients join one at a time (a sequence step's, a rule's): never completed by the sender.
CONTINUOUS = frozenset({"sequence", "rule"})

# -- waves


def save_wave(session: Session, wave: SendWave, template: Template | None = None) -> None:
    stored = SendWave()
    stored.CopyFrom(wave)
    stored.ClearField("counts")  # counted from the recipients on every read
    values: dict[str, Any] = dict(status=wave.status, version=wave.version, data=stored.SerializeToString())
    if template is not None:
        session.execute(insert(waves).values(id=wave.id, campaign_id=wave.campaign_id,
                                             template=template.SerializeToString(), channel=wave.channel or "email",
                                             continuous=int(wave.kind in CONTINUOUS), **values))
    else:
        session.execute(update(waves).where(waves.c.id == wave.id).values(**values))


def load_wave(session: Session, wave_id: str, *, for_update: bool = False) -> SendWave | None:
    stmt = select(waves.c.data).where(waves.c.id == wave_id)
    if for_update:
        stmt = stmt.with_for_update()
    data = session.execute(stmt).scalar_one_or_none()
    return None if data is None else SendWave.FromString(data)


def wave_template(session: Session, wave_id: str) -> Template:
    return Template.FromString(session.execute(select(waves.c.template).where(waves.c.id == wave_id)).scalar_one())


def list_waves(session: Session, campaign_id: str, requested: int, page_token: str) -> tuple[list[SendWave], str]:
    size = page_size(requested)
    stmt = select(waves.c.data, waves.c.seq).where(waves.c.campaign_id == campaign_id)
    if page_token:
        stmt = stmt.where(waves.c.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(waves.c.seq.desc()).limit(size + 1)).all()
    return [SendWave.FromString(x.data) for x in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def wave_ids_of(session: Session, campaign_id: str, channel: str | None = None) -> list[str]:
    """The campaign's waves (of one channel when given)."""
    stmt = select(waves.c.id).where(waves.c.campaign_id == campaign_id)
    if channel is not None:
        stmt = stmt.where(waves.c.channel == channel)
    return list(session.execute(stmt).scalars())


def sending_waves(session: Session, now: datetime, channel: str = "email") -> list[str]:
    """Waves of the channel with messages to send: every wave that is sending (the sender
    completes it), and the continuous ones only while a recipient waits in them."""
    waiting = exists(select(r.seq).where(r.wave_id == waves.c.id, or_(
        r.status == "pending", (r.status == "sending") & (r.claimed_until < now))))
    stmt = select(waves.c.id).where(waves.c.status == "sending", waves.c.channel == channel,
                                    or_(waves.c.continuous == 0, waiting))
    return list(session.execute(stmt.order_by(waves.c.seq)).scalars())


# -- recipients


def has_recipient(session: Session, wave_id: str, contact_id: str) -> bool:
    return session.execute(select(r.seq).where(r.wave_id == wave_id, r.contact_id == contact_id)).first() is not None


def mailed(session: Session, wave_id: str) -> list[str]:
    """The contacts a wave mailed."""
    return list(session.execute(select(r.contact_id).where(r.wave_id == wave_id, r.status == "sent")
                                .order_by(r.seq)).scalars())


def insert_recipients(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for i in range(0, len(rows), 1000):
        session.execute(insert(recipients), list(rows[i:i + 1000]))


def counts(session: Session, wave_ids: Sequence[str]) -> EmailCounts:
    result = EmailCounts()
    if not wave_ids:
        return result
    in_waves = r.wave_id.in_(list(wave_ids))
    for status, reason, n in session.execute(select(r.status, r.skip_reason, func.count()).where(in_waves)
                                             .group_by(r.status, r.skip_reason)):
        n = int(n)
        result.recipients += n
        if status in ("pending", "sending"):
            result.pending += n
        elif status == "sent":
            result.delivered += n
        elif status == "failed":
            result.failed += n
        elif status == "skipped":
            result.skipped[reason] = result.skipped[reason] + n
    opened, clicked, unsubscribed = session.execute(select(
        func.count(r.opened_at), func.count(r.clicked_at), func.count(r.unsubscribed_at)).where(in_waves)).one()
    result.sent = result.delivered + result.failed
    result.opened, result.clicked, result.unsubscribed = int(opened), int(clicked), int(unsubscribed)
    if result.delivered:
        result.open_rate = round(result.opened / result.delivered, 4)
        result.click_rate = round(result.clicked / result.delivered, 4)
    return result


_CLAIM_COLUMNS = (r.seq, r.contact_id, r.email, r.language, r.status, r.message_id, r.attempts, r.sent_at)


def claimable(session: Session, wave_id: str, now: datetime, limit: int, *, skip_locked: bool,
              part: tuple[int, int] = (0, 1)) -> list[Row[Any]]:
    """Those whose claim expired (their worker died mid-send) first, then pending recipients in
    order, row-locked. Two statements that each walk ix_recipients_status from where the wave is,
    not one OR that sorts every pending row of the wave on each claim (quadratic over a wave).
    `part` (i, n): only the wave's slice i of n (seq modulo n), one sender worker's share."""
    index, parts = part
    in_part = (r.seq % parts == index) if parts > 1 else None
    expired = select(*_CLAIM_COLUMNS).where(r.wave_id == wave_id, r.status == "sending",
                                            r.claimed_until < now).order_by(r.seq).limit(limit)
    if in_part is not None:
        expired = expired.where(in_part)
    rows = list(session.execute(expired.with_for_update(skip_locked=skip_locked)).all())
    if len(rows) < limit:
        pending = select(*_CLAIM_COLUMNS).where(r.wave_id == wave_id, r.status == "pending").order_by(r.seq)
        if in_part is not None:
            pending = pending.where(in_part)
        rows += session.execute(pending.limit(limit - len(rows)).with_for_update(skip_locked=skip_locked)).all()
    return rows


def claim(session: Session, seqs: Sequence[int], worker: str, until: datetime, message_ids: dict[int, str]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_CLAIM_PG, {"worker": worker, "until": until, "seqs": list(seqs),
                                    "mids": [message_ids[s] for s in seqs]})
        return
    session.execute(_CLAIM, [{"b_seq": s, "b_mid": message_ids[s], "b_worker": worker, "b_until": until}
                             for s in seqs])


def mark_sent(session: Session, outcomes: Sequence[tuple[int, datetime]]) -> None:
    """(seq, sent at): one statement per distinct time (a round's mails share theirs)."""
    by_time: dict[datetime, list[int]] = {}
    for seq, at in outcomes:
        by_time.setdefault(at, []).append(seq)
    _by_seqs(session, _MARK_SENT_PG, _MARK_SENT, by_time.items())


def mark_handed(session: Session, seqs: Sequence[int], at: datetime) -> None:
    _by_seqs(session, _MARK_HANDED_PG, _MARK_HANDED, [(at, seqs)])


def _by_seqs(session: Session, on_pg: Any, elsewhere: Any, groups: Iterable[tuple[datetime, Sequence[int]]]) -> None:
    pg = session.get_bind().dialect.name == "postgresql"
    for at, seqs in groups:
        if pg and seqs:
            session.execute(on_pg, {"b_seqs": list(seqs), "b_at": at})
            continue
        for i in range(0, len(seqs), _IN_ONE):
            session.execute(elsewhere, {"b_seqs": list(seqs[i:i + _IN_ONE]), "b_at": at})


def sent_rows(session: Session, seqs: Sequence[int]) -> dict[int, Row[Any]]:
    found: dict[int, Row[Any]] = {}
    for i in range(0, len(seqs), 500):
        for row in session.execute(select(r.seq, r.wave_id, r.contact_id, r.email, r.message_id).where(
                r.seq.in_(list(seqs[i:i + 500])))):
            found[row.seq] = row
    return found


def mark(session: Session, rows: Sequence[tuple[int, str, str, str]]) -> None:
    """(seq, status, skip_reason, error) for recipients leaving `sending` other than as sent."""
    if rows:
        session.execute(_MARK, [{"b_seq": s, "b_status": st, "b_reason": why, "b_error": err[:2000]}
                                for s, st, why, err in rows])


def unfinished(session: Session, wave_id: str) -> int:
    return int(session.execute(select(func.count()).where(
        r.wave_id == wave_id, r.status.in_(("pending", "sending")))).scalar_one())


def cancel_pending(session: Session, wave_id: str) -> None:
    session.execute(update(recipients).where(r.wave_id == wave_id, r.status == "pending").values(
        status="skipped", skip_reason="cancelled"))


def by_seq(session: Session, seq: int, *, for_update: bool = False) -> Row[Any] | None:
    stmt = select(recipients).where(r.seq == seq)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).first()


def set_links(session: Session, seq: int, links: list[str]) -> None:
    session.execute(update(recipients).where(r.seq == seq).values(links=json.dumps(links)))


def touch(session: Session, seq: int, **values: Any) -> None:
    session.execute(update(recipients).where(r.seq == seq).values(**values))


def to_message(row: Row[Any]) -> Recipient:
    out = Recipient(wave_id=row.wave_id, contact_id=row.contact_id, email=row.email, language=row.language,
                    status=row.status, skip_reason=row.skip_reason, message_id=row.message_id, error=row.error,
                    attempts=row.attempts, open_count=row.open_count, click_count=row.click_count,
                    phone=row.phone, provider_id=row.provider_id)
    for name in ("sent_at", "opened_at", "clicked_at", "unsubscribed_at", "delivered_at"):
        value = getattr(row, name)
        if value is not None:
            getattr(out, name).FromDatetime(aware(value))
    return out


def list_recipients(session: Session, wave_id: str, status: str, reason: str, requested: int,
                    page_token: str) -> tuple[list[Recipient], str]:
    size = page_size(requested)
    stmt = select(recipients).where(r.wave_id == wave_id)
    if status:
        stmt = stmt.where(r.status == status)
    if reason:
        stmt = stmt.where(r.skip_reason == reason)
    if page_token:
        stmt = stmt.where(r.seq > decode_cursor(page_token))
    rows = session.execute(stmt.order_by(r.seq).limit(size + 1)).all()
    return [to_message(x) for x in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


# -- links


def links_of_wave(session: Session, wave_id: str) -> list[str]:
    return list(session.execute(select(wave_links.c.url).where(wave_links.c.wave_id == wave_id)
                                .order_by(wave_links.c.idx)).scalars())


def save_wave_links(session: Session, wave_id: str, links: list[str]) -> None:
    if links:
        session.execute(insert(wave_links), [{"wave_id": wave_id, "idx": i, "url": u} for i, u in enumerate(links)])


# -- consent jobs


def add_consent_job(session: Session, *, key: str, contact_id: str, purpose: str, granted: bool, source: str,
                    evidence: str, at: datetime) -> None:
    if session.execute(select(consent_jobs.c.seq).where(consent_jobs.c.key == key)).first() is None:
        session.execute(insert(consent_jobs).values(key=key, contact_id=contact_id, purpose=purpose,
                                                    granted=int(granted), source=source, evidence=evidence, at=at,
                                                    next_attempt_at=at))


def due_consent_jobs(session: Session, now: datetime, limit: int) -> list[Row[Any]]:
    return list(session.execute(select(consent_jobs).where(
        consent_jobs.c.done_at.is_(None), consent_jobs.c.next_attempt_at <= now,
    ).order_by(consent_jobs.c.next_attempt_at, consent_jobs.c.seq).limit(limit)).all())


def finish_consent_job(session: Session, seq: int, *, done_at: datetime | None, next_attempt_at: datetime | None,
                       error: str) -> None:
    values: dict[str, Any] = {"attempts": consent_jobs.c.attempts + 1, "last_error": error[:2000]}
    if done_at is not None:
        values["done_at"] = done_at
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    session.execute(update(consent_jobs).where(consent_jobs.c.seq == seq).values(**values))


def open_consent_jobs(session: Session) -> int:
    return int(session.execute(select(func.count()).where(consent_jobs.c.done_at.is_(None))).scalar_one())
