"""The public pool (公海) of customers through the gateway, against the real contacts, sales and
reporting services (in-process, SQLite, a real nats-server) on a controlled clock: the team rule an
admin saves in sales reaches contacts by its event; a customer nobody followed up returns to the
pool once with its contact, the move on the contact's timeline; a rep over the claim limit and one
within the cool-down are refused naming the rule; a manager assigns it; the pool report counts it
as a customer."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crm_contacts.bootstrap import spec as contacts_spec
from crm_contacts.store import pool as contacts_pool
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
    def __init__(self, contacts: ServiceRuntime, sales: ServiceRuntime, reporting: ServiceRuntime) -> None:
        self.contacts, self.sales, self.reporting = contacts, sales, reporting

    def sweep(self) -> None:
        worker = next(w for w in self.contacts.workers if isinstance(w, PeriodicWorker) and w.name == "contacts-pool")
        before = worker.ticks
        worker.tick()
        wait_for(lambda: worker.ticks > before, what="a run of the customer pool's worker")


@pytest.fixture(scope="module")
def running(nats_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp: Path = tmp_path_factory.mktemp("customer-pool")
    started: dict[str, ServiceRuntime] = {}

    def start(name: str, spec: Any) -> ServiceRuntime:
        url = f"sqlite:///{tmp / name}.db"
        upgrade(url, spec.migrations)
        (tmp / name).mkdir()
        started[name] = ServiceRuntime(spec, in_process_settings(name, url, nats_url, tmp / name, SECRET)).start()
        return started[name]

    nats_url = nats_server.url
    contacts = start("contacts", contacts_spec(clock=CLOCK, pool_interval=3600))
    sales = start("sales", sales_spec(clock=CLOCK, contacts=lambda: GrpcContacts(contacts.address),
                                      scheduler_interval=3600, pool_interval=3600))
    reporting = start("reporting", reporting_spec(clock=CLOCK))
    yield Running(contacts, sales, reporting)
    for runtime in reversed(started.values()):
        runtime.stop()


@pytest.fixture
def client(make_client: Any, settings: Any, running: Running) -> Any:
    return make_client(settings, contacts_addr=running.contacts.address, reporting_addr=running.reporting.address,
                       optional_addrs={"sales": running.sales.address})


def bearer(user_id: str, role: str, team: str = TEAM, region: str = "north") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(Principal(user_id, (role,), team, region), SECRET)}"}


ADMIN = bearer("admin", "admin", "hq", "")
MANAGER = bearer("manager.north", "manager")
REP1, REP2 = bearer("rep.north.1", "rep"), bearer("rep.north.2", "rep")


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_a_neglected_customer_returns_to_the_pool_with_its_contact(client: Any, running: Running) -> None:
    rule = {"team": TEAM, "inactive_days": 30, "unconverted_days": 90, "claim_limit": 1, "cooldown_days": 7}
    # Saved twice: contacts keeps the newest settings version, and the session's SALES stream may
    # hold another module's version 1 (one sales service per stream has no such twin).
    for _ in range(2):
        ok(client.patch("/api/v1/sales/settings", headers=ADMIN, json={"pool_rules": [rule]}))

    def contacts_rules() -> list[Any]:
        with running.contacts.db.read() as session:
            return contacts_pool.rules(session)[1]

    wait_for(lambda: [(r.team, r.claim_limit) for r in contacts_rules()] == [(TEAM, 1)], 30,
             what="contacts to keep sales' pool rules")
    account = ok(client.post("/api/v1/accounts?allow_duplicate=true", headers=REP1, json={"name": "大连造船"}), 201)
    person = ok(client.post("/api/v1/contacts?allow_duplicate=true", headers=REP1, json={
        "name": "韩梅梅", "account_id": account["id"]}), 201)
    CLOCK.advance(days=30, minutes=1)
    ok(client.post("/api/v1/accounts?allow_duplicate=true", headers=REP2, json={"name": "自己的客户"}), 201)
    running.sweep()
    running.sweep()  # a second run changes nothing

    pool = ok(client.get("/api/v1/customer-pool", headers=REP2))["items"]
    assert [a["id"] for a in pool] == [account["id"]] and "30" in pool[0]["pool_reason"]
    assert client.get(f"/api/v1/contacts/{person['id']}", headers=REP1).status_code == 404  # no longer theirs
    over = client.post(f"/api/v1/accounts/{account['id']}/claim", headers=REP2)
    assert over.status_code == 400 and over.get_json()["errors"][0]["field"] == "claim_limit", over.get_json()
    assert "allows 1" in over.get_json()["detail"]
    cooling = client.post(f"/api/v1/accounts/{account['id']}/claim", headers=REP1)
    assert cooling.status_code == 400 and cooling.get_json()["errors"][0]["field"] == "cooldown_days"
    given = ok(client.post(f"/api/v1/accounts/{account['id']}/pool-assign", headers=MANAGER,
                           json={"owner_id": "rep.north.2"}))
    assert given["owner_id"] == "rep.north.2" and given["in_pool"] is False
    assert client.post(f"/api/v1/accounts/{account['id']}/claim", headers=REP1).status_code in (400, 409)
    assert ok(client.get(f"/api/v1/contacts/{person['id']}", headers=REP2))["owner_id"] == "rep.north.2"
    kinds = [e["kind"] for e in ok(client.get(f"/api/v1/contacts/{person['id']}/timeline", headers=REP2))["items"]]
    assert kinds[:2] == ["pool_assigned", "pool_returned"], kinds
    history = ok(client.get(f"/api/v1/accounts/{account['id']}/pool-history", headers=REP2))["items"]
    assert [(m["kind"], m["record_type"]) for m in history] == [("returned", "account"), ("assigned", "account")]

    want = {"team": TEAM, "record_type": "account", "in_pool": 0, "returned": 1, "released": 0,
            "claimed": 0, "assigned": 1}
    seen: list[Any] = []
    report = f"/api/v1/reports/pool?record_type=account&team={TEAM}"
    try:
        wait_for(lambda: seen.append(ok(client.get(report, headers=MANAGER))["teams"]) or seen[-1] == [want], 30,
                 what="the pool report to count the customer's moves")
    except TimeoutError:
        raise AssertionError(f"the pool report shows {seen[-1]}, not {[want]}") from None
