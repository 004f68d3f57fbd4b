"""The query builder: a `Query` of catalogue names → one grouped SELECT over one read model, with
the caller's visibility in its WHERE clause; and the drill-down, the same WHERE plus a row's keys
and the measure's own condition, listing the record ids a figure counts.

Every name is checked against the catalogue first; an unknown one is INVALID_ARGUMENT naming the
field (`query.dimensions`, `query.filters[2].op` ...), so nothing a client sends reaches SQL but
bound values."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from google.protobuf.struct_pb2 import NULL_VALUE, ListValue
from sqlalchemy import Column, ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import replacement_traverse

from crm.reporting.v1.reporting_pb2 import DrillDownResult, Query, QueryColumn, QueryResult
from crm_reporting.analytics.catalogue import FILTER_OPS, GRAINS, SOURCES, Dimension, Measure, Source, tag_exists
from crm_reporting.store import events_applied
from crm_reporting.tables import ticket_tags
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.paging import decode_cursor, encode_cursor, page_size

DEFAULT_LIMIT, MAX_LIMIT = 1000, 10_000
PERIOD = "period"
_MULTI = ("in", "not_in")


@dataclass(frozen=True)
class Plan:
    """A checked query: its source, group expressions (period first), measures and WHERE."""

    query: Query                       # with the defaults filled in (currency, time field)
    source: Source
    groups: list[tuple[str, str, ColumnElement[Any]]]   # (name, label, expression)
    measures: list[Measure]
    where: list[ColumnElement[bool]]
    join_tags: bool
    grouped: list[Dimension]           # the dimensions (without the period)
    scope: list[ColumnElement[bool]]   # visibility and filters: `where` without the time window


def _known(kind: str, name: str, known: Sequence[str], where: str) -> InvalidArgument:
    return InvalidArgument(f"unknown {kind} {name!r}; one of: {', '.join(known)}", field=where)


def _day(value: str, where: str) -> str:
    try:
        return date.fromisoformat(value).isoformat() if len(value) == 10 else _raise(where)
    except ValueError:
        return _raise(where)


def _raise(where: str) -> str:
    raise InvalidArgument("use YYYY-MM-DD", field=where)


def plan(query: Query, principal: Principal, *, field: str = "query") -> Plan:
    """Check `query` against the catalogue and build its parts; `field` prefixes error fields."""
    source = SOURCES.get(query.source)
    if source is None:
        raise _known("source", query.source, list(SOURCES), f"{field}.source")
    filled = Query()
    filled.CopyFrom(query)
    if not query.measures:
        raise InvalidArgument("name at least one measure", field=f"{field}.measures")
    measures = []
    for i, name in enumerate(query.measures):
        if name not in source.measures:
            raise _known(f"measure of {source.name}", name, list(source.measures), f"{field}.measures[{i}]")
        measures.append(source.measures[name])
    dims: list[Dimension] = []
    for i, name in enumerate(query.dimensions):
        if name not in source.dimensions:
            raise _known(f"dimension of {source.name}", name, list(source.dimensions), f"{field}.dimensions[{i}]")
        if name in query.dimensions[:i]:
            raise InvalidArgument(f"dimension {name!r} named twice", field=f"{field}.dimensions[{i}]")
        dims.append(source.dimensions[name])

    time_field = query.time_field or source.time_fields[0]
    if time_field not in source.time_fields:
        raise _known(f"time field of {source.name}", time_field, list(source.time_fields), f"{field}.time_field")
    filled.time_field = time_field
    if query.time_grain and query.time_grain not in GRAINS:
        raise _known("time grain", query.time_grain, list(GRAINS), f"{field}.time_grain")

    where: list[ColumnElement[bool]] = [source.visible(principal)]
    scope = where
    where = []
    day = source.table.c[f"{time_field}_day"]
    if query.time_grain or query.from_day or query.to_day:
        where.append(day != "")          # a record without that time has no period
    if query.from_day:
        where.append(day >= _day(query.from_day, f"{field}.from_day"))
    if query.to_day:
        where.append(day <= _day(query.to_day, f"{field}.to_day"))
    if query.from_day and query.to_day and query.from_day > query.to_day:
        raise InvalidArgument("must not be before from_day", field=f"{field}.to_day")
    single_currency = False
    for i, f in enumerate(query.filters):
        scope.append(_filter(source, f.field, f.op or "eq", list(f.values), f"{field}.filters[{i}]"))
        single_currency |= f.field == "currency" and (f.op or "eq") == "eq"

    # Amounts are never added across currencies: an amount measure groups by currency as well.
    if any(m.unit == "amount" for m in measures) and "currency" not in query.dimensions and not single_currency:
        filled.dimensions.append("currency")
        dims.append(source.dimensions["currency"])

    groups = [(d.name, d.label, d.expr) for d in dims]
    if query.time_grain:
        groups.insert(0, (PERIOD, f"{time_field} ({query.time_grain})", source.period(time_field, query.time_grain)))
    if query.limit < 0 or query.limit > MAX_LIMIT:
        raise InvalidArgument(f"between 0 and {MAX_LIMIT}", field=f"{field}.limit")
    columns = {name for name, _, _ in groups} | set(query.measures)
    if query.order_by and query.order_by.removeprefix("-") not in columns:
        raise _known("column to order by", query.order_by, sorted(columns), f"{field}.order_by")
    return Plan(filled, source, groups, measures, [*scope, *where], any(d.join_tags for d in dims), dims, scope)


def _filter(source: Source, name: str, op: str, values: list[str], where: str) -> ColumnElement[bool]:
    dim = source.filterable(name)
    if dim is None:
        raise _known(f"filter field of {source.name}", name, [*source.dimensions, *source.filter_only],
                     f"{where}.field")
    if op not in FILTER_OPS:
        raise _known("filter op", op, list(FILTER_OPS), f"{where}.op")
    if op in _MULTI and not values:
        raise InvalidArgument(f"{op} needs at least one value", field=f"{where}.values")
    if op not in _MULTI and len(values) != 1:
        raise InvalidArgument(f"{op} takes exactly one value", field=f"{where}.values")
    typed: list[Any] = values
    if dim.type == "number" and op == "contains":   # PostgreSQL has no LIKE on an integer
        raise InvalidArgument(f"contains is for text fields; {name} is a number", field=f"{where}.op")
    if dim.type == "number":
        try:
            typed = [int(v) for v in values]
        except ValueError:
            raise InvalidArgument("a whole number", field=f"{where}.values") from None
        if any(abs(v) >= 2**63 for v in typed):   # beyond what the database binds as an integer
            raise InvalidArgument("a whole number of at most 18 digits", field=f"{where}.values")
    expr = ticket_tags.c.tag if dim.join_tags else dim.expr
    clause: ColumnElement[bool]
    if op == "eq":
        clause = expr == typed[0]
    elif op == "ne":
        clause = expr != typed[0]
    elif op == "in":
        clause = expr.in_(typed)
    elif op == "not_in":
        clause = expr.not_in(typed)
    elif op == "gte":
        clause = expr >= typed[0]
    elif op == "lte":
        clause = expr <= typed[0]
    else:
        clause = expr.contains(str(typed[0]), autoescape=True)
    if dim.join_tags:   # on the ticket's tags: has such a tag (ne / not_in: has none of them)
        if op in ("ne", "not_in"):
            return ~tag_exists(ticket_tags.c.tag.in_(typed))
        return tag_exists(clause)
    return clause


def _from(p: Plan, stmt: Select[Any]) -> Select[Any]:
    stmt = stmt.select_from(p.source.table)
    if p.join_tags:
        stmt = stmt.outerjoin(ticket_tags, ticket_tags.c.ticket_id == p.source.id_column)
    return stmt


def run(session: Session, query: Query, principal: Principal, *, title: str = "", field: str = "query",
        use_rollup: bool = True) -> QueryResult:
    """`use_rollup`: read the source's rollup when it covers the query (False: the detail table,
    for the bench's before / after and the tests' rollup == detail)."""
    p = plan(query, principal, field=field)
    on_rollup = rollup_statement(p) if use_rollup else None
    parts = [part for m in p.measures for part in m.parts]
    keys = [expr for _, _, expr in p.groups]
    rows: list[tuple[list[str], list[float | None]]] = []
    stmt = on_rollup if on_rollup is not None else _from(p, select(*keys, *parts)).where(*p.where)
    if keys and on_rollup is None:
        stmt = stmt.group_by(*keys)
    sums = [0] * len(parts)
    at_currency = next((i for i, (name, _, _) in enumerate(p.groups) if name == "currency"), None)
    currencies: set[str] = set()
    for row in session.execute(stmt):
        values = list(row)
        names = ["" if v is None else str(v) for v in values[:len(keys)]]
        rows.append((names, _finish(p.measures, values[len(keys):])))
        sums = [a + (b or 0) for a, b in zip(sums, values[len(keys):], strict=True)]
        if at_currency is not None:
            currencies.add(names[at_currency])
    if p.join_tags:   # a ticket is in one row per tag: its total is counted without the join
        on_totals = rollup_statement(p, totals=True) if on_rollup is not None else None
        sums = list(session.execute(on_totals if on_totals is not None else
                                    select(*parts).select_from(p.source.table).where(*p.where)).one())
    # every part is a SUM, so the totals are the sums of the groups' parts
    totals = _finish(p.measures, sums)
    if len(currencies) > 1:   # an amount over rows in several currencies has no total (null)
        totals = [None if m.unit == "amount" else v for m, v in zip(p.measures, totals, strict=True)]
    if keys:
        rows = _sorted(p, rows)
    result = QueryResult(title=title, query=p.query, events_applied=events_applied(session))
    numeric = {d.name for d in p.grouped if d.type == "number"}  # a rating's keys are numbers (an export writes them so)
    result.columns.extend(QueryColumn(name=n, label=label, kind="dimension", unit="number" if n in numeric else "text")
                          for n, label, _ in p.groups)
    result.columns.extend(QueryColumn(name=m.name, label=m.label, kind="measure", unit=m.unit) for m in p.measures)
    if keys:   # filled in place: building each row's ListValue and copying it in cost twice as much
        for names, values in rows[:p.query.limit or DEFAULT_LIMIT]:
            added = result.rows.add()
            added.keys.extend(names)
            _fill(added.values, values)
    _fill(result.totals, totals)
    return result


def _month_end(day: str) -> bool:
    d = date.fromisoformat(day)
    return (d + timedelta(days=1)).month != d.month


def rollup_statement(p: Plan, *, totals: bool = False) -> Select[Any] | None:
    """The query over the source's rollup, or None when the rollup does not cover it: a dimension
    or filter it does not keep (campaigns, the expected quarter, a ticket's tags as a filter), or
    a week or day grain or a window that does not start and end on whole months where the source
    has no rollup per day (opportunities have one). `totals`: the query's totals, without its
    groups (over the tag rollup a ticket counts once per tag). A source with a day rollup only
    (CSAT, whose every answer has its one time) reads it for every grain, all-time included."""
    days_only = p.source.rollup is None
    main = p.source.day_rollup if days_only else p.source.rollup
    if main is None:
        return None
    q = p.query
    by_day = days_only or q.time_grain in ("day", "week") or bool(
        q.from_day and q.from_day[8:] != "01" or q.to_day and not _month_end(q.to_day))
    by_tag = p.join_tags and not totals
    if by_day and by_tag:
        return None
    rollup = p.source.day_rollup if by_day else p.source.tag_rollup if by_tag else main
    if rollup is None:
        return None
    detail = p.source.table

    def adapt(expr: ColumnElement[Any]) -> ColumnElement[Any] | None:
        """`expr` over the rollup's columns of the same names; None when one is not there."""
        missing: list[str] = []

        def swap(element: Any) -> Any:
            if isinstance(element, Column) and element.table is not rollup:
                if element.table in (detail, main) and element.name in rollup.c:
                    return rollup.c[element.name]
                missing.append(element.name)
            return None

        out: ColumnElement[Any] = replacement_traverse(expr, {}, swap)  # type: ignore[call-overload]
        return None if missing else out

    r = rollup.c
    timed = bool(q.time_grain or q.from_day or q.to_day)
    where: list[ColumnElement[bool]] = [r.time_field == (q.time_field if timed or days_only else "")]
    if by_day:         # only days with that time are kept
        where += [r.day >= q.from_day] if q.from_day else []
        where += [r.day <= q.to_day] if q.to_day else []
    else:
        where += [r.month != ""] if timed else []
        where += [r.month >= q.from_day[:7]] if q.from_day else []
        where += [r.month <= q.to_day[:7]] if q.to_day else []
    for clause in p.scope:
        adapted = adapt(clause)
        if adapted is None:
            return None
        where.append(adapted)
    keys: list[ColumnElement[Any]] = []
    if q.time_grain and not totals and by_day:
        keys.append({"day": r.day, "week": r.week, "month": func.substr(r.day, 1, 7), "quarter": r.quarter,
                     "year": func.substr(r.day, 1, 4)}[q.time_grain])
    elif q.time_grain and not totals:
        keys.append({"month": r.month, "quarter": r.quarter, "year": func.substr(r.month, 1, 4)}[q.time_grain])
    for d in [] if totals else p.grouped:
        adapted = r.tag if d.join_tags else adapt(d.expr)
        if adapted is None:
            return None
        keys.append(adapted)
    parts: list[ColumnElement[Any]] = []
    for m in p.measures:
        if len(m.rollup) != len(m.parts):
            return None
        for condition, column in m.rollup:
            adapted = adapt(condition)
            if adapted is None:
                return None
            parts.append(func.sum(case((adapted, r[column]), else_=0)))
    stmt = select(*keys, *parts).select_from(rollup).where(*where)
    return stmt.group_by(*keys) if keys else stmt


def _finish(measures: list[Measure], values: list[Any]) -> list[float | None]:
    out, at = [], 0
    for m in measures:
        out.append(m.finish(values[at:at + len(m.parts)]))
        at += len(m.parts)
    return out


def _sorted(p: Plan, rows: list[tuple[list[str], list[float | None]]]) -> list[tuple[list[str], list[float | None]]]:
    rows.sort(key=lambda r: r[0])          # by the keys: periods in time order
    order = p.query.order_by
    if not order:
        return rows
    name, descending = order.removeprefix("-"), order.startswith("-")
    group_names = [g[0] for g in p.groups]
    if name in group_names:
        i = group_names.index(name)
        return sorted(rows, key=lambda r: r[0][i], reverse=descending)
    j = list(p.query.measures).index(name)
    present = [r for r in rows if r[1][j] is not None]
    missing = [r for r in rows if r[1][j] is None]     # a null comes last either way
    return sorted(present, key=lambda r: r[1][j] or 0.0, reverse=descending) + missing


def _list(values: Sequence[float | None]) -> ListValue:
    return _fill(ListValue(), values)


def _fill(out: ListValue, values: Sequence[float | None]) -> ListValue:
    """Append `values` to `out` (None as null)."""
    added = out.values
    for v in values:
        if v is None:
            added.add().null_value = NULL_VALUE
        else:
            added.add().number_value = v
    return out


def _typed_key(source: Source, name: str, key: str, where: str) -> str | int:
    """A row's key as its column compares: a number dimension's (a CSAT rating) as a number, since
    PostgreSQL has no integer = varchar (SQLite converted it silently)."""
    dim = source.dimensions.get(name)
    if dim is None or dim.type != "number":
        return key
    try:
        number = int(key)
    except ValueError:
        raise InvalidArgument(f"{name} is a whole number", field=where) from None
    if abs(number) >= 2**63:
        raise InvalidArgument(f"{name} is a whole number of at most 18 digits", field=where)
    return number


def drill(session: Session, query: Query, principal: Principal, *, keys: Sequence[str], measure: str,
          page_token: str, size: int, field: str = "query") -> DrillDownResult:
    """The ids of the records behind one row (its keys) or the total (no keys) of one measure."""
    p = plan(query, principal, field=field)
    where = list(p.where)
    if keys:
        if len(keys) != len(p.groups):
            raise InvalidArgument(f"give one key per dimension: {', '.join(g[0] for g in p.groups)}", field="keys")
        for i, ((name, _, expr), key) in enumerate(zip(p.groups, keys, strict=True)):
            where.append(expr == _typed_key(p.source, name, key, f"keys[{i}]"))
    name = measure or p.query.measures[0]
    chosen = next((m for m in p.measures if m.name == name), None)
    if chosen is None:
        raise _known("measure of this query", name, list(p.query.measures), "measure")
    where.append(chosen.where)
    ident = p.source.id_column
    join = p.join_tags and bool(keys)
    base = select(ident).select_from(p.source.table)
    if join:
        base = base.outerjoin(ticket_tags, ticket_tags.c.ticket_id == ident)
    base = base.where(*where).distinct()
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    start = decode_cursor(page_token) if page_token else 0
    size = page_size(size, default=100, maximum=1000)
    ids = [r[0] for r in session.execute(base.order_by(ident).offset(start).limit(size))]
    result = DrillDownResult(source=p.source.name, record=p.source.record, ids=ids, total=total)
    result.page.SetInParent()
    if start + size < total:
        result.page.next_page_token = encode_cursor(start + size)
    return result
