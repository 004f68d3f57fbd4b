"""Use cases against a migrated SQLite file (crmkit.testing.migrated_database) with fakes at the
ports: each test in milliseconds, no servers."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_sales import bootstrap
from crmkit.db import Database, UnitOfWork
from crmkit.runtime_tables import outbox_row
from crmkit.testing import migrated_database

T = TypeVar("T")


class Sales:
    """The service's database as a use case sees it: `write(fn)` runs fn(uow) in one committed
    unit of work (as the servicer's transaction owner does), `read(fn)` in a read session."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, fn: Callable[[UnitOfWork], T]) -> T:
        with self.db.unit_of_work() as uow:
            result = fn(uow)
            uow.commit()
            return result

    def read(self, fn: Callable[[Session], T]) -> T:
        with self.db.read() as session:
            return fn(session)

    def events(self) -> list[str]:
        """Subjects written to the outbox so far, in order."""
        return self.read(lambda s: [str(x) for x in s.execute(select(outbox_row.c.subject).order_by(outbox_row.c.id))
                                    .scalars()])


@pytest.fixture
def sales(tmp_path: Path) -> Iterator[Sales]:
    db = migrated_database(bootstrap.MIGRATIONS, tmp_path)
    try:
        yield Sales(db)
    finally:
        db.dispose()
