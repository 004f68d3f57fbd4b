"""The public pool of customers' rows: the conditional UPDATE that lets exactly one claim take a
pooled account, the held accounts whose clocks passed a team's rule (no timeline entry on any of
their contacts, no won deal), the moves (history and cool-down), the rules sales published, and
the lock that keeps one rep's concurrent claims from passing the claim limit together."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import ColumnElement, and_, bindparam, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from crm.common.v1.pool_pb2 import PoolMove, PoolRule
from crm.contacts.v1.contacts_pb2 import Account
from crm.sales.v1.events_pb2 import PoolRulesChanged
from crm_contacts.rules.segments import NOT_INTERACTIONS
from crm_contacts.tables import account_pool_moves as moves_t
from crm_contacts.tables import accounts, contacts, pool_rules, timeline, won_deals
from crmkit.leases import LEASE_CLASS, lease_key
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.pool import LOSSES
from crmkit.records import aware

_TAKE = update(accounts).where(accounts.c.id == bindparam("account_id"), accounts.c.in_pool.is_(True),
                               accounts.c.deleted.is_(False)).values(in_pool=False, owner_id=bindparam("new_owner"))
_HELD = select(func.count()).select_from(accounts).where(
    accounts.c.owner_id == bindparam("user"), accounts.c.deleted.is_(False), accounts.c.in_pool.is_(False))
_LAST_LOSS = select(func.max(moves_t.c.at)).where(
    moves_t.c.user_id == bindparam("user"), moves_t.c.account_id == bindparam("account_id"),
    moves_t.c.kind.in_(LOSSES))
_MOVES = select(moves_t).where(moves_t.c.account_id == bindparam("account_id")).order_by(moves_t.c.seq)
_CONTACTS_OF = select(contacts.c.id).where(contacts.c.account_id == bindparam("account_id"),
                                           contacts.c.owner_id == bindparam("owner"), contacts.c.deleted.is_(False))
_RULES = select(pool_rules.c.version, pool_rules.c.data).where(pool_rules.c.key == "sales")


def take(session: Session, account_id: str, owner_id: str) -> bool:
    """Take the account out of the pool for `owner_id`; False when it is no longer there (on
    PostgreSQL the loser's UPDATE waits for the winner's row lock, then matches nothing)."""
    result: Any = session.execute(_TAKE, {"account_id": account_id, "new_owner": owner_id})
    return int(result.rowcount) == 1


def lock_rep(session: Session, user_id: str) -> None:
    """Serialize one rep's claims until commit (SQLite serializes writers already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:c, :k)"),
                        {"c": LEASE_CLASS, "k": lease_key(f"contacts-pool-claims:{user_id}")})


def held(session: Session, user_id: str) -> int:
    return int(session.execute(_HELD, {"user": user_id}).scalar_one())


def last_loss(session: Session, user_id: str, account_id: str) -> datetime | None:
    at = session.execute(_LAST_LOSS, {"user": user_id, "account_id": account_id}).scalar_one_or_none()
    return aware(at) if at is not None else None


def contacts_of(session: Session, account_id: str, owner_id: str) -> list[str]:
    """The account's live contacts `owner_id` holds ("": those waiting in the pool with it)."""
    return list(session.execute(_CONTACTS_OF, {"account_id": account_id, "owner": owner_id}).scalars())


def add_move(session: Session, move: PoolMove) -> None:
    session.execute(insert(moves_t), {"account_id": move.record_id, "kind": move.kind, "team": move.team,
                                      "user_id": move.user_id, "actor_id": move.actor_id, "reason": move.reason,
                                      "at": move.at.ToDatetime()})


def moves(session: Session, account_id: str) -> list[PoolMove]:
    found = []
    for r in session.execute(_MOVES, {"account_id": account_id}):
        at = Timestamp()
        at.FromDatetime(aware(r.at))
        found.append(PoolMove(record_type="account", record_id=r.account_id, kind=r.kind, team=r.team,
                              user_id=r.user_id, actor_id=r.actor_id, reason=r.reason, at=at))
    return found


