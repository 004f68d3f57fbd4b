"""Rollups: the opportunity and customer read models summed per combination of keys, kept by the
handlers in the transaction that changes the detail row (the delta of the row's old and new
contributions), so they stay exact: a key set summing to nothing is deleted, and `rebuild`
computes the same rows from the detail tables (the migration's backfill, the bench's seeding).

The query planner (analytics.query) reads them when a query's dimensions, filters and time window
are covered, and the detail tables otherwise; drill-downs always list detail rows."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Table,
    TextClause,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crm_reporting.tables import (
    campaign_revenue_rollup,
    csat_answers,
    csat_day_rollup,
    customer_rollup,
    customer_tag_rollup,
    customer_tags,
    customers,
    lead_rollup,
    leads,
    opportunities,
    opportunity_day_rollup,
    opportunity_rollup,
    sla_breaches,
    tagged_customer_rollup,
    ticket_day_rollup,
    ticket_rollup,
    ticket_tag_rollup,
    ticket_tags,
    tickets,
)
from crmkit import db_statements

Row = Mapping[str, Any]
TIME_FIELDS = ("created", "closed", "expected")


@dataclass(frozen=True)
class Rollup:
    table: Table
    keys: Sequence[str]                 # its primary key
    extra: Sequence[str]                # columns that follow from the keys (a month's quarter)
    measures: Sequence[str]
    rows_of: Callable[[Row], Iterable[dict[str, Any]]]   # a detail record → its rollup rows


def _opportunity_figures(r: Row) -> dict[str, Any]:
    """An opportunity's keys (without its time) and measures, as both its rollups keep them."""
    dims = {k: r[k] for k in ("owner_id", "team", "region", "stage", "status", "currency_code")}
    dims["probability"] = int(r["probability"] or 0)
    amount, cycle = int(r["amount_units"]), r["cycle_days"]
    return {**dims, "n": 1, "amount_units": amount, "weighted_units": amount * dims["probability"],
            "probability_sum": dims["probability"], "cycle_days_sum": int(cycle or 0),
            "cycle_n": 0 if cycle is None else 1}


def _opportunity_day_rows(r: Row) -> Iterable[dict[str, Any]]:
    figures = _opportunity_figures(r)
    for tf in TIME_FIELDS:
        if r[f"{tf}_day"]:
            yield {"time_field": tf, "day": r[f"{tf}_day"], "week": r[f"{tf}_week"], "quarter": r[f"{tf}_quarter"],
                   **figures}


def _opportunity_rows(r: Row) -> Iterable[dict[str, Any]]:
    figures = _opportunity_figures(r)
    yield {"time_field": "", "month": "", "quarter": "", **figures}
    for tf in TIME_FIELDS:
        day = r[f"{tf}_day"] or ""
        yield {"time_field": tf, "month": day[:7], "quarter": r[f"{tf}_quarter"] if day else "", **figures}


def _timed(r: Row, time_fields: Sequence[str]) -> Iterable[dict[str, str]]:
    """The all-time key and one per time field: its month ("" without that time) and quarter."""
    yield {"time_field": "", "month": "", "quarter": ""}
    for tf in time_fields:
        day = r[f"{tf}_day"] or ""
        yield {"time_field": tf, "month": day[:7], "quarter": r[f"{tf}_quarter"] if day else ""}


def _lead_rows(r: Row) -> Iterable[dict[str, Any]]:
    dims = {k: r[k] for k in ("owner_id", "team", "region", "source", "status", "campaign_id")}
    for when in _timed(r, ("created",)):
        yield {**when, **dims, "n": 1}


def _ticket_rows(r: Row) -> Iterable[dict[str, Any]]:
    dims = {k: r[k] for k in ("status", "priority", "assignee_id")}
    resolution, first = r["resolution_seconds"], r["first_response_seconds"]
    dims.update(solved=int(resolution is not None), breached=int(bool(r["breached"])))
    values = {"n": 1, "resolution_sum": int(resolution or 0), "resolution_n": int(resolution is not None),
              "first_response_sum": int(first or 0), "first_response_n": int(first is not None)}
    for when in _timed(r, ("created", "solved")):
        yield {**when, **dims, **values}


