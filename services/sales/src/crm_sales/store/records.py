"""The owned records (leads, opportunities, quotes, contracts, tasks): snapshot + query columns,
their filtered pages, and the stage-visit rows the funnel reads."""
from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Insert, Select, Table, Update, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import (
    Contract,
    Lead,
    LeadFilter,
    ListTasksRequest,
    Opportunity,
    OpportunityFilter,
    Quote,
    Task,
)
from crm_sales.rules import money
from crm_sales.rules.access import VISIBILITY
from crm_sales.tables import contracts, leads, opportunities, quotes, stage_visits, tasks
from crmkit.auth import Principal
from crmkit.paging import MAX_PAGE, decode_cursor, encode_cursor, page_size
from crmkit.records import check_date, dt

R = TypeVar("R", bound=Message)


def _opt(ts: Timestamp, present: bool) -> datetime | None:
    return dt(ts) if present else None


def _lead(r: Lead) -> dict[str, Any]:
    return dict(name=r.name, company=r.company, source=r.source, campaign_id=r.campaign_id, score=r.score,
                status=r.status, version=r.version, email=r.email.strip().lower(), phone=r.phone, in_pool=r.in_pool,
                followed_up_at=_opt(r.last_follow_up_at, r.HasField("last_follow_up_at")),
                assigned_at=_opt(r.assigned_at, r.HasField("assigned_at")))


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
    values = _values(record)
    values["record_id"] = values["id"]
    session.execute(_UPDATE[type(record)], values)


def load(session: Session, cls: type[R], record_id: str, *, for_update: bool = False) -> R | None:
    data = session.execute(_LOAD[cls, for_update], {"record_id": record_id}).scalar_one_or_none()
    return None if data is None else cls.FromString(data)


def page(session: Session, cls: type[Any], stmt: Select[Any], size: int, token: str) -> tuple[list[Any], str]:
    """Keyset pagination on seq: stable under concurrent inserts."""
    table, _ = RECORDS[cls]
    size = page_size(size)
    if token:
        stmt = stmt.where(table.c.seq > decode_cursor(token))
    rows = session.execute(stmt.add_columns(table.c.seq).order_by(table.c.seq).limit(size + 1)).all()
    items = [cls.FromString(row.data) for row in rows[:size]]
    return items, encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def _visible(table: Table, principal: Principal, delegators: Sequence[str]) -> Select[Any]:
    return select(table.c.data).where(VISIBILITY.clause(principal, table, delegators))



# -- the filtered lists; `delegators`: whose records an active delegation lends the caller

def list_leads(session: Session, flt: LeadFilter, *, principal: Principal, delegators: Sequence[str], size: int,
               token: str) -> tuple[list[Lead], str]:
    stmt = _visible(leads, principal, delegators)
    for column in ("status", "owner_id", "region", "source", "campaign_id"):
        if value := getattr(flt, column):
            stmt = stmt.where(leads.c[column] == value)
    if flt.min_score:
        stmt = stmt.where(leads.c.score >= flt.min_score)
    if flt.unassigned:
        stmt = stmt.where(leads.c.owner_id == "")
    if flt.query:
        pattern = f"%{flt.query.strip()}%"
        stmt = stmt.where(leads.c.name.ilike(pattern) | leads.c.company.ilike(pattern))
    return page(session, Lead, stmt, size, token)


def list_opportunities(session: Session, flt: OpportunityFilter, *, principal: Principal,
                       delegators: Sequence[str], size: int, token: str) -> tuple[list[Opportunity], str]:
    t = opportunities
    stmt = _visible(t, principal, delegators)
    for column in ("status", "stage", "owner_id", "team", "account_id"):
        if value := getattr(flt, column):
            stmt = stmt.where(t.c[column] == value)
    if flt.close_from:
        stmt = stmt.where(t.c.close_date >= check_date(flt.close_from, "filter.close_from"))
    if flt.close_to:
        stmt = stmt.where(t.c.close_date <= check_date(flt.close_to, "filter.close_to"))
    return page(session, Opportunity, stmt, size, token)


def list_quotes(session: Session, *, opportunity_id: str, status: str, principal: Principal,
                delegators: Sequence[str], size: int, token: str) -> tuple[list[Quote], str]:
    stmt = _visible(quotes, principal, delegators)
    if opportunity_id:
        stmt = stmt.where(quotes.c.opportunity_id == opportunity_id)
    if status:
        stmt = stmt.where(quotes.c.status == status)
    return page(session, Quote, stmt, size, token)


def live_contract_of_quote(session: Session, quote_id: str) -> Contract | None:
    """The quote's contract that is not terminated, whoever may see it."""
    data = session.execute(select(contracts.c.data).where(contracts.c.quote_id == quote_id,
                                                          contracts.c.status != "terminated")
                           .order_by(contracts.c.seq).limit(1)).scalar_one_or_none()
    return Contract.FromString(data) if data is not None else None


def list_contracts(session: Session, *, opportunity_id: str, status: str, principal: Principal,
                   delegators: Sequence[str], size: int, token: str) -> tuple[list[Contract], str]:
    stmt = _visible(contracts, principal, delegators)
    if opportunity_id:
        stmt = stmt.where(contracts.c.opportunity_id == opportunity_id)
    if status:
        stmt = stmt.where(contracts.c.status == status)
    # 200 when omitted: callers from before paging got every contract (at most 200) in one answer
    return page(session, Contract, stmt, size or MAX_PAGE, token)


def list_tasks(session: Session, r: ListTasksRequest, *, principal: Principal, delegators: Sequence[str],
               now: datetime) -> tuple[list[Task], str]:
    stmt = _visible(tasks, principal, delegators)
    if r.owner_id:
        stmt = stmt.where(tasks.c.owner_id == r.owner_id)
    if r.overdue_only:
        stmt = stmt.where(tasks.c.status == "open", tasks.c.due_at < now)
    elif r.status:
        stmt = stmt.where(tasks.c.status == r.status)
    if r.HasField("due_from"):
        stmt = stmt.where(tasks.c.due_at >= dt(r.due_from))
    if r.HasField("due_to"):
        stmt = stmt.where(tasks.c.due_at < dt(r.due_to))
    if r.related_id:
        stmt = stmt.where(tasks.c.related_id == r.related_id)
    return page(session, Task, stmt, r.page.page_size, r.page.page_token)


def owned(session: Session, cls: type[Any], owner_id: str, statuses: Sequence[str]) -> list[Any]:
    """A user's records in these statuses, locked for a change of owner."""
    table, _ = RECORDS[cls]
    rows = session.execute(select(table.c.data).where(
        table.c.owner_id == owner_id, table.c.status.in_(statuses)).with_for_update()).scalars()
    return [cls.FromString(d) for d in rows]


def open_lead_counts(session: Session, owners: Collection[str] | None = None) -> dict[str, int]:
    stmt = select(leads.c.owner_id, func.count()).where(leads.c.status.in_(("new", "working")))
    if owners is not None:
        stmt = stmt.where(leads.c.owner_id.in_(sorted(owners)))
    rows = session.execute(stmt.group_by(leads.c.owner_id)).all()
    return {owner: int(n) for owner, n in rows}


# -- stage visits (the funnel's read model, written with the opportunity) and an opportunity's quotes

# Run on every stage change.
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


def quotes_of(session: Session, opportunity_id: str, statuses: Sequence[str]) -> list[Quote]:
    rows = session.execute(_QUOTES_OF, {"opp_id": opportunity_id, "statuses": list(statuses)}).scalars()
    return [Quote.FromString(d) for d in rows]
