"""Fixtures shared by every test folder: real servers, no mocks."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from crmkit.testing import NatsServer, fresh_postgres_database, postgres_reachable

JWT_SECRET = "test-secret-for-shuniu-crm-0123456789"
# Services announce NOT_SERVING for 1 s before stopping in production; tests restart them a lot.
os.environ.setdefault("SHUTDOWN_ANNOUNCE_SECONDS", "0.1")


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A nats-server per test module. Events persist in its streams, and a service's durable
    consumer reads them from the start: with one server for the session, a module's consumer would
    replay every earlier module's events, whose sealed fields wait for producers that have stopped
    (crmkit.shredding), and stall once 1,000 of them are pending."""
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


def _db_params() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(
        not postgres_reachable(), reason="PostgreSQL at 127.0.0.1:5432 not reachable")))
    return params


@pytest.fixture(params=_db_params())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file always, PostgreSQL too when it is reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url
