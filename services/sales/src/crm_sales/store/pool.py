"""The public pool's rows: the conditional UPDATE that lets exactly one claim take a pooled lead,
the candidates the pool's scheduler looks at, the moves (history and cool-down), and the lock that
keeps one rep's concurrent claims from passing the claim limit together."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import ColumnElement, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from crm.common.v1.pool_pb2 import PoolMove
from crm.sales.v1.sales_pb2 import Lead
from crm_sales.rules.pool import COUNTED, HELD, LOSSES
from crm_sales.store import changed
from crm_sales.store.records import page
from crm_sales.tables import leads, pool_moves
from crmkit.leases import LEASE_CLASS, lease_key
from crmkit.records import aware

# The race decider: only the first transaction finds the lead still in the pool. On PostgreSQL
# the second UPDATE waits for the first's row lock, re-reads the row and matches nothing; on
# SQLite writers are serialized (BEGIN IMMEDIATE).
_TAKE = update(leads).where(leads.c.id == bindparam("lead_id"), leads.c.in_pool.is_(True)).values(
    in_pool=False, owner_id=bindparam("new_owner"))
_ADD_MOVE = insert(pool_moves)
_LAST_LOSS = (select(func.max(pool_moves.c.at)).where(
    pool_moves.c.user_id == bindparam("user"), pool_moves.c.lead_id == bindparam("lead_id"),
    pool_moves.c.kind.in_(LOSSES)))
_HELD = select(func.count()).select_from(leads).where(
    leads.c.owner_id == bindparam("user"), leads.c.status.in_(COUNTED), leads.c.in_pool.is_(False))
_MOVES = select(pool_moves).where(pool_moves.c.lead_id == bindparam("lead_id")).order_by(pool_moves.c.seq)


def take(session: Session, lead_id: str, owner_id: str) -> bool:
    """Take the lead out of the pool for `owner_id`; False when it is no longer there."""
    return changed(session, _TAKE, {"lead_id": lead_id, "new_owner": owner_id}) == 1


def lock_rep(session: Session, user_id: str) -> None:
    """Serialize one rep's claims until commit (PostgreSQL: a transaction advisory lock; SQLite
    writers are serialized already), so two at once cannot both pass the claim limit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"),
                        {"c": LEASE_CLASS, "k": lease_key(f"sales-pool-claims:{user_id}")})


def held(session: Session, user_id: str) -> int:
    return int(session.execute(_HELD, {"user": user_id}).scalar_one())


def last_loss(session: Session, user_id: str, lead_id: str) -> datetime | None:
    at = session.execute(_LAST_LOSS, {"user": user_id, "lead_id": lead_id}).scalar_one_or_none()
    return aware(at) if at is not None else None


def add_move(session: Session, move: PoolMove) -> None:
    session.execute(_ADD_MOVE, {"lead_id": move.record_id, "kind": move.kind, "team": move.team,
                                "user_id": move.user_id, "actor_id": move.actor_id, "reason": move.reason,
                                "at": move.at.ToDatetime()})


def moves(session: Session, lead_id: str) -> list[PoolMove]:
    found = []
    for r in session.execute(_MOVES, {"lead_id": lead_id}):
        at = Timestamp()
        at.FromDatetime(aware(r.at))
        found.append(PoolMove(record_type="lead", record_id=r.lead_id, kind=r.kind, team=r.team, user_id=r.user_id, actor_id=r.actor_id,
                              reason=r.reason, at=at))
    return found


def list_pool(session: Session, *, visible: ColumnElement[bool], team: str, query: str, size: int,
              token: str) -> tuple[list[Lead], str]:
    """The pooled leads the `visible` clause lets the caller see, of one team when `team` is set."""
    stmt = select(leads.c.data).where(leads.c.in_pool.is_(True), visible)
    if team:
        stmt = stmt.where(leads.c.team == team)
    if query.strip():
        pattern = f"%{query.strip()}%"
        stmt = stmt.where(leads.c.name.ilike(pattern) | leads.c.company.ilike(pattern))
    return page(session, Lead, stmt, size, token)


def stale_candidates(session: Session, *, team: str | None, exclude_teams: Sequence[str],
                     followed_before: datetime | None, assigned_before: datetime | None,
                     limit: int) -> list[str]:
    """Held leads of a team (None: every team but `exclude_teams`) whose clocks passed a cut-off."""
    due: list[ColumnElement[bool]] = []
    followed, assigned = leads.c.followed_up_at, leads.c.assigned_at
    if followed_before is not None:  # the later of the two clocks (rules.pool.last_follow_up) passed it
        due.append(and_(or_(followed.is_(None), followed <= followed_before),
                        or_(assigned.is_(None), assigned <= followed_before),
                        or_(followed.is_not(None), assigned.is_not(None))))
    if assigned_before is not None:
        due.append(assigned <= assigned_before)
    if not due:
        return []
    where: list[Any] = [leads.c.in_pool.is_(False), leads.c.owner_id != "", leads.c.status.in_(HELD), or_(*due)]
    if team is not None:
        where.append(leads.c.team == team)
    elif exclude_teams:
        where.append(leads.c.team.not_in(list(exclude_teams)))
    rows = session.execute(select(leads.c.id).where(and_(*where)).order_by(leads.c.seq).limit(limit))
    return [r.id for r in rows]
