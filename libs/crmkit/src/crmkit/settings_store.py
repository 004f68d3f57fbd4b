"""A service's settings as one versioned protobuf document in a (key, version, data) table: read
by nearly every write, so the read is a prebuilt statement; the version is the document's own
(the caller bumps it and checks If-Match with crmkit.records.check_version)."""
from __future__ import annotations

from typing import Generic, TypeVar

from google.protobuf.message import Message
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

M = TypeVar("M", bound=Message)


class SettingsDocument(Generic[M]):
    def __init__(self, table: Table, key: str, message: type[M]) -> None:
        self.key, self.message = key, message
        self._load = select(table.c.data).where(table.c.key == key)
        self._exists = select(table.c.key).where(table.c.key == key)
        self._update = update(table).where(table.c.key == key).values(
            version=bindparam("version"), data=bindparam("data"))
        self._insert = insert(table).values(key=key, version=bindparam("version"), data=bindparam("data"))

    def load(self, session: Session) -> M | None:
        """The stored document, or None when it was never saved (the service's defaults apply)."""
        row = session.execute(self._load).scalar_one_or_none()
        return None if row is None else self.message.FromString(row)

    def save(self, session: Session, value: M) -> None:
        values = {"version": getattr(value, "version", 0), "data": value.SerializeToString()}
        statement = self._update if session.execute(self._exists).first() else self._insert
        session.execute(statement, values)