def _ticket_day_rows(r: Row) -> Iterable[dict[str, Any]]:
    for row in _ticket_rows(r):
        tf = row["time_field"]
        if tf and r[f"{tf}_day"]:           # only the times the ticket has
            yield {**row, "day": r[f"{tf}_day"], "week": r[f"{tf}_week"]}


def _ticket_tag_rows(r: Row) -> Iterable[dict[str, Any]]:
    for row in _ticket_rows(r):
        for tag in r["tags"] or [r["type"]]:     # an untagged ticket's issue is its type
            yield {"tag": tag, **row}


def _customer_rows(r: Row) -> Iterable[dict[str, Any]]:
    if r["live"]:
        who = {k: r[k] for k in ("owner_id", "team", "region")}
        yield {"grain": "", **who, "source": r["source"], "level": r["level"], "created_day": "", "n": 1}
        yield {"grain": "day", **who, "source": "", "level": "", "created_day": r["created_day"], "n": 1}


def _customer_tag_rows(r: Row) -> Iterable[dict[str, Any]]:
    if r["live"]:
        for tag in r["tags"]:
            yield {"tag": tag, "owner_id": r["owner_id"], "team": r["team"], "region": r["region"], "n": 1}


def _tagged_customer_rows(r: Row) -> Iterable[dict[str, Any]]:
    if r["live"]:
        who = {k: r[k] for k in ("owner_id", "team", "region")}
        blank = {"source": "", "level": "", "created_day": "", "other_tag": ""}
        for tag in r["tags"]:
            yield {"tag": tag, "grain": "", **who, **blank, "source": r["source"], "level": r["level"], "n": 1}
            yield {"tag": tag, "grain": "day", **who, **blank, "created_day": r["created_day"], "n": 1}
            for other in r["tags"]:
                yield {"tag": tag, "grain": "tag", **who, **blank, "other_tag": other, "n": 1}


OPPORTUNITIES = Rollup(opportunity_rollup, ("time_field", "month", "owner_id", "team", "region", "stage", "status",
                                            "currency_code", "probability"), ("quarter",),
                       ("n", "amount_units", "weighted_units", "probability_sum", "cycle_days_sum", "cycle_n"),
                       _opportunity_rows)
LEADS = Rollup(lead_rollup, ("time_field", "month", "owner_id", "team", "region", "source", "status", "campaign_id"),
               ("quarter",), ("n",), _lead_rows)
_TICKET_KEYS = ("time_field", "month", "status", "priority", "assignee_id", "solved", "breached")
_TICKET_SUMS = ("n", "resolution_sum", "resolution_n", "first_response_sum", "first_response_n")
TICKETS = Rollup(ticket_rollup, _TICKET_KEYS, ("quarter",), _TICKET_SUMS, _ticket_rows)
TICKET_TAGS = Rollup(ticket_tag_rollup, ("tag", *_TICKET_KEYS), ("quarter",), _TICKET_SUMS, _ticket_tag_rows)
CUSTOMERS = Rollup(customer_rollup, ("grain", "owner_id", "team", "region", "source", "level", "created_day"), (), ("n",),
                   _customer_rows)
CUSTOMER_TAGS = Rollup(customer_tag_rollup, ("tag", "owner_id", "team", "region"), (), ("n",), _customer_tag_rows)
def _campaign_revenue_rows(r: Row) -> Iterable[dict[str, Any]]:
    if r["status"] == "won":
        money = {"currency_code": r["currency_code"], "n": 1, "amount_units": int(r["amount_units"])}
        first, last = r["first_campaign_id"], r["last_campaign_id"]
        if first:
            yield {"campaign_id": first, "touch": "first", **money}
        if last:
            yield {"campaign_id": last, "touch": "last", **money}
        if first and first == last:
            yield {"campaign_id": first, "touch": "both", **money}


CAMPAIGN_REVENUE = Rollup(campaign_revenue_rollup, ("campaign_id", "touch", "currency_code"), (), ("n", "amount_units"),
                          _campaign_revenue_rows)
OPPORTUNITY_DAYS = Rollup(opportunity_day_rollup, ("time_field", "day", "owner_id", "team", "region", "stage", "status",
                                                 "currency_code", "probability"), ("week", "quarter"),
                          OPPORTUNITIES.measures, _opportunity_day_rows)
