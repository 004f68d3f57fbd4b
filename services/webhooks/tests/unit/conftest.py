"""Fixtures of the use-case tests: the real schema on a SQLite file, a manual clock, and the worker
with fakes at its ports."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm_webhooks import bootstrap, jobs
from crm_webhooks.rules.backoff import Schedule
from crmkit.db import Database
from crmkit.testing import ManualClock, migrated_database

from ..fakes import BOX, FakeResolver, FakeSender

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return migrated_database(bootstrap.MIGRATIONS, tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def how(sender: FakeSender) -> jobs.Delivering:
    return jobs.Delivering(box=BOX, schedule=Schedule(base=30.0), resolver=FakeResolver(), sender=sender,
                           jitter=lambda: 0.5)
