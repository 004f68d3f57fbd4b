"""The public pool (公海) through the gateway, against the real sales and reporting services
(in-process, SQLite, a real nats-server) on a controlled clock: an admin sets the team's rule, a
lead nobody follows up returns to the pool once when the clock passes it, a rep over the claim
limit and one within the cool-down are refused with a problem naming the rule, another rep
claims, and the pool report counts the pool, the returns, releases and claims."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crm_fakes.contacts import FakeContacts
from crm_reporting.bootstrap import spec as reporting_spec
from crm_sales.bootstrap import spec as sales_spec
from crm_sales.ports import GrpcContacts
from crmkit.auth import Principal, mint_token
from crmkit.migrations import upgrade
from crmkit.scheduler import PeriodicWorker
from crmkit.service import ServiceRuntime
from crmkit.testing import ManualClock, in_process_settings, wait_for

SECRET = "gateway-test-secret-0123456789abcdef"  # the gateway conftest's
CLOCK = ManualClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
# A team of this module's own: the session's nats-server keeps other tests' events on its streams.
TEAM = f"north-{uuid.uuid4().hex[:6]}"


class Running:
    def __init__(self, sales: ServiceRuntime, reporting: ServiceRuntime) -> None:
        self.sales, self.reporting = sales, reporting

    def sweep(self) -> None:
        """One run of the pool's worker, waited for."""
        worker = next(w for w in self.sales.workers if isinstance(w, PeriodicWorker) and w.name == "sales-pool")
        before = worker.ticks
        worker.tick()
        wait_for(lambda: worker.ticks > before, what="a run of the pool worker")


@pytest.fixture(scope="module")
def running(nats_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp: Path = tmp_path_factory.mktemp("sales-pool")
    contacts = FakeContacts(SECRET).start()
    sales = sales_spec(clock=CLOCK, contacts=lambda: GrpcContacts(contacts.address), scheduler_interval=3600,
                       pool_interval=3600)
    reporting = reporting_spec(clock=CLOCK)
    runtimes = []
    for name, spec in (("sales", sales), ("reporting", reporting)):
        url = f"sqlite:///{tmp / name}.db"
        upgrade(url, spec.migrations)
        (tmp / name).mkdir()
        runtimes.append(ServiceRuntime(spec, in_process_settings(name, url, nats_server.url, tmp / name,
                                                                 SECRET)).start())
    yield Running(*runtimes)
    for runtime in runtimes:
        runtime.stop()
    contacts.stop()


@pytest.fixture
def client(make_client: Any, settings: Any, running: Running) -> Any:
    return make_client(settings, reporting_addr=running.reporting.address,
                       optional_addrs={"sales": running.sales.address})


def bearer(user_id: str, role: str, team: str = TEAM, region: str = "north") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(Principal(user_id, (role,), team, region), SECRET)}"}


