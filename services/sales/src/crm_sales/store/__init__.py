"""Persistence, one module per kind of row: each record is its protobuf snapshot (`data`) plus the
columns queries filter, sort, aggregate and check visibility on, kept in step on every save.
Plain functions over a SQLAlchemy session; no rules. Hot statements are built once at import and
run with parameters: building `insert(t).values(...)` or `select(...).where(t.c.id == value)` per
call (coercing values, computing the cache key) cost more than the SQL they run. Placeholders are
never column names ("record_id", not "id")."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import CursorResult, Executable
from sqlalchemy.orm import Session


def changed(session: Session, statement: Executable, params: Mapping[str, Any] | None = None) -> int:
    """How many rows an UPDATE or DELETE changed."""
    return cast(CursorResult[Any], session.execute(statement, params)).rowcount
