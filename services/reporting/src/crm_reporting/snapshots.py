"""Keeps one row per aggregate at its newest version: an older or equal version is ignored, so
redelivered or reordered snapshot events converge to the same row."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, insert, select, update
from sqlalchemy.orm import Session


def upsert_newest(session: Session, table: Table, key: Column[Any], key_value: str, version: int,
                  values: dict[str, Any]) -> bool:
    current = session.execute(select(table.c.version).where(key == key_value)).scalar_one_or_none()
    if current is not None and current >= version:
        return False
    if current is None:
        session.execute(insert(table).values({key.name: key_value, "version": version, **values}))
    else:
        session.execute(update(table).where(key == key_value).values(version=version, **values))
    return True