TAGGED_CUSTOMERS = Rollup(tagged_customer_rollup, ("tag", "grain", "owner_id", "team", "region", "source", "level",
                                                   "created_day", "other_tag"), (), ("n",), _tagged_customer_rows)



def _csat_rows(r: Row) -> Iterable[dict[str, Any]]:
    rating = int(r["rating"])
    yield {"time_field": "answered", "day": r["answered_day"], "assignee_id": r["assignee_id"], "rating": rating,
           "week": r["answered_week"], "quarter": r["answered_quarter"], "n": 1, "rating_sum": rating}


TICKET_DAYS = Rollup(ticket_day_rollup, ("time_field", "day", *_TICKET_KEYS[2:]), ("week", "quarter"), _TICKET_SUMS,
                     _ticket_day_rows)
CSAT_DAYS = Rollup(csat_day_rollup, ("time_field", "day", "assignee_id", "rating"), ("week", "quarter"),
                   ("n", "rating_sum"), _csat_rows)

_upserts: dict[tuple[str, str, tuple[str, ...]], TextClause] = {}


def _upsert(session: Session, rollup: Rollup, columns: tuple[str, ...]) -> TextClause:
    """Add the bound measures to the key's row (insert it if new). As text(): SQLAlchemy does not
    cache an ON CONFLICT construct, and compiling it on every call was most of a contact's cost."""
    dialect = session.get_bind().dialect.name
    key = (rollup.table.name, dialect, columns)
    found = _upserts.get(key)
    if found is None:
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = make(rollup.table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(rollup.keys),
            set_={m: rollup.table.c[m] + stmt.excluded[m] for m in rollup.measures})
        found = _upserts[key] = db_statements.as_text(stmt, dialect, columns)
    return found


def apply(session: Session, rollup: Rollup, old: Row | None, new: Row | None) -> None:
    """Move the rollup from the record's `old` contribution to its `new` one (None: none)."""
    apply_many(session, rollup, [(old, new)])


def _getter(names: Sequence[str]) -> Callable[[Row], tuple[Any, ...]]:
    """The row's values of `names`, always as a tuple (itemgetter gives a bare value for one name)."""
    if len(names) > 1:
        return itemgetter(*names)
    if names:
        name = names[0]
        return lambda row: (row[name],)
    return lambda row: ()


_getters: dict[str, tuple[Callable[[Row], tuple[Any, ...]], ...]] = {}


def apply_many(session: Session, rollup: Rollup, changes: Iterable[tuple[Row | None, Row | None]]) -> None:
    """Move the rollup for each record from its `old` contribution to its `new` one, all summed
    into one executemany: the same rows as applying them one after another. (A bulk import moves
    a few hundred thousand rows' worth per batch, so the sums are kept as plain lists.)"""
    getters = _getters.get(rollup.table.name)
    if getters is None:
        getters = _getters[rollup.table.name] = (
            _getter(rollup.keys), _getter(rollup.extra), _getter(rollup.measures))
    key_of, extra_of, measures_of = getters
    sums: dict[tuple[Any, ...], list[int]] = {}
    extras: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for old, new in changes:
        for sign, record in ((-1, old), (1, new)):
            if record is None:
                continue
            for row in rollup.rows_of(record):
                key = key_of(row)
                extras[key] = extra_of(row)
                values = measures_of(row)
                total = sums.get(key)
                if total is None:
                    sums[key] = [sign * v for v in values]
                else:
                    for i, v in enumerate(values):
                        total[i] += sign * v
    moves, shrunk = [], []
    n = rollup.measures.index("n")
    for key, total in sums.items():
        if not any(total):
            continue
        moves.append({**dict(zip(rollup.keys, key, strict=True)),
                      **dict(zip(rollup.extra, extras[key], strict=True)),
                      **dict(zip(rollup.measures, total, strict=True))})
        if total[n] < 0:
            shrunk.append({f"k_{k}": v for k, v in zip(rollup.keys, key, strict=True)})
    # one executemany each: a statement per row cost more than the rows (a tagged contact moves ~16)
    if moves:
        session.execute(_upsert(session, rollup, (*rollup.keys, *rollup.extra, *rollup.measures)), moves)
    if shrunk:
        session.execute(_shrink(rollup), shrunk)


