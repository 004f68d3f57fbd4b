"""Persistence: protobuf snapshots plus the columns queries need, kept in step on every save.
Plain functions over a SQLAlchemy session; no rules here."""
from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Insert, Select, Table, Update, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import (
    ApprovalRequest,
    Contract,
    Delegation,
    Lead,
    Opportunity,
    PriceBook,
    Product,
    Quote,
    Reminder,
    SalesRep,
    SalesSettings,
    Task,
)
from crm_sales import money
from crm_sales.tables import (
    approvals,
    assignment_cursors,
    contracts,
    counters,
    delegations,
    leads,
    opportunities,
    price_books,
    products,
    quotes,
    reminders,
    reps,
    settings,
    stage_visits,
    tasks,
)
from crmkit.errors import InvalidArgument

MAX_PAGE = 200
DEFAULT_PAGE = 50


def dt(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _opt(ts: Timestamp, present: bool) -> datetime | None:
    return dt(ts) if present else None


def _lead(r: Lead) -> dict[str, Any]:
    return dict(name=r.name, company=r.company, source=r.source, campaign_id=r.campaign_id, score=r.score,
                status=r.status, version=r.version, email=r.email.strip().lower())


def _opp(r: Opportunity) -> dict[str, Any]:
    return dict(
        name=r.name, account_id=r.account_id, pipeline_id=r.pipeline_id, stage=r.stage, status=r.status,
        version=r.version, currency=r.amount.currency_code, amount_cents=money.to_cents(r.amount),
        probability=r.probability, forecast_category=r.forecast_category, close_date=r.expected_close_date,
        close_month=r.expected_close_date[:7], closed_at=_opt(r.closed_at, r.HasField("closed_at")),
    )


def _quote(r: Quote) -> dict[str, Any]:
    return dict(number=r.number, quote_version=r.version, opportunity_id=r.opportunity_id,
                account_id=r.account_id, status=r.status, version=r.row_version)


def _contract(r: Contract) -> dict[str, Any]:
    return dict(number=r.number, quote_id=r.quote_id, opportunity_id=r.opportunity_id, status=r.status,
                version=r.version)


def _task(r: Task) -> dict[str, Any]:
    return dict(due_at=_opt(r.due_at, r.HasField("due_at")), related_id=r.related_id, status=r.status,
                version=r.version)


RECORDS: dict[type[Message], tuple[Table, Any]] = {
    Lead: (leads, _lead),
    Opportunity: (opportunities, _opp),
    Quote: (quotes, _quote),
    Contract: (contracts, _contract),
    Task: (tasks, _task),
}


def _values(record: Any) -> dict[str, Any]:
    _, extra = RECORDS[type(record)]
    return {
        "id": record.id, "owner_id": record.owner_id, "team": record.team, "region": record.region,
        "created_at": dt(record.created_at), "updated_at": dt(record.updated_at),
        "data": record.SerializeToString(), **extra(record),
    }


# Hot statements are built once and run with parameters: building `insert(t).values(...)` or
# `select(...).where(t.c.id == value)` per call (coercing values, computing the cache key) cost
# more than the SQL they run. Placeholders are never column names ("record_id", not "id").
_INSERT: dict[type[Message], Insert] = {cls: insert(table) for cls, (table, _) in RECORDS.items()}
_UPDATE: dict[type[Message], Update] = {
    cls: update(table).where(table.c.id == bindparam("record_id")) for cls, (table, _) in RECORDS.items()
}


def _load_by_id(table: Table, lock: bool) -> Select[Any]:
    stmt = select(table.c.data).where(table.c.id == bindparam("record_id"))
    return stmt.with_for_update() if lock else stmt


_LOAD = {(cls, lock): _load_by_id(table, lock) for cls, (table, _) in RECORDS.items() for lock in (False, True)}


def insert_record(session: Session, record: Message) -> None:
    session.execute(_INSERT[type(record)], _values(record))


def insert_many(session: Session, records: Sequence[Message]) -> None:
    """Bulk insert of one record type (imports, seeding)."""
    if records:
        session.execute(_INSERT[type(records[0])], [_values(r) for r in records])


def update_record(session: Session, record: Message) -> None:
    session.execute(_UPDATE[type(record)], {**_values(record), "record_id": record.id})  # type: ignore[attr-defined]


def load(session: Session, cls: type[Any], record_id: str, *, for_update: bool = False) -> Any:
    data = session.execute(_LOAD[cls, for_update], {"record_id": record_id}).scalar_one_or_none()
    return None if data is None else cls.FromString(data)


def page(session: Session, cls: type[Any], stmt: Select, page_size: int, page_token: str) -> tuple[list[Any], str]:
    """Keyset pagination on seq: stable under concurrent inserts."""
    table, _ = RECORDS[cls]
    size = DEFAULT_PAGE if page_size <= 0 else min(page_size, MAX_PAGE)
    if page_token:
        stmt = stmt.where(table.c.seq > decode_cursor(page_token))
    rows = session.execute(stmt.add_columns(table.c.seq).order_by(table.c.seq).limit(size + 1)).all()
    items = [cls.FromString(row.data) for row in rows[:size]]
    return items, encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("page_token is not a token this service issued", field="page_token") from None


# -- stage visits (funnel read model, written with the opportunity)

# Built once (see _INSERT): run on every stage change.
_CLOSE_VISITS = update(stage_visits).where(
    stage_visits.c.opportunity_id == bindparam("opp_id"), stage_visits.c.exited_at.is_(None))
_INSERT_VISIT = insert(stage_visits)
_QUOTES_OF = select(quotes.c.data).where(
    quotes.c.opportunity_id == bindparam("opp_id"), quotes.c.status.in_(bindparam("statuses", expanding=True)))


def open_visit(session: Session, opp: Opportunity, stage: str, at: datetime) -> None:
    session.execute(_CLOSE_VISITS, {"opp_id": opp.id, "exited_at": at})
    session.execute(_INSERT_VISIT, {
        "opportunity_id": opp.id, "pipeline_id": opp.pipeline_id, "stage": stage, "owner_id": opp.owner_id,
        "team": opp.team, "entered_at": at, "exited_at": None})


def close_visits(session: Session, opportunity_id: str, at: datetime) -> None:
    session.execute(_CLOSE_VISITS, {"opp_id": opportunity_id, "exited_at": at})


# -- quotes

def quotes_of(session: Session, opportunity_id: str, statuses: Sequence[str]) -> list[Quote]:
    rows = session.execute(_QUOTES_OF, {"opp_id": opportunity_id, "statuses": list(statuses)}).scalars()
    return [Quote.FromString(d) for d in rows]


def approvals_of(session: Session, quote_id: str) -> list[ApprovalRequest]:
    rows = session.execute(select(approvals.c.data).where(approvals.c.quote_id == quote_id)
                           .order_by(approvals.c.seq)).scalars()
    return [ApprovalRequest.FromString(d) for d in rows]


def load_approval(session: Session, approval_id: str) -> ApprovalRequest | None:
    data = session.execute(select(approvals.c.data).where(approvals.c.id == approval_id)).scalar_one_or_none()
    return None if data is None else ApprovalRequest.FromString(data)


def save_approval(session: Session, request: ApprovalRequest, *, new: bool) -> None:
    values = dict(id=request.id, quote_id=request.quote_id, status=request.status, team=request.team,
                  region=request.region, requested_at=dt(request.requested_at), data=request.SerializeToString())
    if new:
        session.execute(insert(approvals).values(**values))
    else:
        session.execute(update(approvals).where(approvals.c.id == request.id).values(**values))


def pending_approvals(session: Session) -> list[ApprovalRequest]:
    rows = session.execute(select(approvals.c.data).where(approvals.c.status == "pending")
                           .order_by(approvals.c.seq)).scalars()
    return [ApprovalRequest.FromString(d) for d in rows]


def next_number(session: Session, name: str) -> int:
    """Per-name counter incremented inside the caller's transaction: a rolled-back quote gives
    its number back, so numbers have no gaps and never repeat."""
    updated = session.execute(update(counters).where(counters.c.name == name).values(value=counters.c.value + 1))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(insert(counters).values(name=name, value=1))
        return 1
    return int(session.execute(select(counters.c.value).where(counters.c.name == name)).scalar_one())


# -- catalogue

def save_product(session: Session, product: Product, *, new: bool) -> None:
    values = dict(id=product.id, sku=product.sku, active=product.active, data=product.SerializeToString())
    if new:
        session.execute(insert(products).values(**values))
    else:
        session.execute(update(products).where(products.c.id == product.id).values(**values))


def all_products(session: Session, include_inactive: bool = True) -> list[Product]:
    stmt = select(products.c.data).order_by(products.c.sku)
    if not include_inactive:
        stmt = stmt.where(products.c.active.is_(True))
    return [Product.FromString(d) for d in session.execute(stmt).scalars()]


def sku_taken(session: Session, sku: str) -> bool:
    return session.execute(select(products.c.id).where(products.c.sku == sku)).first() is not None


def save_price_book(session: Session, book: PriceBook) -> None:
    values = dict(id=book.id, currency=book.currency_code, tier=book.tier, active=book.active,
                  data=book.SerializeToString())
    if session.execute(select(price_books.c.id).where(price_books.c.id == book.id)).first():
        session.execute(update(price_books).where(price_books.c.id == book.id).values(**values))
    else:
        session.execute(insert(price_books).values(**values))


def find_price_books(session: Session, currency: str = "", tier: str = "") -> list[PriceBook]:
    stmt = select(price_books.c.data).order_by(price_books.c.id)
    if currency:
        stmt = stmt.where(price_books.c.currency == currency)
    if tier:
        stmt = stmt.where(price_books.c.tier == tier)
    return [PriceBook.FromString(d) for d in session.execute(stmt).scalars()]


# -- reps, cursors, settings

def save_rep(session: Session, rep: SalesRep) -> None:
    values = dict(user_id=rep.user_id, team=rep.team, region=rep.region, active=rep.active,
                  data=rep.SerializeToString())
    if session.execute(select(reps.c.user_id).where(reps.c.user_id == rep.user_id)).first():
        session.execute(update(reps).where(reps.c.user_id == rep.user_id).values(**values))
    else:
        session.execute(insert(reps).values(**values))


# Built once (see _INSERT): read on every new lead or stage change.
_ALL_REPS = select(reps.c.data)
_CURSORS = select(assignment_cursors.c.rule_id, assignment_cursors.c.last_user_id)
_SET_CURSOR = update(assignment_cursors).where(assignment_cursors.c.rule_id == bindparam("rule"))
_INSERT_CURSOR = insert(assignment_cursors)
_LOAD_SETTINGS = select(settings.c.data).where(settings.c.key == "sales")
_ACTIVE_DELEGATORS = select(delegations.c.from_user_id).where(
    delegations.c.to_user_id == bindparam("user_id"), delegations.c.revoked.is_(False),
    delegations.c.starts_at <= bindparam("now"), delegations.c.ends_at > bindparam("now"))


def all_reps(session: Session) -> dict[str, SalesRep]:
    return {r.user_id: r for r in (SalesRep.FromString(d) for d in session.execute(_ALL_REPS).scalars())}


def open_lead_counts(session: Session, owners: Collection[str] | None = None) -> dict[str, int]:
    stmt = select(leads.c.owner_id, func.count()).where(leads.c.status.in_(("new", "working")))
    if owners is not None:
        stmt = stmt.where(leads.c.owner_id.in_(sorted(owners)))
    rows = session.execute(stmt.group_by(leads.c.owner_id)).all()
    return {owner: int(n) for owner, n in rows}


def cursors(session: Session) -> dict[str, str]:
    return dict(session.execute(_CURSORS).all())


def set_cursor(session: Session, rule_id: str, user_id: str) -> None:
    done = session.execute(_SET_CURSOR, {"rule": rule_id, "last_user_id": user_id})
    if done.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(_INSERT_CURSOR, {"rule_id": rule_id, "last_user_id": user_id})


def load_settings(session: Session) -> SalesSettings | None:
    row = session.execute(_LOAD_SETTINGS).scalar_one_or_none()
    return None if row is None else SalesSettings.FromString(row)


def save_settings(session: Session, value: SalesSettings) -> None:
    data = value.SerializeToString()
    if session.execute(select(settings.c.key).where(settings.c.key == "sales")).first():
        session.execute(update(settings).where(settings.c.key == "sales").values(version=value.version, data=data))
    else:
        session.execute(insert(settings).values(key="sales", version=value.version, data=data))


# -- reminders

def insert_reminder(session: Session, reminder: Reminder) -> None:
    session.execute(insert(reminders).values(
        id=reminder.id, user_id=reminder.user_id, remind_at=dt(reminder.remind_at),
        fired_at=_opt(reminder.fired_at, reminder.HasField("fired_at")), data=reminder.SerializeToString()))


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


def list_delegations(session: Session, user_id: str, active_at: datetime | None) -> list[Delegation]:
    stmt = select(delegations.c.data).order_by(delegations.c.starts_at)
    if user_id:
        stmt = stmt.where((delegations.c.from_user_id == user_id) | (delegations.c.to_user_id == user_id))
    if active_at is not None:
        stmt = stmt.where(delegations.c.revoked.is_(False), delegations.c.starts_at <= active_at,
                          delegations.c.ends_at > active_at)
    return [Delegation.FromString(d) for d in session.execute(stmt).scalars()]