def list_pool(session: Session, *, visible: ColumnElement[bool], team: str, query: str, size: int,
              token: str) -> tuple[list[Account], str]:
    size = page_size(size)
    stmt = select(accounts.c.seq, accounts.c.data).where(accounts.c.in_pool.is_(True), accounts.c.deleted.is_(False),
                                                         visible)
    if team:
        stmt = stmt.where(accounts.c.team == team)
    if query.strip():
        stmt = stmt.where(accounts.c.name.ilike(f"%{query.strip()}%"))
    if token:
        stmt = stmt.where(accounts.c.seq > decode_cursor(token))
    rows = session.execute(stmt.order_by(accounts.c.seq).limit(size + 1)).all()
    found = [Account.FromString(r.data) for r in rows[:size]]
    return found, encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def rules(session: Session) -> tuple[int, list[PoolRule]]:
    """(settings version, rules) as sales last published them; (0, []) before the first."""
    row = session.execute(_RULES).first()
    if row is None:
        return 0, []
    return int(row.version), list(PoolRulesChanged.FromString(row.data).pool_rules)


def save_rules(session: Session, published: PoolRulesChanged) -> bool:
    """Keep a newer version of the rules (an older or repeated event changes nothing)."""
    version, _ = rules(session)
    if published.settings_version <= version:
        return False
    values = {"version": published.settings_version, "data": published.SerializeToString()}
    if version:
        session.execute(update(pool_rules).where(pool_rules.c.key == "sales").values(**values))
    else:
        session.execute(insert(pool_rules).values(key="sales", **values))
    return True


def stale_candidates(session: Session, *, team: str | None, exclude_teams: Sequence[str],
                     followed_before: datetime | None, held_before: datetime | None, limit: int) -> list[str]:
    """Held accounts of a team (None: every team but `exclude_teams`) whose owner got them on or
    before a cut-off and since then: no timeline entry on any of their contacts after it, or no
    won deal at all."""
    held_since = func.coalesce(accounts.c.assigned_at, accounts.c.created_at)
    due: list[ColumnElement[bool]] = []
    if followed_before is not None:
        touched = exists().where(contacts.c.account_id == accounts.c.id, timeline.c.contact_id == contacts.c.id,
                                 timeline.c.occurred_at > followed_before, timeline.c.kind.not_in(NOT_INTERACTIONS))
        due.append(and_(held_since <= followed_before, ~touched))
    if held_before is not None:
        won = exists().where(won_deals.c.account_id == accounts.c.id, won_deals.c.won.is_(True))
        due.append(and_(held_since <= held_before, ~won))
    if not due:
        return []
    where: list[Any] = [accounts.c.in_pool.is_(False), accounts.c.deleted.is_(False), accounts.c.owner_id != "",
                        accounts.c.team != "", or_(*due)]
    if team is not None:
        where.append(accounts.c.team == team)
    elif exclude_teams:
        where.append(accounts.c.team.not_in(list(exclude_teams)))
    rows = session.execute(select(accounts.c.id).where(*where).order_by(accounts.c.seq).limit(limit))
    return [r.id for r in rows]


def last_touch(session: Session, account_id: str) -> datetime | None:
    """The newest timeline entry on any of the account's contacts (merges, owner changes and pool
    moves are no follow-up)."""
    at = session.execute(select(func.max(timeline.c.occurred_at)).where(
        timeline.c.contact_id == contacts.c.id, contacts.c.account_id == account_id,
        timeline.c.kind.not_in(NOT_INTERACTIONS))).scalar_one_or_none()
    return aware(at) if at is not None else None


def has_won(session: Session, account_id: str) -> bool:
    return session.execute(select(won_deals.c.opportunity_id).where(
        won_deals.c.account_id == account_id, won_deals.c.won.is_(True)).limit(1)).first() is not None

