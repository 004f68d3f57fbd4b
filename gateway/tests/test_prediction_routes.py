"""/api/v1/reports/churn and /next-purchase through the gateway against the real reporting service
(in-process, SQLite, a real nats-server): no model before the first training (and why), then the
ranked customers with their reasons next to the model's evaluation, each caller seeing their own."""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from crm_devtools.users import DEMO_USERS
from crm_reporting import bootstrap as reporting_bootstrap
from crm_reporting import jobs
from crm_reporting.periods import grains
from crm_reporting.tables import customers, opportunities
from crmkit.auth import mint_token
from crmkit.config import ServiceSettings
from crmkit.db import Database
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import NatsServer

SECRET = "gateway-test-secret-0123456789abcdef"  # the gateway conftest's
NOW = datetime(2025, 7, 1, tzinfo=UTC)
OWNERS = [("rep.north.1", "north-sales", "north"), ("rep.south.1", "south-sales", "south")]


def _seed(db: Database) -> None:
    """Customers of two reps: "ok-*" buy about monthly up to now, "gone-*" stopped months ago."""
    rnd, people, deals = random.Random(5), [], []
    for k in range(80):
        owner, team, region = OWNERS[k % 2]
        contact = f"{'gone' if k >= 40 else 'ok'}-{k}"
        people.append({"contact_id": contact, "version": 1, "owner_id": owner, "team": team, "region": region,
                       "source": "website", "level": "a", "created_day": "2023-12-01", "live": True})
        stop = NOW.date() - timedelta(days=rnd.randrange(120, 400)) if k >= 40 else NOW.date()
        day = date(2024, 1, 1) + timedelta(days=rnd.randrange(20))
        while day < stop:
            deals.append({"opportunity_id": f"o-{contact}-{day}", "version": 1, "owner_id": owner, "team": team,
                          "region": region, "stage": "won", "status": "won", "currency_code": "CNY",
                          "amount_units": 10_000 * 10_000, "closed_month": day.isoformat()[:7], "contact_id": contact,
                          **grains("created", (day - timedelta(days=7)).isoformat()),
                          **grains("closed", day.isoformat()), "probability": 100, "cycle_days": 7})
            day += timedelta(days=rnd.randrange(20, 40))
    with db.unit_of_work() as uow:
        uow.session.execute(insert(customers), people)
        uow.session.execute(insert(opportunities), deals)
        uow.commit()


@pytest.fixture(scope="module")
def reporting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    nats_server = NatsServer(tmp_path_factory.mktemp("prediction-routes-nats")).start()
    tmp: Path = tmp_path_factory.mktemp("reporting")
    url = f"sqlite:///{tmp / 'reporting.db'}"
    spec = reporting_bootstrap.spec(train_delay=3600.0)      # the test trains when it wants
    upgrade(url, spec.migrations)
    settings = ServiceSettings.from_env("reporting", {
        "DATABASE_URL": url, "NATS_URL": nats_server.url, "PORT": "0", "METRICS_PORT": "0",
        "JWT_SECRET": SECRET, "DATA_DIR": str(tmp)})
    runtime = ServiceRuntime(spec, settings).start()
    try:
        yield runtime.address, url
    finally:
        runtime.stop()
        nats_server.stop()


def _get(client: Any, path: str, user: str) -> Any:
    answer = client.get(f"/api/v1/reports/{path}",
                        headers={"Authorization": f"Bearer {mint_token(DEMO_USERS[user], SECRET)}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def test_churn_and_next_purchase_through_the_gateway(make_client: Any, settings: Any,
                                                    reporting: tuple[str, str]) -> None:
    address, url = reporting
    client = make_client(settings, reporting_addr=address)
    before = _get(client, "churn", "admin")
    assert "model" not in before and "no model trained yet" in before["reason"] and not before.get("predictions")

    db = Database(url)
    _seed(db)
    jobs.train(db, NOW)
    db.dispose()
    churn = _get(client, "churn?page_size=100", "admin")
    assert "model" in churn, churn
    model = churn["model"]
    assert model["version"] == 1 and model["auc"] >= 0.8 and model["test_rows"] > 0 and model["train_rows"] > 0
    assert 0 < model["base_rate"] < 1 and model["trained_at"].startswith("2025-07-01")
    ranked = [p["contact_id"] for p in churn["predictions"]]
    assert churn["total"] == 80 and ranked[0].startswith("gone") and ranked[-1].startswith("ok")
    assert churn["predictions"][0]["reasons"][0]["label"]

    mine = _get(client, "churn", "rep.north.1")
    assert {p["owner_id"] for p in mine["predictions"]} == {"rep.north.1"} and mine["total"] == 40
    assert mine["model"]["auc"] == model["auc"]
    buy = _get(client, "next-purchase?owner_id=rep.south.1", "manager.north")   # a filter only narrows
    assert buy["kind"] == "next_purchase" and buy["predictions"] == [] and buy["total"] == 0
    north = _get(client, "next-purchase", "manager.north")
    assert north["predictions"][0]["contact_id"].startswith("ok") and north["total"] == 40
    bad = client.get("/api/v1/reports/churn?page_size=0",
                     headers={"Authorization": f"Bearer {mint_token(DEMO_USERS['admin'], SECRET)}"})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "page_size"
