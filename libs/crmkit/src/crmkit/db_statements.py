"""Statements SQLAlchemy cannot cache, made cacheable. An `on_conflict_do_update` / `do_nothing`
INSERT has no cache key (SQLAlchemy 2.0), so it is compiled again on every execution: for a
rollup upsert run per event that compiling was most of the consumer's CPU. Rendered once into a
`text()` with a typed bindparam per column, the same SQL is served from the compiled cache and
each value still goes through its column type's bind processing."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert

# Rendered with named placeholders (`:col`), which text() parses and re-renders in the driver's own style.
_NAMED: dict[str, Dialect] = {"sqlite": sqlite.dialect(paramstyle="named"),
                              "postgresql": postgresql.dialect(paramstyle="named")}


def as_text(stmt: Insert, dialect_name: str, column_keys: Sequence[str]) -> TextClause:
    """`stmt`, an INSERT into one table taking `column_keys` as its parameters, as the SQL it
    compiles to on `dialect_name` ("sqlite" or "postgresql"). Build it once and keep it."""
    dialect = _NAMED.get(dialect_name)
    if dialect is None:
        raise ValueError(f"no named-parameter dialect for {dialect_name!r}")
    compiled = stmt.compile(dialect=dialect, column_keys=list(column_keys))
    if set(compiled.binds) != set(column_keys):  # a literal or default bound by the construct itself
        raise ValueError(f"{stmt.table} binds {sorted(compiled.binds)}, not only {sorted(column_keys)}")
    table = stmt.table
    return text(compiled.string).bindparams(*(bindparam(k, type_=table.c[k].type) for k in column_keys))
