"""The public pool (公海) through the whole suite: a team's rule set by an admin, leads released to
the pool, a rep at the claim limit refused with a problem naming it, two reps claiming the same
lead at the same moment (one wins, the other gets 409), and the pool report counting the pool,
releases and claims from the events; the same for a customer (an account in contacts, whose
contact goes with it). (The return of a neglected lead needs the clock moved by
days: gateway/tests/test_sales_pool_routes.py runs that against the real services on a
controlled clock.) A team of its own keeps these counts apart from the other tests'."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from crmkit.auth import Principal, mint_token
from tests.e2e.conftest import SECRET, poll

pytestmark = pytest.mark.e2e


class Member:
    """A user of this test's own team, on the gateway."""

    def __init__(self, base: str, user: str, role: str, team: str) -> None:
        self.base = base + "/api/v1"
        self.http = requests.Session()
        token = mint_token(Principal(user, (role,), team, "east"), SECRET)
        self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=10, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.base + path, timeout=10, **kw)


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_claim_limit_one_winner_and_the_pool_report(api: Callable[[str], Any], suite: Any) -> None:
    team = f"pool-{uuid.uuid4().hex[:6]}"
    member = {name: Member(suite.gateway_url, f"{name}.{team}", "rep", team) for name in ("a", "b", "c", "d")}
    manager = Member(suite.gateway_url, f"manager.{team}", "manager", team)
    admin = api("admin")
    current = ok(admin.get("/sales/settings"))
    rules = [r for r in current.get("pool_rules", []) if r.get("team") != team]
    ok(admin.patch("/sales/settings", json={"pool_rules": [*rules, {
        "team": team, "inactive_days": 30, "unconverted_days": 90, "claim_limit": 1, "cooldown_days": 7}]}))

    pooled = []
    for i in range(3):
        lead = ok(member["a"].post("/leads", json={"name": f"公海客户 {i}", "company": "大连造船"}), 201)
        ok(member["a"].post(f"/leads/{lead['id']}/release", json={"reason": "换人跟进 hand over"}))
        pooled.append(lead["id"])
    listed = ok(member["b"].get("/sales/pool"))["items"]
    assert sorted(item["id"] for item in listed) == sorted(pooled)
    assert all(item["owner_id"] == "" and item["pool_reason"] == "换人跟进 hand over" for item in listed)

    # b holds one lead of their own: the team's limit of one refuses the claim and says so
    ok(member["b"].post("/leads", json={"name": "自己的客户"}), 201)
    refused = member["b"].post(f"/leads/{pooled[0]}/claim")
    assert refused.status_code == 400 and refused.headers["Content-Type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["errors"][0]["field"] == "claim_limit", problem
    assert "claim limit reached" in problem["detail"] and "allows 1" in problem["detail"], problem

    # c and d claim the same lead at the same moment: exactly one gets it
    barrier = threading.Barrier(2)
    answers: dict[str, requests.Response] = {}

    def claim(name: str) -> None:
        barrier.wait()
        answers[name] = member[name].post(f"/leads/{pooled[1]}/claim")

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("c", "d")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in answers.values()) == [200, 409], {k: r.text for k, r in answers.items()}
    winner = next(name for name, r in answers.items() if r.status_code == 200)
    assert answers[winner].json()["owner_id"] == f"{winner}.{team}"

    want = {"team": team, "record_type": "lead", "in_pool": 2, "returned": 0, "released": 3, "claimed": 1,
            "assigned": 0}
    poll(lambda: ok(manager.get("/reports/pool", params={"team": team}))["teams"], lambda teams: teams == [want],
         "the pool report to count the releases and the claim")
    assert ok(member["a"].get("/reports/pool"))["teams"] == [want]  # a rep sees their own team's pool


def test_customers_have_a_pool_too_with_one_winner(api: Callable[[str], Any], suite: Any) -> None:
    team = f"pool-{uuid.uuid4().hex[:6]}"
    member = {name: Member(suite.gateway_url, f"{name}.{team}", "rep", team) for name in ("a", "c", "d")}
    account = ok(member["a"].post("/accounts", params={"allow_duplicate": "true"}, json={"name": "公海客户公司"}), 201)
    person = ok(member["a"].post("/contacts", params={"allow_duplicate": "true"}, json={
        "name": "韩梅梅", "account_id": account["id"]}), 201)
    released = ok(member["a"].post(f"/accounts/{account['id']}/release", json={"reason": "客户转给同事"}))
    assert released["in_pool"] is True and released["owner_id"] == ""
    assert [a["id"] for a in ok(member["c"].get("/customer-pool"))["items"]] == [account["id"]]

    barrier = threading.Barrier(2)
    answers: dict[str, requests.Response] = {}

    def claim(name: str) -> None:
        barrier.wait()
        answers[name] = member[name].post(f"/accounts/{account['id']}/claim")

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("c", "d")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in answers.values()) == [200, 409], {k: r.text for k, r in answers.items()}
    winner = next(name for name, r in answers.items() if r.status_code == 200)
    assert ok(member[winner].get(f"/contacts/{person['id']}"))["owner_id"] == f"{winner}.{team}"  # with its contact

    want = {"team": team, "record_type": "account", "in_pool": 0, "returned": 0, "released": 1, "claimed": 1,
            "assigned": 0}
    poll(lambda: ok(member["a"].get("/reports/pool", params={"team": team}))["teams"],
         lambda teams: teams == [want], "the pool report to count the customer's release and claim")