_shrinks: dict[str, Delete] = {}


def _shrink(rollup: Rollup) -> Delete:
    """Delete the row of the bound key if it sums to nothing any more."""
    t = rollup.table
    found = _shrinks.get(t.name)
    if found is None:
        found = _shrinks[t.name] = delete(t).where(*(t.c[k] == bindparam(f"k_{k}") for k in rollup.keys), t.c.n <= 0)
    return found


def opportunity_row(session: Session, opportunity_id: str) -> Row | None:
    """The detail row as the rollup reads it (before a change)."""
    found = session.execute(select(opportunities).where(opportunities.c.opportunity_id == opportunity_id)).first()
    return dict(found._mapping) if found else None


def lead_row(session: Session, lead_id: str) -> Row | None:
    found = session.execute(select(leads).where(leads.c.lead_id == lead_id)).first()
    return dict(found._mapping) if found else None


def ticket_row(session: Session, ticket_id: str) -> dict[str, Any] | None:
    """The ticket with its tags and whether an SLA clock breached (what its rollup rows need)."""
    found = session.execute(select(tickets).where(tickets.c.ticket_id == ticket_id)).first()
    if found is None:
        return None
    tags = session.execute(select(ticket_tags.c.tag).where(ticket_tags.c.ticket_id == ticket_id)
                           .order_by(ticket_tags.c.tag)).scalars()
    breached = session.execute(select(sla_breaches.c.ticket_id).where(sla_breaches.c.ticket_id == ticket_id)
                               .limit(1)).first() is not None
    return {**found._mapping, "tags": list(tags), "breached": breached}


def csat_row(session: Session, ticket_id: str) -> Row | None:
    found = session.execute(select(csat_answers).where(csat_answers.c.ticket_id == ticket_id)).first()
    return dict(found._mapping) if found else None


def customer_row(session: Session, contact_id: str) -> dict[str, Any] | None:
    found = session.execute(select(customers).where(customers.c.contact_id == contact_id)).first()
    if found is None:
        return None
    tags = session.execute(select(customer_tags.c.tag).where(customer_tags.c.contact_id == contact_id)).scalars()
    return {**found._mapping, "tags": list(tags)}


# -- rebuild from the detail tables ---------------------------------------------------------------

def rebuild(session: Session | Connection, *, revisions: Sequence[str] = ("0008", "0009", "0010")) -> None:
    """Every rollup row again from the detail tables (what `apply` keeps event by event). A
    migration names its own revision: a later one's tables do not exist yet when it runs."""
    if "0008" in revisions:
        _rebuild_0008(session)
    if "0009" in revisions:
        _rebuild_0009(session)
    if "0010" in revisions:
        rebuild_csat(session)
        _rebuild_ticket_days(session)


