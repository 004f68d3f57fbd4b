"""/api/v1/reports/sales and /api/v1/reports/support through the gateway against the real
reporting service (in-process, SQLite, a real nats-server), its read models seeded directly."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm.support.v1 import events_pb2 as tev
from crm.support.v1.support_pb2 import Ticket
from crm_devtools.users import DEMO_USERS
from crm_reporting import bootstrap as reporting_bootstrap
from crm_reporting.handlers import sales as sales_handlers
from crm_reporting.handlers import support as support_handlers
from crmkit.auth import mint_token
from crmkit.config import ServiceSettings
from crmkit.db import Database
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import NatsServer

SECRET = "gateway-test-secret"  # the gateway conftest's


def _seed(url: str) -> None:
    db = Database(url)
    with db.unit_of_work() as uow:
        s = uow.session
        for oid, status, amount in (("o1", "open", "100.5"), ("o2", "won", "200"), ("o3", "lost", "10")):
            o = Opportunity(id=oid, version=1, stage="proposal", status=status, owner_id="rep.north.1",
                            team="north-sales", region="north", amount=Money(currency_code="CNY", amount=amount))
            o.closed_at.FromDatetime(datetime(2024, 6, 1, tzinfo=UTC))
            sales_handlers.apply_opportunity(s, o)
        sales_handlers.apply_lead(s, Lead(id="l1", version=1, source="event", owner_id="rep.north.1",
                                          team="north-sales", region="north"))
        t = Ticket(id="t1", version=1, status="open", priority="high", assignee_id="agent.1")
        support_handlers.apply_ticket(s, t)
        answer = tev.CsatAnswered(ticket_id="t1", rating=4, assignee_id="agent.1")
        answer.answered_at.FromDatetime(datetime(2024, 5, 2, tzinfo=UTC))
        support_handlers.apply_csat(s, answer)
        uow.commit()
    db.dispose()


@pytest.fixture(scope="module")
def reporting_addr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Its own nats-server: reporting consumes whole streams, and other tests publish to them.
    nats_server = NatsServer(tmp_path_factory.mktemp("reports-routes-nats")).start()
    try:
        yield from _reporting(nats_server, tmp_path_factory)
    finally:
        nats_server.stop()


def _reporting(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("reporting")
    url = f"sqlite:///{tmp / 'reporting.db'}"
    spec = reporting_bootstrap.spec()
    upgrade(url, spec.migrations)
    _seed(url)
    settings = ServiceSettings.from_env("reporting", {
        "DATABASE_URL": url, "NATS_URL": nats_server.url, "PORT": "0", "METRICS_PORT": "0",
        "JWT_SECRET": SECRET, "DATA_DIR": str(tmp)})
    runtime = ServiceRuntime(spec, settings).start()
    yield runtime.address
    runtime.stop()


@pytest.fixture
def rclient(make_client: Any, settings: Any, reporting_addr: str) -> Any:
    return make_client(settings, reporting_addr=reporting_addr)


def _headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(DEMO_USERS[user], SECRET)}"}


def test_sales_report(rclient: Any) -> None:
    answer = rclient.get("/api/v1/reports/sales", headers=_headers("manager.north"))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["pipeline_by_stage"] == [{"key": "proposal", "currency_code": "CNY", "count": 1, "amount": "100.50"}]
    assert body["won_by_month"] == [{"key": "2024-06", "currency_code": "CNY", "count": 1, "amount": "200.00"}]
    assert body["win_rate"] == 0.5 and body["leads_by_source"] == [{"key": "event", "count": 1}]
    south = rclient.get("/api/v1/reports/sales?region=south", headers=_headers("admin")).get_json()
    assert south["pipeline_by_stage"] == [] and south["win_rate"] == 0
    other = rclient.get("/api/v1/reports/sales", headers=_headers("rep.south.1")).get_json()
    assert other["pipeline_by_stage"] == [] and other["leads_by_source"] == []


def test_support_report(rclient: Any) -> None:
    answer = rclient.get("/api/v1/reports/support?from_day=2024-05-01&to_day=2024-05-31", headers=_headers("admin"))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["total"] == 1 and body["by_priority"] == [{"key": "high", "count": 1}]
    assert body["csat_average"] == 4 and body["csat_per_day"] == [{"day": "2024-05-02", "count": 1, "average": 4}]
    bad = rclient.get("/api/v1/reports/support?from_day=2024-05-31&to_day=2024-05-01", headers=_headers("admin"))
    assert bad.status_code == 400 and bad.headers["Content-Type"].startswith("application/problem+json")
    assert rclient.get("/api/v1/reports/support?from_day=tomorrow", headers=_headers("admin")).status_code == 400
