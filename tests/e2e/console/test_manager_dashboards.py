"""A manager's console: a shared dashboard whose figure is coloured by its thresholds (the API's
word, shown as a word, not only a colour), and a drill-down from that figure to exactly the
records it counts; the team's ranking and the escalations inbox. Every screen passes axe and is
saved as a screenshot in both languages."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import poll

pytestmark = pytest.mark.e2e

# A currency no other test prices deals in: the widget counts this test's deals only, whatever
# else the shared suite holds.
CURRENCY = "SEK"


def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text}"
    return resp.json()


def drilled_ids(who: Any, board: str, widget: str) -> list[str]:
    page = ok(who.post(f"/reports/dashboards/{board}/widgets/{widget}/drill-down",
                       json={"page": {"page_size": 100}}))
    return list(page.get("ids", []))


def test_a_manager_drills_down_from_a_dashboard_figure_to_the_records(console: Any, api: Any) -> None:
    run = uuid.uuid4().hex[:6]
    manager, rep1, rep2 = api("manager.north"), api("rep.north.1"), api("rep.north.2")
    names = [f"看板商机 {run}-{n}" for n in (1, 2)]
    ids = [ok(who.post("/opportunities", json={"name": name, "amount": {"currency_code": CURRENCY, "amount": "8000"}}),
              201)["id"] for who, name in zip((rep1, rep2), names, strict=True)]
    south = ok(api("rep.south.1").post("/opportunities", json={
        "name": f"华南商机 {run}", "amount": {"currency_code": CURRENCY, "amount": "1"}}), 201)["id"]
    query = {"source": "opportunities", "measures": ["open"], "dimensions": ["stage"],
             "filters": [{"field": "currency", "op": "eq", "values": [CURRENCY]}]}
    board = ok(manager.post("/reports/dashboards", json={
        "name": f"华北看板 {run}", "sharing": "team", "widgets": [
            {"id": "open", "title": f"开放商机 {run}", "kind": "figure", "query": query,
             "thresholds": {"green": 5, "amber": 2}},
            {"id": "by-stage", "title": f"按阶段 {run}", "kind": "funnel", "query": query}]}), 201)
    poll(lambda: drilled_ids(manager, board["id"], "open"), lambda got: set(ids) <= set(got),
         "the new deals in reporting")
    # the manager's region only: the south rep's deal is in reporting but not theirs to see
    assert south not in drilled_ids(manager, board["id"], "open")

    page = console.page
    console.sign_in("manager.north")
    page.get_by_role("menuitem", name="仪表盘").click()
    expect(page.get_by_role("heading", name="仪表盘")).to_be_visible()
    link = page.get_by_role("link", name=board["name"])
    expect(link).to_be_visible()
    console.check_a11y("dashboards")
    console.screenshot("dashboards")

    link.click()
    widget = page.get_by_test_id("widget-open")
    # two open deals against green ≥ 5, amber ≥ 2: amber, said as a word
    expect(widget.get_by_test_id("widget-status")).to_have_text("关注")
    expect(widget.get_by_text("绿色 ≥ 5 · 黄色 ≥ 2")).to_be_visible()
    figure = widget.get_by_test_id("widget-figure")
    expect(figure).to_have_text("2")
    console.check_a11y("dashboard")
    console.screenshot("dashboard")

    figure.click()
    page.mouse.move(0, 0)
    expect(page.get_by_role("heading", name=f"开放商机 {run} 的明细记录")).to_be_visible()
    for name in names:
        expect(page.get_by_role("link", name=name)).to_be_visible()
    expect(page.get_by_test_id("records-total")).to_have_text("共 2 条记录")
    expect(page.get_by_text(f"华南商机 {run}")).to_have_count(0)
    console.check_a11y("dashboard-records")
    console.screenshot("dashboard-records")

    console.set_language("en")
    expect(page.get_by_role("heading", name=f"Records behind 开放商机 {run}")).to_be_visible()
    expect(page.get_by_test_id("records-total")).to_have_text("2 records")
    page.mouse.move(0, 0)  # axe reads colours as they are: not a link under the pointer mid-hover
    console.check_a11y("dashboard-records")
    console.screenshot("dashboard-records")

    # back on the dashboard, a funnel row drills down to that stage's records
    page.go_back()
    widget = page.get_by_test_id("widget-open")
    expect(widget.get_by_test_id("widget-status")).to_have_text("Watch")
    console.check_a11y("dashboard")
    console.screenshot("dashboard")
    page.get_by_test_id("widget-by-stage").get_by_role("link", name="2: show the records of", exact=False).first.click()
    expect(page.get_by_test_id("records-total")).to_have_text("2 records")
    page.get_by_role("menuitem", name="Dashboards").click()
    expect(page.get_by_role("link", name=board["name"])).to_be_visible()
    console.check_a11y("dashboards")
    console.screenshot("dashboards")


def test_a_manager_builds_a_dashboard_and_sees_the_team_ranking_and_escalations(console: Any) -> None:
    page = console.page
    console.sign_in("manager.north")
    name = f"新看板 {uuid.uuid4().hex[:6]}"
    console.goto("/dashboards")
    page.get_by_role("button", name="新建仪表盘").click()
    expect(page.get_by_role("heading", name="新建仪表盘")).to_be_visible()
    page.get_by_label("名称").fill(name)
    page.get_by_label("标题").fill("开放商机")
    page.get_by_label("绿色阈值").fill("10")
    page.get_by_label("黄色阈值").fill("1")
    console.check_a11y("dashboard-new")
    console.screenshot("dashboard-new")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_test_id("widget-w1").get_by_text("绿色 ≥ 10 · 黄色 ≥ 1")).to_be_visible()
    # green below amber is refused by reporting, beside the field it names
    console.goto("/dashboards/new")
    page.get_by_label("名称").fill(name + " 2")
    page.get_by_label("绿色阈值").fill("1")
    page.get_by_label("黄色阈值").fill("10")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".ant-form-item-explain-error")).to_contain_text("green")
    console.set_language("en")
    expect(page.get_by_role("heading", name="New dashboard")).to_be_visible()
    console.check_a11y("dashboard-new")
    console.screenshot("dashboard-new")
    console.set_language("zh-CN")
    for lang in ("zh-CN", "en"):
        if lang == "en":
            console.set_language("en")
        page.get_by_role("menuitem", name="团队业绩" if lang == "zh-CN" else "Team performance").click()
        expect(page.get_by_role("heading", name="团队业绩" if lang == "zh-CN" else "Team performance")).to_be_visible()
        ranking = page.get_by_test_id("ranking")
        expect(ranking.get_by_role("columnheader", name="排名" if lang == "zh-CN" else "Rank")).to_be_visible()
        console.check_a11y("team")
        console.screenshot("team")
        page.get_by_role("menuitem", name="升级工单" if lang == "zh-CN" else "Escalations").click()
        expect(page.get_by_role("heading", name="升级工单" if lang == "zh-CN" else "Escalations")).to_be_visible()
        expect(page.get_by_role("switch")).to_be_visible()
        console.check_a11y("escalations")
        console.screenshot("escalations")