def _rebuild_0008(session: Session | Connection) -> None:
    for t in (opportunity_rollup, customer_rollup, customer_tag_rollup, lead_rollup, ticket_rollup, ticket_tag_rollup):
        session.execute(delete(t))
    o = opportunities.c
    dims = [o.owner_id, o.team, o.region, o.stage, o.status, o.currency_code, o.probability]
    sums = [func.count(), func.sum(o.amount_units), func.sum(o.amount_units * o.probability), func.sum(o.probability),
            func.coalesce(func.sum(o.cycle_days), 0), func.count(o.cycle_days)]
    cols = ["time_field", "month", "quarter", "owner_id", "team", "region", "stage", "status", "currency_code",
            "probability", "n", "amount_units", "weighted_units", "probability_sum", "cycle_days_sum", "cycle_n"]
    blank = literal("")
    session.execute(insert(opportunity_rollup).from_select(
        cols, select(blank, blank, blank, *dims, *sums).group_by(*dims)))
    for tf in TIME_FIELDS:
        day, quarter = o[f"{tf}_day"], o[f"{tf}_quarter"]
        month = func.substr(day, 1, 7)
        # a quarter is "" for a record without that time (the handlers fill it from the same day)
        session.execute(insert(opportunity_rollup).from_select(
            cols, select(literal(tf), month, func.max(quarter), *dims, *sums).group_by(month, *dims)))
    c = customers.c
    who = [c.owner_id, c.team, c.region]
    names = ["grain", "owner_id", "team", "region", "source", "level", "created_day", "n"]
    grains: list[tuple[str, list[ColumnElement[Any]], list[ColumnElement[Any]]]] = [
        ("", [c.source, c.level, blank], [c.source, c.level]), ("day", [blank, blank, c.created_day], [c.created_day])]
    for grain, keys, by in grains:
        session.execute(insert(customer_rollup).from_select(names, select(
            literal(grain), *who, *keys, func.count()).where(c.live.is_(True)).group_by(*who, *by)))
    tdims: list[ColumnElement[Any]] = [customer_tags.c.tag, c.owner_id, c.team, c.region]
    session.execute(insert(customer_tag_rollup).from_select(
        ["tag", "owner_id", "team", "region", "n"],
        select(*tdims, func.count()).select_from(customer_tags.join(customers, and_(
            customers.c.contact_id == customer_tags.c.contact_id, c.live.is_(True)))).group_by(*tdims)))
    le = leads.c
    _rebuild_timed(session, lead_rollup, leads, ("created",),
                   [le.owner_id, le.team, le.region, le.source, le.status, le.campaign_id], [func.count()])
    tk = tickets.c
    solved = case((tk.resolution_seconds.is_not(None), 1), else_=0)
    breached = case((exists(select(sla_breaches.c.ticket_id).where(sla_breaches.c.ticket_id == tk.ticket_id)), 1),
                    else_=0)
    keys = [tk.status, tk.priority, tk.assignee_id, solved, breached]
    sums = [func.count(), func.coalesce(func.sum(tk.resolution_seconds), 0), func.count(tk.resolution_seconds),
            func.coalesce(func.sum(tk.first_response_seconds), 0), func.count(tk.first_response_seconds)]
    _rebuild_timed(session, ticket_rollup, tickets, ("created", "solved"), keys, sums)
    tag = func.coalesce(ticket_tags.c.tag, tk.type)
    _rebuild_timed(session, ticket_tag_rollup, tickets.outerjoin(ticket_tags, ticket_tags.c.ticket_id == tk.ticket_id),
                   ("created", "solved"), [tag, *keys], sums, detail=tickets)


def rebuild_campaign_revenue(session: Session | Connection) -> None:
    session.execute(delete(campaign_revenue_rollup))
    o = opportunities.c
    money = [o.currency_code, func.count(), func.sum(o.amount_units)]
    cols = ["campaign_id", "touch", "currency_code", "n", "amount_units"]
    for touch, column, extra in (("first", o.first_campaign_id, []), ("last", o.last_campaign_id, []),
                                 ("both", o.first_campaign_id, [o.last_campaign_id == o.first_campaign_id])):
        session.execute(insert(campaign_revenue_rollup).from_select(cols, select(
            column, literal(touch), *money).where(o.status == "won", column != "", *extra)
            .group_by(column, o.currency_code)))


def _rebuild_0009(session: Session | Connection) -> None:
    from crm_reporting.store import email_rollup  # it builds on this module

    for t in (opportunity_day_rollup, tagged_customer_rollup):
        session.execute(delete(t))
    rebuild_campaign_revenue(session)
    o = opportunities.c
    dims = [o.owner_id, o.team, o.region, o.stage, o.status, o.currency_code, o.probability]
    sums = [func.count(), func.sum(o.amount_units), func.sum(o.amount_units * o.probability), func.sum(o.probability),
            func.coalesce(func.sum(o.cycle_days), 0), func.count(o.cycle_days)]
    cols = ["time_field", "day", "week", "quarter", "owner_id", "team", "region", "stage", "status", "currency_code",
            "probability", "n", "amount_units", "weighted_units", "probability_sum", "cycle_days_sum", "cycle_n"]
    for tf in TIME_FIELDS:
        day = o[f"{tf}_day"]
        session.execute(insert(opportunity_day_rollup).from_select(cols, select(
            literal(tf), day, func.max(o[f"{tf}_week"]), func.max(o[f"{tf}_quarter"]), *dims, *sums)
            .where(day != "").group_by(day, *dims)))
    c, ct = customers.c, customer_tags.c
    other = customer_tags.alias("other_tags")
    tagged = customer_tags.join(customers, and_(c.contact_id == ct.contact_id, c.live.is_(True)))
    blank = literal("")
    names = ["tag", "grain", "owner_id", "team", "region", "source", "level", "created_day", "other_tag", "n"]
    grains: list[tuple[str, Any, list[ColumnElement[Any]], list[ColumnElement[Any]]]] = [
        ("", tagged, [c.source, c.level, blank, blank], [c.source, c.level]),
        ("day", tagged, [blank, blank, c.created_day, blank], [c.created_day]),
        ("tag", tagged.join(other, other.c.contact_id == ct.contact_id), [blank, blank, blank, other.c.tag],
         [other.c.tag]),
    ]
    for grain, source, keys, by in grains:
        session.execute(insert(tagged_customer_rollup).from_select(names, select(
            ct.tag, literal(grain), c.owner_id, c.team, c.region, *keys, func.count()).select_from(source)
            .group_by(ct.tag, c.owner_id, c.team, c.region, *by)))
    email_rollup.rebuild(session)


