"""Use cases against a migrated SQLite file (the real schema) and fakes at the ports."""
from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from crm_support import bootstrap
from crmkit.db import Database, UnitOfWork
from crmkit.runtime_tables import outbox_row
from crmkit.testing import migrated_database

R = TypeVar("R")


class Store:
    """The database under test: `write(fn)` runs fn(uow) in one committed unit of work (what the
    servicer's transaction owner does), `read(fn)` fn(session); `events()` the outbox subjects."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, fn: Callable[[UnitOfWork], R]) -> R:
        with self.db.unit_of_work() as uow:
            result = fn(uow)
            uow.commit()
            return result

    def read(self, fn: Callable[..., R]) -> R:
        with self.db.read() as session:
            return fn(session)

    def events(self) -> list[str]:
        with self.db.read() as session:
            return list(session.execute(select(outbox_row.c.subject).order_by(outbox_row.c.id)).scalars())


def _load_fakes() -> Any:
    """tests/fakes.py, by path: test folders are not packages (--import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location("crm_support_test_fakes", Path(__file__).parents[1] / "fakes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fakes = _load_fakes()


@pytest.fixture
def contacts() -> Any:
    return fakes.FakeContactsPort()


@pytest.fixture
def mailer() -> Any:
    return fakes.FakeMailer()


@pytest.fixture
def sender() -> Any:
    return fakes.FakeChannelSender()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = migrated_database(bootstrap.spec().migrations, tmp_path)
    yield Store(db)
    db.dispose()
