"""Reporting's unit tests run on the real schema: a SQLite file migrated by the service's own
migrations (copied from a template made once per session), one write transaction per test."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from crm_reporting.bootstrap import MIGRATIONS
from crmkit.db import Database, UnitOfWork
from crmkit.testing import migrated_database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = migrated_database(MIGRATIONS, tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def uow(db: Database) -> Iterator[UnitOfWork]:
    """One transaction for the whole test, rolled back at the end (as a consumer batch would be
    on failure): what the handlers write is read back by the use cases in the same session."""
    with db.unit_of_work() as unit:
        yield unit


@pytest.fixture
def session(uow: UnitOfWork) -> Session:
    return uow.session