def rebuild_csat(session: Session | Connection) -> None:
    session.execute(delete(csat_day_rollup))
    cs = csat_answers.c
    keys = [cs.answered_day, cs.assignee_id, cs.rating]
    session.execute(insert(csat_day_rollup).from_select(
        ["time_field", "day", "assignee_id", "rating", "week", "quarter", "n", "rating_sum"],
        select(literal("answered"), *keys, func.max(cs.answered_week), func.max(cs.answered_quarter), func.count(),
               func.sum(cs.rating)).group_by(*keys)))


def _rebuild_ticket_days(session: Session | Connection) -> None:
    session.execute(delete(ticket_day_rollup))
    tk = tickets.c
    solved = case((tk.resolution_seconds.is_not(None), 1), else_=0)
    breached = case((exists(select(sla_breaches.c.ticket_id).where(sla_breaches.c.ticket_id == tk.ticket_id)), 1),
                    else_=0)
    ticket_sums: list[ColumnElement[Any]] = [
        func.count(), func.coalesce(func.sum(tk.resolution_seconds), 0), func.count(tk.resolution_seconds),
        func.coalesce(func.sum(tk.first_response_seconds), 0), func.count(tk.first_response_seconds)]
    keys = [tk.status, tk.priority, tk.assignee_id, solved, breached]
    names = [c.name for c in ticket_day_rollup.c]
    for tf in ("created", "solved"):
        day = tk[f"{tf}_day"]
        session.execute(insert(ticket_day_rollup).from_select(
            ["time_field", "day", *names[2:2 + len(keys)], "week", "quarter", *_TICKET_SUMS],
            select(literal(tf), day, *keys, func.max(tk[f"{tf}_week"]), func.max(tk[f"{tf}_quarter"]), *ticket_sums)
            .where(day != "").group_by(day, *keys)))


def _rebuild_timed(session: Session | Connection, rollup: Table, source: Any, time_fields: Sequence[str],
                   keys: Sequence[ColumnElement[Any]], sums: Sequence[ColumnElement[Any]],
                   detail: Table | None = None) -> None:
    """The all-time rows and the rows per month of each time field: `keys` then time_field, month
    and quarter in the rollup's column order, `sums` its measure columns."""
    table = detail if detail is not None else source
    names = [c.name for c in rollup.c]
    key_names = [n for n in names if n not in ("time_field", "month", "quarter")][:len(keys)]
    sum_names = names[len(names) - len(sums):]
    blank = literal("")
    selects: list[tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any], list[ColumnElement[Any]]]] = [
        (blank, blank, blank, [])]
    for tf in time_fields:
        month = func.substr(table.c[f"{tf}_day"], 1, 7)
        selects.append((literal(tf), month, func.max(table.c[f"{tf}_quarter"]), [month]))
    for tf_value, month_value, quarter_value, group in selects:
        columns = {"time_field": tf_value, "month": month_value, "quarter": quarter_value,
                   **dict(zip(key_names, keys, strict=True)), **dict(zip(sum_names, sums, strict=True))}
        session.execute(insert(rollup).from_select(
            list(columns), select(*columns.values()).select_from(source).group_by(*group, *keys)))
