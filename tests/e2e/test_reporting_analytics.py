"""Analytics through the gateway (issue 13): reps' deals flow from sales to reporting; a manager's
dashboard widget counts them, its drill-down lists exactly the records it counts, and a rep's
drill-down of the same shared widget shows only their own; the catalogue, a custom query refused
for a name the catalogue does not hold (400 naming the field), a standard report, and targets only
a manager may set."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.e2e.conftest import poll

pytestmark = pytest.mark.e2e


def ok(resp: requests.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text}"
    return resp.json()



def drilled(who: Any, board: str, widget: str, **body: Any) -> tuple[list[str], int]:
    """Every id of a widget's drill-down, following the pages, and the total it states."""
    ids: list[str] = []
    token, total = "", 0
    while True:
        page = ok(who.post(f"/reports/dashboards/{board}/widgets/{widget}/drill-down",
                           json={**body, "page": {"page_size": 1000, "page_token": token}}))
        ids += page.get("ids", [])
        total = int(page.get("total", 0))
        token = page.get("page", {}).get("next_page_token", "")
        if not token:
            return ids, total


def put(who: Any, path: str, body: Any) -> requests.Response:
    return who.http.put(who.base + path, json=body, timeout=10)


def test_a_dashboard_widget_drills_down_to_exactly_what_it_counts(api: Callable[[str], Any]) -> None:
    run = uuid.uuid4().hex[:6]
    manager, rep1, rep2 = api("manager.north"), api("rep.north.1"), api("rep.north.2")

    def deal(who: Any, n: int) -> str:
        return str(ok(who.post("/opportunities", json={
            "name": f"分析商机 {run}-{n}", "amount": {"currency_code": "CNY", "amount": f"{n}000"}}), 201)["id"])

    mine = [deal(rep1, 1), deal(rep1, 2)]
    theirs = [deal(rep2, 3)]

    catalogue = ok(manager.get("/reports/catalogue"))
    sources = {s["name"]: s for s in catalogue["sources"]}
    assert {"opportunities", "leads", "tickets", "csat"} <= sources.keys()
    assert len(catalogue["standard_reports"]) == 10

    bad = manager.post("/reports/query", json={"query": {"source": "opportunities", "measures": ["open", "margin"]}})
    assert bad.status_code == 400 and bad.headers["Content-Type"] == "application/problem+json"
    assert bad.json()["errors"][0]["field"] == "query.measures[1]" and "margin" in bad.json()["detail"]

    pipeline = {"source": "opportunities", "measures": ["open"], "dimensions": ["stage"],
                "filters": [{"field": "team", "op": "eq", "values": ["north-sales"]}]}
    board = ok(manager.post("/reports/dashboards", json={
        "name": f"华北 pipeline {run}", "sharing": "team", "widgets": [
            {"id": "open", "title": "Open deals", "kind": "figure", "query": pipeline,
             "thresholds": {"green": 1000000, "amber": 1}},
            {"id": "by-stage", "title": "Open by stage", "kind": "funnel", "query": pipeline}]}), 201)
    assert board["owner_id"] == "manager.north"

    # reporting has the three deals once its drill-down lists them
    poll(lambda: drilled(manager, board["id"], "open")[0], lambda ids: set(mine + theirs) <= set(ids),
         "the new deals in reporting")
    view = ok(manager.get(f"/reports/dashboards/{board['id']}/view"))
    figure = view["widgets"][0]["figure"]
    assert view["widgets"][0]["status"] == "amber"
    ids, total = drilled(manager, board["id"], "open")
    assert len(ids) == len(set(ids)) == total == figure
    # a funnel row drills down to exactly that row's count
    rows = view["widgets"][1]["result"]["rows"]
    assert sum(r["values"][0] for r in rows) == figure
    row = max(rows, key=lambda r: r["values"][0])
    stage_ids, stage_total = drilled(manager, board["id"], "by-stage", keys=row["keys"])
    assert len(stage_ids) == stage_total == row["values"][0]

    # the rep sees the shared dashboard with their own deals only
    rep_view = ok(rep1.get(f"/reports/dashboards/{board['id']}/view"))
    rep_ids, rep_total = drilled(rep1, board["id"], "open")
    assert set(mine) <= set(rep_ids) and not set(theirs) & set(rep_ids)
    assert len(rep_ids) == rep_total == rep_view["widgets"][0]["figure"] < figure
    for oid in rep_ids:
        assert ok(rep1.get(f"/opportunities/{oid}"))["owner_id"] == "rep.north.1"
    south = api("rep.south.1").get(f"/reports/dashboards/{board['id']}/view")
    assert south.status_code == 404

    # a standard report and the targets behind attainment
    ranking = ok(manager.get("/reports/standard/rep_ranking"))
    assert [c["name"] for c in ranking["columns"]][:2] == ["owner", "currency"]
    assert put(rep1, "/reports/targets", {"targets": [
        {"month": "2026-06", "currency_code": "CNY", "amount": "1"}]}).status_code == 403
    set_ = ok(put(manager, "/reports/targets", {"targets": [
        {"month": "2026-06", "rep_id": "rep.north.1", "currency_code": "CNY", "amount": "50000"}]}))
    assert [(t["rep_id"], t["amount"], t["team"]) for t in set_["targets"]] == [("rep.north.1", "50000.00",
                                                                                  "north-sales")]
    attainment = ok(rep1.get("/reports/standard/monthly_attainment", params={"from_day": "2026-06-01",
                                                                              "to_day": "2026-06-30"}))
    assert [r["keys"] for r in attainment["rows"]] == [["2026-06", "north-sales", "rep.north.1", "CNY"]]
    refused = put(manager, "/reports/targets", {"targets": [{"month": "June", "currency_code": "CNY",
                                                             "amount": "1"}]})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "targets[0].month"
