"""The use cases on the real schema: a SQLite file migrated by the service's own migrations
(copied from a template made once per session), no server, no NATS: milliseconds per test."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from google.protobuf.message import Message
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm_contacts.bootstrap import MIGRATIONS
from crm_devtools.users import DEMO_USERS
from crmkit.auth import Principal
from crmkit.db import Database, UnitOfWork
from crmkit.events import parse_envelope, unpack_payload
from crmkit.testing import migrated_database

T = TypeVar("T")
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
USERS: dict[str, Principal] = {
    **DEMO_USERS,
    "support.1": Principal("support.1", ("support",), "support", ""),
    "mkt.1": Principal("mkt.1", ("marketing",), "marketing", "north"),
    # sees the north team's customers (a manager), and is finance: never what was said
    "finance.north": Principal("finance.north", ("finance", "manager"), "north-sales", "north"),
}


class Contacts:
    """The service's use cases as the servicer runs them: `write(fn)` calls fn(uow) in one unit of
    work and commits it (an error rolls everything back), `read(fn)` calls fn(session); the
    events every committed write emitted are kept in `events`. `users` are the demo users plus a
    support agent, a marketer and a finance manager; `now` is a fixed time."""

    now = NOW  # every write's clock, unless a test says otherwise
    users = USERS

    def __init__(self, db: Database) -> None:
        self.db = db
        self.events: list[EventEnvelope] = []

    def write(self, fn: Callable[[UnitOfWork], T]) -> T:
        with self.db.unit_of_work() as uow:
            result = fn(uow)
            uow.commit()
        self.events.extend(parse_envelope(e.data) for e in uow.events)
        return result

    def read(self, fn: Callable[[Session], T]) -> T:
        with self.db.read() as session:
            return fn(session)

    def count(self, table: Table) -> int:
        return self.read(lambda s: s.execute(select(func.count()).select_from(table)).scalar_one())

    def rows(self, table: Table) -> list[Any]:
        return self.read(lambda s: list(s.execute(select(table)).all()))

    def subjects(self) -> list[str]:
        return [env.event_type for env in self.events]

    def payload(self, index: int = -1) -> Message:
        return unpack_payload(self.events[index])


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = migrated_database(MIGRATIONS, tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def contacts(db: Database) -> Contacts:
    return Contacts(db)
