"""Touches (what contacts and not-yet-known visitors did), visitors, each contact's engagement
score, and the leads owed to sales for qualified contacts."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_marketing.tables import engagement, lead_handoffs, touches, visitors
from crmkit.records import aware

t = touches.c
_INSERT_TOUCH = insert(touches)


@dataclass(frozen=True)
class TouchRow:
    kind: str
    url: str
    campaign_id: str
    ref: str
    at: datetime


def add_touch(session: Session, *, contact_id: str, visitor_id: str, kind: str, url: str, campaign_id: str,
              ref: str, at: datetime) -> None:
    session.execute(_INSERT_TOUCH, {"contact_id": contact_id, "visitor_id": visitor_id[:64], "kind": kind[:100],
                                    "url": url[:2000], "campaign_id": campaign_id, "ref": ref[:100], "at": at})


def touches_of(session: Session, contact_id: str, *, since: datetime | None = None,
               kinds: Sequence[str] = (), limit: int = 5000) -> list[TouchRow]:
    """The contact's touches, newest first."""
    stmt = select(t.kind, t.url, t.campaign_id, t.ref, t.at).where(t.contact_id == contact_id)
    if since is not None:
        stmt = stmt.where(t.at >= since)
    if kinds:
        stmt = stmt.where(t.kind.in_(list(kinds)))
    rows = session.execute(stmt.order_by(t.at.desc(), t.seq.desc()).limit(limit)).all()
    return [TouchRow(r.kind, r.url, r.campaign_id, r.ref, aware(r.at)) for r in rows]


def attach_visitor(session: Session, visitor_id: str, contact_id: str) -> int:
    """A visitor's anonymous touches become the contact's; how many did."""
    done = session.execute(update(touches).where(t.visitor_id == visitor_id, t.contact_id == "")
                           .values(contact_id=contact_id))
    return int(done.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult


def attach_ref(session: Session, ref: str, contact_id: str) -> int:
    done = session.execute(update(touches).where(t.ref == ref, t.contact_id == "").values(contact_id=contact_id))
    return int(done.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult


# -- visitors


def visitor_contact(session: Session, visitor_id: str) -> str | None:
    """"" for a visitor not tied to a contact yet, None for one never seen."""
    found = session.execute(select(visitors.c.contact_id).where(visitors.c.visitor_id == visitor_id)).first()
    return None if found is None else str(found.contact_id)


def save_visitor(session: Session, visitor_id: str, *, contact_id: str, site_key: str, now: datetime) -> None:
    done = session.execute(update(visitors).where(visitors.c.visitor_id == visitor_id).values(
        last_seen=now, **({"contact_id": contact_id} if contact_id else {})))
    if done.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        session.execute(insert(visitors).values(visitor_id=visitor_id, contact_id=contact_id, site_key=site_key,
                                                first_seen=now, last_seen=now))


def recent_visits(session: Session, visitor_id: str, since: datetime) -> int:
    return int(session.execute(select(func.count()).where(t.visitor_id == visitor_id, t.at >= since)).scalar_one())


# -- the engagement score


def engagement_of(session: Session, contact_id: str, *, for_update: bool = False) -> Row[Any] | None:
    stmt = select(engagement).where(engagement.c.contact_id == contact_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).first()


def _upsert(session: Session, contact_id: str, values: dict[str, Any], now: datetime) -> None:
    """Update the contact's row, or insert it; a concurrent insert of the same contact (two
    touches at once) turns into the update."""
    done = session.execute(update(engagement).where(engagement.c.contact_id == contact_id).values(**values))
    if done.rowcount:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        return
    row = {"score": 0.0, "computed_at": now, "lead_id": "", "handoff_status": "", **values}
    try:
        with session.begin_nested():
            session.execute(insert(engagement).values(contact_id=contact_id, **row))
    except IntegrityError:
        session.execute(update(engagement).where(engagement.c.contact_id == contact_id).values(**values))


def save_score(session: Session, contact_id: str, score: float, now: datetime, *,
               qualified: bool = False, handoff_status: str | None = None) -> None:
    values: dict[str, Any] = {"score": score, "computed_at": now}
    if qualified:
        values["qualified_at"] = now
    if handoff_status is not None:
        values["handoff_status"] = handoff_status
    _upsert(session, contact_id, values, now)


def note_lead(session: Session, contact_id: str, lead_id: str, now: datetime, *, status: str = "") -> None:
    """Sales has a lead for this contact (a form's, or its hand-off): a later qualification hands
    over nothing more."""
    values: dict[str, Any] = {}
    if lead_id:
        values["lead_id"] = lead_id
    if status:
        values["handoff_status"] = status
    if values:
        _upsert(session, contact_id, values, now)


# -- hand-offs


def add_handoff(session: Session, *, key: str, contact_id: str, campaign_id: str, score: float, lead: bytes,
                now: datetime) -> None:
    if session.execute(select(lead_handoffs.c.seq).where(lead_handoffs.c.key == key)).first() is None:
        session.execute(insert(lead_handoffs).values(key=key, contact_id=contact_id, campaign_id=campaign_id,
                                                     score=score, status="pending", next_attempt_at=now, lead=lead))


def due_handoffs(session: Session, now: datetime, limit: int) -> list[Row[Any]]:
    return list(session.execute(select(lead_handoffs).where(
        lead_handoffs.c.status == "pending", lead_handoffs.c.next_attempt_at <= now,
    ).order_by(lead_handoffs.c.next_attempt_at, lead_handoffs.c.seq).limit(limit)).all())


_FINISH = update(lead_handoffs).where(lead_handoffs.c.seq == bindparam("b_seq"),
                                      lead_handoffs.c.status == "pending")


def finish_handoff(session: Session, seq: int, *, status: str, lead_id: str, now: datetime, error: str = "") -> bool:
    """False when another replica finished it first."""
    done = session.execute(_FINISH.values(status=status, lead_id=lead_id, done_at=now, last_error=error[:2000],
                                          attempts=lead_handoffs.c.attempts + 1), {"b_seq": seq})
    return bool(done.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult


def retry_handoff(session: Session, seq: int, next_attempt_at: datetime, error: str) -> None:
    session.execute(_FINISH.values(next_attempt_at=next_attempt_at, last_error=error[:2000],
                                   attempts=lead_handoffs.c.attempts + 1), {"b_seq": seq})
