"""The SMS side of the send log (recipients of sms waves: claim, accepted, receipts), their
counts, and the replies people sent us."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from crm.marketing.v1.marketing_pb2 import SmsCounts, SmsReplyRecord
from crm_marketing.tables import recipients, sms_replies, unsubscribes, waves
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.records import aware

r = recipients.c
OUT_PREFIX = "m"  # out_id of a wave's SMS: "m<recipient seq>", what the receipt echoes back
_COLUMNS = (r.seq, r.wave_id, r.contact_id, r.phone, r.status, r.attempts, r.sent_at)
_ACCEPTED = update(recipients).where(r.seq == bindparam("b_seq")).values(
    status="sent", sent_at=bindparam("b_at"), provider_id=bindparam("b_pid"), claimed_by="", claimed_until=None,
    error="")


def out_id(seq: int) -> str:
    return f"{OUT_PREFIX}{seq}"


def seq_of(value: str) -> int | None:
    if value.startswith(OUT_PREFIX) and value[len(OUT_PREFIX):].isdigit():
        return int(value[len(OUT_PREFIX):])
    return None


def claimable(session: Session, wave_id: str, now: datetime, limit: int, *, skip_locked: bool) -> list[Row[Any]]:
    """Rows whose claim expired (their sender died) first, then pending ones, row-locked."""
    expired = select(*_COLUMNS).where(r.wave_id == wave_id, r.status == "sending", r.claimed_until < now)
    rows = list(session.execute(expired.order_by(r.seq).limit(limit).with_for_update(skip_locked=skip_locked)).all())
    if len(rows) < limit:
        pending = select(*_COLUMNS).where(r.wave_id == wave_id, r.status == "pending").order_by(r.seq)
        rows += session.execute(pending.limit(limit - len(rows)).with_for_update(skip_locked=skip_locked)).all()
    return rows


def claim(session: Session, seqs: Sequence[int], worker: str, until: datetime) -> None:
    if seqs:
        session.execute(update(recipients).where(r.seq == bindparam("b_seq")).values(
            status="sending", claimed_by=worker, claimed_until=until, attempts=r.attempts + 1,
            message_id=bindparam("b_mid")), [{"b_seq": s, "b_mid": out_id(s)} for s in seqs])


def accepted(session: Session, rows: Sequence[tuple[int, str, datetime]]) -> None:
    """(seq, provider id, at) of messages the provider took."""
    if rows:
        session.execute(_ACCEPTED, [{"b_seq": s, "b_pid": pid, "b_at": at} for s, pid, at in rows])


def retry_later(session: Session, rows: Sequence[tuple[int, str, datetime]]) -> None:
    """(seq, error, not before): kept `sending` with a claim nobody holds that expires then, so
    the next claim after that time takes it again."""
    if rows:
        session.execute(update(recipients).where(r.seq == bindparam("b_seq")).values(
            claimed_by="", claimed_until=bindparam("b_until"), error=bindparam("b_error")),
            [{"b_seq": s, "b_until": until, "b_error": err[:2000]} for s, err, until in rows])


def recipient(session: Session, seq: int) -> Row[Any] | None:
    return session.execute(select(recipients).where(r.seq == seq).with_for_update()).first()


def by_provider_id(session: Session, provider_id: str) -> Row[Any] | None:
    return session.execute(select(recipients).where(r.provider_id == provider_id).limit(1)).first()


def wave_channel(session: Session, wave_id: str) -> str:
    return str(session.execute(select(waves.c.channel).where(waves.c.id == wave_id)).scalar_one_or_none() or "")


def delivered(session: Session, seq: int, at: datetime) -> None:
    session.execute(update(recipients).where(r.seq == seq).values(delivered_at=at))


def undelivered(session: Session, seq: int, error: str) -> None:
    """The receipt says the carrier did not deliver it: failed, with the carrier's code."""
    session.execute(update(recipients).where(r.seq == seq).values(status="failed", error=error[:2000],
                                                                  delivered_at=None))


def counts(session: Session, wave_ids: Sequence[str], purpose: str = "marketing_sms") -> SmsCounts:
    out = SmsCounts()
    if not wave_ids:
        return out
    in_waves = r.wave_id.in_(list(wave_ids))
    for status, reason, n in session.execute(select(r.status, r.skip_reason, func.count()).where(in_waves)
                                             .group_by(r.status, r.skip_reason)):
        n = int(n)
        out.recipients += n
        if status in ("pending", "sending"):
            out.pending += n
        elif status == "failed":
            out.failed += n
        elif status == "skipped":
            out.skipped[reason] = out.skipped[reason] + n
    taken, arrived = session.execute(select(func.count(r.provider_id).filter(r.provider_id != ""),
                                            func.count(r.delivered_at)).where(in_waves)).one()
    out.sent, out.delivered = int(taken), int(arrived)
    # Recipients who opted out after their message was sent.
    out.opted_out = int(session.execute(select(func.count()).select_from(recipients).join(
        unsubscribes, (unsubscribes.c.contact_id == r.contact_id) & (unsubscribes.c.purpose == purpose)).where(
        in_waves, r.sent_at.is_not(None), unsubscribes.c.at >= r.sent_at)).scalar_one())
    return out


# -- replies

def add_reply(session: Session, *, phone: str, content: str, opt_out: bool, contact_ids: Sequence[str],
              sign_name: str, sent_at: str, at: datetime) -> None:
    session.execute(insert(sms_replies).values(phone=phone, content=content, opt_out=int(opt_out),
                                               contact_ids=json.dumps(list(contact_ids)), sign_name=sign_name,
                                               sent_at=sent_at, received_at=at))


def list_replies(session: Session, phone: str, requested: int, page_token: str) -> tuple[list[SmsReplyRecord], str]:
    size = page_size(requested)
    stmt = select(sms_replies)
    if phone:
        stmt = stmt.where(sms_replies.c.phone == phone)
    if page_token:
        stmt = stmt.where(sms_replies.c.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(sms_replies.c.seq.desc()).limit(size + 1)).all()
    out = []
    for row in rows[:size]:
        item = SmsReplyRecord(phone=row.phone, content=row.content, opt_out=bool(row.opt_out),
                              contact_ids=json.loads(row.contact_ids))
        item.received_at.FromDatetime(aware(row.received_at))
        out.append(item)
    return out, encode_cursor(rows[size - 1].seq) if len(rows) > size else ""
