"""The sales team: reps, round-robin positions, delegations, and the reminders they receive."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import Delegation, Reminder, SalesRep
from crm_sales.store import changed
from crm_sales.tables import assignment_cursors, delegations, reminders, reps
from crmkit.paging import MAX_PAGE, bad_token, decode_key, encode_key, page_size
from crmkit.records import aware, dt

# Read on every new lead or stage change.
_ALL_REPS = select(reps.c.data)
_CURSORS = select(assignment_cursors.c.rule_id, assignment_cursors.c.last_user_id)
_SET_CURSOR = update(assignment_cursors).where(assignment_cursors.c.rule_id == bindparam("rule"))
_INSERT_CURSOR = insert(assignment_cursors)
_ACTIVE_DELEGATORS = select(delegations.c.from_user_id).where(
    delegations.c.to_user_id == bindparam("user_id"), delegations.c.revoked.is_(False),
    delegations.c.starts_at <= bindparam("now"), delegations.c.ends_at > bindparam("now"))


def save_rep(session: Session, rep: SalesRep) -> None:
    values = dict(user_id=rep.user_id, team=rep.team, region=rep.region, active=rep.active,
                  data=rep.SerializeToString())
    if session.execute(select(reps.c.user_id).where(reps.c.user_id == rep.user_id)).first():
        session.execute(update(reps).where(reps.c.user_id == rep.user_id).values(**values))
    else:
        session.execute(insert(reps).values(**values))


def all_reps(session: Session) -> dict[str, SalesRep]:
    return {r.user_id: r for r in (SalesRep.FromString(d) for d in session.execute(_ALL_REPS).scalars())}


def cursors(session: Session) -> dict[str, str]:
    return {row.rule_id: row.last_user_id for row in session.execute(_CURSORS)}


def set_cursor(session: Session, rule_id: str, user_id: str) -> None:
    if not changed(session, _SET_CURSOR, {"rule": rule_id, "last_user_id": user_id}):
        session.execute(_INSERT_CURSOR, {"rule_id": rule_id, "last_user_id": user_id})


# -- reminders

def insert_reminder(session: Session, reminder: Reminder) -> None:
    session.execute(insert(reminders).values(
        id=reminder.id, user_id=reminder.user_id, remind_at=dt(reminder.remind_at),
        fired_at=dt(reminder.fired_at) if reminder.HasField("fired_at") else None,
        data=reminder.SerializeToString()))


def reminders_for(session: Session, user_id: str, limit: int = 200) -> list[Reminder]:
    rows = session.execute(select(reminders.c.data).where(reminders.c.user_id == user_id)
                           .order_by(reminders.c.remind_at.desc()).limit(limit)).scalars()
    return [Reminder.FromString(d) for d in rows]


# -- delegations

def active_delegators(session: Session, user_id: str, now: datetime) -> list[str]:
    """Users whose work `user_id` currently covers."""
    rows = session.execute(_ACTIVE_DELEGATORS, {"user_id": user_id, "now": now}).scalars()
    return sorted(set(rows))


def active_delegate(session: Session, user_id: str, now: datetime) -> str:
    """Who covers `user_id` right now ("" when nobody)."""
    row = session.execute(select(delegations.c.to_user_id).where(
        delegations.c.from_user_id == user_id, delegations.c.revoked.is_(False),
        delegations.c.starts_at <= now, delegations.c.ends_at > now).order_by(delegations.c.starts_at.desc())).first()
    return row[0] if row else ""


def insert_delegation(session: Session, d: Delegation) -> None:
    session.execute(insert(delegations).values(
        id=d.id, from_user_id=d.from_user_id, to_user_id=d.to_user_id, starts_at=dt(d.starts_at),
        ends_at=dt(d.ends_at), revoked=d.revoked, data=d.SerializeToString()))


def load_delegation(session: Session, delegation_id: str) -> Delegation | None:
    data = session.execute(select(delegations.c.data).where(delegations.c.id == delegation_id)
                           .with_for_update()).scalar_one_or_none()
    return None if data is None else Delegation.FromString(data)


def update_delegation(session: Session, d: Delegation) -> None:
    session.execute(update(delegations).where(delegations.c.id == d.id).values(
        ends_at=dt(d.ends_at), revoked=d.revoked, data=d.SerializeToString()))


def list_delegations(session: Session, user_id: str, active_at: datetime | None, *, size: int,
                     token: str) -> tuple[list[Delegation], str]:
    """A page by (starts_at, id); the table has no sequence column, so the cursor is the last row's
    start (ISO 8601, UTC) and id."""
    t = delegations
    size = page_size(size, default=MAX_PAGE)  # callers from before paging got every delegation in one answer
    stmt = select(t.c.data, t.c.starts_at, t.c.id).order_by(t.c.starts_at, t.c.id)
    if user_id:
        stmt = stmt.where((t.c.from_user_id == user_id) | (t.c.to_user_id == user_id))
    if active_at is not None:
        stmt = stmt.where(t.c.revoked.is_(False), t.c.starts_at <= active_at, t.c.ends_at > active_at)
    if token:
        start, after = decode_key(token, 2)
        try:
            since = aware(datetime.fromisoformat(start)).astimezone(UTC)
        except ValueError:
            raise bad_token() from None
        stmt = stmt.where((t.c.starts_at > since) | ((t.c.starts_at == since) & (t.c.id > after)))
    rows = session.execute(stmt.limit(size + 1)).all()
    last = rows[size - 1] if len(rows) > size else None
    more = encode_key(aware(last.starts_at).isoformat(), last.id) if last is not None else ""
    return [Delegation.FromString(r.data) for r in rows[:size]], more
