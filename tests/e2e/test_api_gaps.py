"""Routes the console needed, through the gateway as a client would: a contract has a page of its
own (its owner and their manager read it; another rep gets 404, as the list hides it), contracts
and delegations page by cursor (every item once, in order), and a user lists their own export
jobs newest first, with progress and the download link once done, and sees nobody else's."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from crm_devtools.devrun import Suite
from crmkit.auth import Principal, mint_token
from crmkit.testing import wait_for
from tests.e2e.conftest import SECRET, Api

pytestmark = pytest.mark.e2e

APPROVERS = {"manager": "manager.north", "legal": "legal.hq", "finance": "finance.hq"}


def ok(resp: requests.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text}"
    return resp.json()


def person(suite: Suite, user_id: str) -> Api:
    """A north rep of their own, so what they own is exactly what this test made."""
    client = Api(suite.gateway_url, "admin")
    client.user = user_id
    principal = Principal(user_id, ("rep",), "north-sales", "north", user_id)
    client.http.headers["Authorization"] = f"Bearer {mint_token(principal, SECRET)}"
    return client


def pages(who: Api, path: str, params: dict[str, Any], size: int) -> list[list[str]]:
    found, token = [], ""
    while True:
        page = ok(who.get(path, params={**params, "page_size": size, **({"page_token": token} if token else {})}))
        found.append([item["id"] for item in page["items"]])
        token = page["next_page_token"]
        if not token:
            return found


def contract_of(api: Any, rep: Api, n: int) -> dict[str, Any]:
    """A contract the long way: a deal, its quote approved by each step's role, sent, accepted."""
    opp = ok(rep.post("/opportunities", json={"name": f"合同页 {n}", "amount": {"currency_code": "CNY",
                                                                                "amount": "5000"}}), 201)
    quote = ok(rep.post("/quotes", json={"opportunity_id": opp["id"], "currency_code": "CNY", "lines": [
        {"name": "咨询服务", "quantity": "1", "unit_price": {"currency_code": "CNY", "amount": "5000"}}]}), 201)
    quote = ok(rep.post(f"/quotes/{quote['id']}/submit"))
    if quote["status"] != "approved":
        (trail,) = ok(rep.get("/approvals", params={"quote_id": quote["id"]}))["items"]
        for step in trail["steps"]:
            ok(api(APPROVERS[step["approver_role"]]).post(f"/approvals/{trail['id']}/decide",
                                                           json={"approve": True, "comment": "同意"}))
    ok(rep.post(f"/quotes/{quote['id']}/send", json={}))
    ok(rep.post(f"/quotes/{quote['id']}/accept", json={}))
    return ok(rep.post("/contracts", json={"quote_id": quote["id"]}), 201)  # type: ignore[no-any-return]


def test_a_contract_has_its_own_page_and_contracts_page_by_cursor(suite: Suite, api: Any) -> None:
    rep = person(suite, f"rep.north.contracts.{uuid.uuid4().hex[:6]}")
    made = [contract_of(api, rep, n) for n in range(3)]
    first = made[0]
    assert ok(rep.get(f"/contracts/{first['id']}"))["number"] == first["number"]
    assert ok(api("manager.north").get(f"/contracts/{first['id']}"))["id"] == first["id"]
    hidden = api("rep.north.2").get(f"/contracts/{first['id']}")  # not theirs: as absent as from their list
    assert hidden.status_code == 404 and hidden.headers["Content-Type"] == "application/problem+json"
    assert rep.get(f"/contracts/{uuid.uuid4()}").status_code == 404
    ids = [c["id"] for c in made]
    assert pages(rep, "/contracts", {}, 2) == [ids[:2], ids[2:]]
    assert pages(rep, "/contracts", {}, 200) == [ids]
    everyone = [i for page in pages(api("admin"), "/contracts", {"status": "draft"}, 50) for i in page]
    assert len(everyone) == len(set(everyone)) and set(ids) <= set(everyone)  # each once across pages


def test_delegations_page_by_cursor(suite: Suite, api: Any) -> None:
    run = uuid.uuid4().hex[:6]
    away = person(suite, f"rep.north.away.{run}")
    ends = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    made = [ok(away.post("/sales/delegations", json={"to_user_id": f"rep.north.cover.{run}.{n}", "ends_at": ends}),
               201)["id"] for n in range(3)]
    try:
        found = pages(away, "/sales/delegations", {"user_id": away.user}, 2)
        assert [len(p) for p in found] == [2, 1] and sorted(i for p in found for i in p) == sorted(made)
        assert pages(away, "/sales/delegations", {"user_id": away.user}, 200) == [[i for p in found for i in p]]
        bad = away.get("/sales/delegations", params={"page_token": "bm90LW1pbmU"})
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "page_token"
    finally:
        for delegation in made:
            ok(away.post(f"/sales/delegations/{delegation}/end"))


def test_my_export_jobs_are_listed_newest_first_and_only_to_me(suite: Suite, api: Any) -> None:
    me = person(suite, f"rep.north.exports.{uuid.uuid4().hex[:6]}")
    older = ok(me.post("/exports", json={"list": "leads", "filters": {"status": "new"}}), 202)
    newer = ok(me.post("/exports", json={"list": "opportunities", "format": "xlsx"}), 202)

    def listed() -> list[dict[str, Any]]:
        return ok(me.get("/exports"))["items"]  # type: ignore[no-any-return]

    wait_for(lambda: all(job["status"] == "done" for job in listed()), 60, what="both export jobs to finish")
    jobs = listed()
    assert [j["id"] for j in jobs] == [newer["id"], older["id"]]
    assert (jobs[1]["list"], jobs[1]["filters"], jobs[0]["format"]) == ("leads", {"status": "new"}, "xlsx")
    assert all(j["download_url"] == f"/api/v1/exports/{j['id']}/download" and "rows_written" in j for j in jobs)
    assert pages(me, "/exports", {}, 1) == [[newer["id"]], [older["id"]]]
    assert me.get(jobs[1]["download_url"].removeprefix("/api/v1")).status_code == 200
    theirs = {j["id"] for j in ok(api("admin").get("/exports"))["items"]}
    assert not theirs & {newer["id"], older["id"]}  # an administrator lists their own jobs, not mine
