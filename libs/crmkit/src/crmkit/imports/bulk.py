"""Bulk writes of an import batch: rows straight to the driver's executemany.

SQLAlchemy's executemany builds and processes a parameter set per row (about 20 µs a row on this
machine), more than SQLite spends storing the row; an import batch writes thousands of rows with
the same columns, so the statement is rendered once per table and column set and each value goes
through its column type's own bind processor only (what SQLAlchemy itself would send)."""
from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]                              # the row's keys, in the statement's order
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: tuple[Any, ...]                           # scalar defaults of the columns rows leave out


_plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}
_NOTHING = object()  # no value seen yet (None is a value)


def _plan(dialect: Dialect, table: Table, names: tuple[str, ...]) -> _Plan:
    key = (dialect.name, table.fullname, names)
    found = _plans.get(key)
    if found is not None:
        return found
    unknown = [n for n in names if n not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    absent = [c for c in table.c if c.name not in names and c.default is not None and c.default.is_scalar]
    columns = [table.c[n] for n in names] + absent
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"  # SQLite; psycopg (format / pyformat)
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
           f"({', '.join(quote(c.name) for c in columns)}) VALUES ({', '.join(mark for _ in columns)})")
    processors = tuple(c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
    defaults = tuple(getattr(c.default, "arg", None) for c in absent)
    found = _Plan(sql, names, processors, defaults)
    _plans[key] = found
    return found


def insert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, as `insert(table)` would take them) in one
    executemany on the driver."""
    if not rows:
        return
    plan = _plan(conn.dialect, table, tuple(rows[0]))
    names, defaults = plan.names, plan.defaults
    # only the columns whose type processes a value: most (text, integers) pass it as it is
    processors = [(i, process) for i, process in enumerate(plan.processors) if process is not None]
    # per processed column, the last value and what it became: a batch's rows share one time (its
    # `now`, the same object), converted once instead of per row (a processor is a pure function)
    last: list[tuple[Any, Any]] = [(_NOTHING, None)] * len(plan.processors)
    width = len(names)
    pick = operator.itemgetter(*names) if width > 1 else None  # of one name it gives the value, not a tuple
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(pick(row)) if pick is not None else [row[n] for n in names]
        values.extend(defaults)
        for i, process in processors:
            value = values[i]
            before, processed = last[i]
            if value is not before:
                processed = process(value)
                last[i] = (value, processed)
            values[i] = processed
        params.append(tuple(values))
        if len(row) != width:
            raise ValueError(f"rows for {table.name} must all have the same columns")
    conn.exec_driver_sql(plan.sql, params)
