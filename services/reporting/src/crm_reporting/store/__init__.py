"""The read models' store: one row per aggregate kept at its newest version (an older or equal
version is ignored, so redelivered or reordered snapshot events converge to the same row), and how
many events this service has applied."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Insert, Select, Table, Update, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from crmkit.runtime_tables import inbox_row

# The service's name: its durable on every stream, and the consumer its inbox rows name.
CONSUMER = "reporting"

# (version lookup, insert, update) per table, built once: building them per event cost more than
# the SQL they run. The key's placeholder is "key_value", never a column name being set.
_statements: dict[tuple[str, str], tuple[Select[Any], Insert, Update]] = {}
_EVENTS_APPLIED = select(func.count()).select_from(inbox_row).where(inbox_row.c.consumer == CONSUMER)


def _prepared(table: Table, key: Column[Any]) -> tuple[Select[Any], Insert, Update]:
    found = _statements.get((table.name, key.name))
    if found is None:
        where = key == bindparam("key_value")
        found = _statements[(table.name, key.name)] = (
            select(table.c.version).where(where), insert(table), update(table).where(where),
        )
    return found


def upsert_newest(session: Session, table: Table, key: Column[Any], key_value: str, version: int,
                  values: dict[str, Any]) -> bool:
    """Insert or update the row of `key_value` unless it is already at `version` or newer."""
    version_of, insert_row, update_row = _prepared(table, key)
    current = session.execute(version_of, {"key_value": key_value}).scalar_one_or_none()
    if current is not None and current >= version:
        return False
    if current is None:
        session.execute(insert_row, {key.name: key_value, "version": version, **values})
    else:
        session.execute(update_row, {"key_value": key_value, "version": version, **values})
    return True


def events_applied(session: Session) -> int:
    """Every event the consumer took in (one inbox row each), counted or not."""
    return int(session.execute(_EVENTS_APPLIED).scalar_one())