ADMIN = bearer("admin", "admin", "hq", "")
MANAGER = bearer("manager.north", "manager")
REP1, REP2 = bearer("rep.north.1", "rep"), bearer("rep.north.2", "rep")


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_a_neglected_lead_returns_to_the_pool_once_and_claims_keep_to_the_rule(client: Any, running: Running) -> None:
    for user in ("rep.north.1", "rep.north.2"):
        ok(client.put("/api/v1/sales/reps", headers=ADMIN, json={
            "user_id": user, "team": TEAM, "region": "north", "active": True}))
    full = {"team": TEAM, "inactive_days": 30, "unconverted_days": 90, "claim_limit": 1, "cooldown_days": 7}
    bad = client.patch("/api/v1/sales/settings", headers=ADMIN, json={"pool_rules": [{**full, "inactive_days": -3}]})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "pool_rules[0].inactive_days"
    # A rule left partial would turn the missing clocks off (0): refused, naming what is missing.
    partial = client.patch("/api/v1/sales/settings", headers=ADMIN,
                           json={"pool_rules": [{"team": TEAM, "claim_limit": 30}]})
    assert partial.status_code == 400
    assert "pool_rules[0].inactive_days" in {e["field"] for e in partial.get_json()["errors"]}
    assert client.patch("/api/v1/sales/settings", headers=MANAGER, json={"pool_rules": []}).status_code == 403
    rules = ok(client.patch("/api/v1/sales/settings", headers=ADMIN, json={"pool_rules": [{
        "team": TEAM, "inactive_days": 30, "unconverted_days": 90, "claim_limit": 1, "cooldown_days": 7}]}))
    assert rules["pool_rules"][0]["claim_limit"] == 1

    neglected = ok(client.post("/api/v1/leads", headers=REP1, json={"name": "赵强", "company": "天津重工"}), 201)
    kept = ok(client.post("/api/v1/leads", headers=REP2, json={"name": "钱敏", "company": "北京软件"}), 201)
    CLOCK.advance(days=20)
    ok(client.post(f"/api/v1/leads/{kept['id']}/activities", headers=REP2, json={"kind": "call"}))
    CLOCK.advance(days=10, minutes=1)  # neglected: 30 days without follow-up; kept: called 10 days ago
    running.sweep()
    running.sweep()  # a second run changes nothing

    pool = ok(client.get("/api/v1/sales/pool", headers=REP2))["items"]
    assert [lead["id"] for lead in pool] == [neglected["id"]]
    assert pool[0]["owner_id"] == "" and "30" in pool[0]["pool_reason"]
    assert pool[0]["previous_owner_id"] == "rep.north.1"
    history = ok(client.get(f"/api/v1/leads/{neglected['id']}/pool-history", headers=REP2))["items"]
    assert [(m["kind"], m["user_id"]) for m in history] == [("returned", "rep.north.1")]
    assert ok(client.get("/api/v1/sales/pool", headers=bearer("rep.south.1", "rep", "south-sales", "south")))[
        "items"] == []

    # rep.north.2 holds one lead: the team's limit of 1 refuses the claim, naming it
    over = client.post(f"/api/v1/leads/{neglected['id']}/claim", headers=REP2)
    assert over.status_code == 400 and over.content_type == "application/problem+json"
    problem = over.get_json()
    assert problem["errors"][0]["field"] == "claim_limit" and "allows 1" in problem["detail"], problem
    # rep.north.1 lost it to the rule a minute ago: the cool-down refuses a reclaim
    cooling = client.post(f"/api/v1/leads/{neglected['id']}/claim", headers=REP1)
    assert cooling.status_code == 400 and cooling.get_json()["errors"][0]["field"] == "cooldown_days"

    released = client.post(f"/api/v1/leads/{kept['id']}/release", headers=REP2, json={})
    assert released.status_code == 400 and released.get_json()["errors"][0]["field"] == "reason"
    ok(client.post(f"/api/v1/leads/{kept['id']}/release", headers=REP2, json={"reason": "客户暂无预算"}))
    claimed = ok(client.post(f"/api/v1/leads/{neglected['id']}/claim", headers=REP2))
    assert claimed["owner_id"] == "rep.north.2" and claimed["in_pool"] is False
    taken = client.post(f"/api/v1/leads/{neglected['id']}/claim", headers=REP1)
    assert taken.status_code == 409, taken.get_json()
    assigned = ok(client.post(f"/api/v1/leads/{kept['id']}/pool-assign", headers=MANAGER,
                              json={"owner_id": "rep.north.1"}))
    assert assigned["owner_id"] == "rep.north.1"

    def figures() -> dict[str, Any]:
        teams = ok(client.get(f"/api/v1/reports/pool?record_type=lead&team={TEAM}", headers=MANAGER))["teams"]
        return next((t for t in teams if t["team"] == TEAM), {})

    want = {"team": TEAM, "record_type": "lead", "in_pool": 0, "returned": 1, "released": 1, "claimed": 1,
            "assigned": 1}
    seen: list[dict[str, Any]] = []
    try:
        wait_for(lambda: seen.append(figures()) or seen[-1] == want, 30, what="the pool report to count the moves")
    except TimeoutError:
        raise AssertionError(f"the pool report shows {seen[-1]}, not {want}") from None
    assert client.get("/api/v1/reports/pool?from_day=2026-05-01&to_day=2026-04-01", headers=MANAGER).status_code == 400
