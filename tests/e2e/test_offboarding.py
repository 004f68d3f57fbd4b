"""Offboarding as one operation, through the gateway: a leaving rep's customers (one without any
deal), leads, deals, tasks, the ticket assigned to them and the campaign they own all move to
their successor in one request; a retry answers the same, a second run moves nothing, and
nothing is left with the old owner. A delegation lends the delegator's customers too, until it
is ended early. The people here are made up for these tests, so no other test sees them move."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_devtools.devrun import Suite
from crmkit.auth import Principal, mint_token
from crmkit.testing import wait_for
from tests.e2e.conftest import SECRET, Api, new_contact

pytestmark = pytest.mark.e2e


def person(suite: Suite, user_id: str) -> Api:
    client = Api(suite.gateway_url, "admin")
    client.user = user_id
    principal = Principal(user_id, ("rep",), "north-sales", "north", user_id)
    client.http.headers["Authorization"] = f"Bearer {mint_token(principal, SECRET)}"
    return client


def made(r: Any) -> str:
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_leaving_reps_work_moves_in_one_request_and_nothing_is_left(suite: Suite,
                                                                      api: Callable[[str], Any]) -> None:
    run = uuid.uuid4().hex[:6]
    leaver, successor = f"rep.north.leaver.{run}", "rep.north.2"
    rep, admin = person(suite, leaver), api("admin")
    quiet = made(rep.post("/accounts", json={"name": f"无商机的客户 {run}"}))          # no deal at all
    account = made(rep.post("/accounts", json={"name": f"有商机的客户 {run}"}))
    contact = made(rep.post("/contacts", json=new_contact(f"客户 {run}", account_id=account)))
    made(rep.post("/leads", json={"name": f"线索 {run}", "owner_id": leaver}))
    opp = made(rep.post("/opportunities", json={"name": f"商机 {run}", "account_id": account,
                                                "contact_id": contact}))
    made(rep.post("/tasks", json={"title": "回访", "related_type": "opportunity", "related_id": opp}))
    ticket = made(api("agent.support").post("/tickets", json={"subject": f"无法登录 {run}", "assignee_id": leaver}))
    campaign = made(admin.post("/campaigns", json={"name": f"活动 {run}", "type": "webinar",
                                                   "start_date": "2027-05-01", "owner_id": leaver}))

    body = {"from_user_id": leaver, "to_user_id": successor, "reason": "离职"}
    assert api("rep.north.1").post("/admin/offboarding", json=body).status_code == 403
    key = {"Idempotency-Key": f"offboard-{run}"}
    r = admin.post("/admin/offboarding", json=body, headers=key)
    assert r.status_code == 200, r.text
    result = r.json()
    moved = {part["service"]: part["moved"] for part in result["services"]}
    assert set(moved) == {"sales", "contacts", "support", "marketing"}
    assert (moved["sales"]["leads"], moved["sales"]["opportunities"], moved["sales"]["tasks"]) == (1, 1, 1)
    # contacts moves every customer still the leaver's (sales' transfer event may have moved the
    # deal's customers first): the one without a deal always here
    assert moved["contacts"]["accounts"] >= 1
    assert moved["support"]["tickets"] == 1 and moved["marketing"]["campaigns"] == 1
    assert result["operation_id"] == key["Idempotency-Key"]
    assert admin.post("/admin/offboarding", json=body, headers=key).json() == result      # a retry: the same answer
    again = admin.post("/admin/offboarding", json=body).json()                            # a second run
    assert again["total"] == 0

    for path in (f"/accounts/{quiet}", f"/accounts/{account}", f"/contacts/{contact}", f"/opportunities/{opp}",
                 f"/campaigns/{campaign}"):
        wait_for(lambda p=path: admin.get(p).json()["owner_id"] == successor, 20, what=f"{path} to move")
    assert admin.get(f"/tickets/{ticket}").json()["assignee_id"] == successor
    for path, params in (("/accounts", {"owner_id": leaver}), ("/contacts", {"owner_id": leaver}),
                         ("/leads", {"owner_id": leaver}), ("/opportunities", {"owner_id": leaver}),
                         ("/tasks", {"owner_id": leaver}), ("/tickets", {"assignee_id": leaver}),
                         ("/campaigns", {"owner_id": leaver})):
        assert admin.get(path, params=params).json()["items"] == [], path

    # reporting counts the moved lead and deal for the successor, none for the leaver
    def owners(source: str) -> dict[str, int]:
        query = {"source": source, "measures": ["count"], "dimensions": ["owner"],
                 "filters": [{"field": "owner", "op": "in", "values": [leaver, successor]}]}
        answer = admin.post("/reports/query", json={"query": query})
        assert answer.status_code == 200, answer.text
        return {row["keys"][0]: row["values"][0] for row in answer.json()["rows"]}

    for source in ("opportunities", "leads"):
        wait_for(lambda s=source: leaver not in owners(s), 20, what=f"reporting's {source} to leave {leaver}")
        assert owners(source)[successor] >= 1


def test_a_delegation_lends_the_customers_too_and_ends_early(suite: Suite, api: Callable[[str], Any]) -> None:
    run = uuid.uuid4().hex[:6]
    away, cover = person(suite, f"rep.north.away.{run}"), person(suite, f"rep.north.cover.{run}")
    contact = made(away.post("/contacts", json=new_contact(f"休假客户 {run}")))
    assert cover.get(f"/contacts/{contact}").status_code == 404
    ends = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    delegation = made(away.post("/sales/delegations", json={"to_user_id": cover.user, "ends_at": ends}))
    wait_for(lambda: cover.get(f"/contacts/{contact}").status_code == 200, 20, what="the customer to be lent")
    assert any(c["id"] == contact for c in cover.get("/contacts", params={"owner_id": away.user}).json()["items"])

    ended = away.post(f"/sales/delegations/{delegation}/end")
    assert ended.status_code == 200, ended.text
    assert ended.json()["revoked"] is True
    wait_for(lambda: cover.get(f"/contacts/{contact}").status_code == 404, 20, what="the loan to end")
    active = away.get("/sales/delegations", params={"user_id": away.user, "active_only": "true"}).json()["items"]
    assert active == []
