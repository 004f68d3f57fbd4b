"""An administrator's console: the settings the API holds, a customer import followed to its end
with the report of its rejected rows, the offboarding transfer, the audit log, and a
data-subject export followed until every service answered. Every screen passes axe and is saved
as a screenshot in both languages."""
from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_contact

pytestmark = pytest.mark.e2e

MAPPING = {"columns": {"客户名称": "name", "手机": "mobile", "邮箱": "email"}}


def both_languages(console: Any, name: str, check: Any) -> None:
    """check() in Chinese, then in English (and back), with axe and a screenshot each time."""
    for lang in ("zh-CN", "en"):
        console.set_language(lang)
        check(lang)
        console.check_a11y(name)
        console.screenshot(name)
    console.set_language("zh-CN")


def test_an_admin_reads_settings_and_imports_customers_with_a_report(console: Any, api: Any) -> None:
    page = console.page
    console.sign_in("admin")
    console.goto("/admin/settings")

    def settings(lang: str) -> None:
        expect(page.get_by_role("heading", name="系统设置" if lang == "zh-CN" else "Settings", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="保存" if lang == "zh-CN" else "Save")).to_be_visible()
    both_languages(console, "admin-settings", settings)
    page.get_by_role("tab", name="SLA 策略").click()
    expect(page.get_by_role("columnheader", name="首次响应 (min)")).to_be_visible()
    # saving the policies as they are: accepted with the version read (and the suite's SLA unchanged)
    page.get_by_role("tabpanel").get_by_role("button", name="保存").click()
    expect(page.get_by_text("SLA 策略已保存。")).to_be_visible()
    console.check_a11y("admin-settings-sla")
    console.screenshot("admin-settings-sla")
    page.get_by_role("tab", name="阶段及其规则").click()
    expect(page.get_by_text("进入条件").first).to_be_visible()
    console.check_a11y("admin-settings-stages")
    console.screenshot("admin-settings-stages")
    # an unknown criterion kind: the service counts a stage's entry and exit criteria together
    # ("stages[1].criteria[0].kind"); the error shows beside that stage's entry criteria, nothing saved
    stage = page.get_by_role("group", name="阶段 2", exact=True)
    label = "进入条件 (销售管道 1, 阶段 2) 1: 类型"
    stage.get_by_label(label).fill("nope")
    page.get_by_role("tabpanel").get_by_role("button", name="保存").click()
    beside = stage.locator(".ant-form-item", has=page.get_by_label(label)).locator(".ant-form-item-explain-error")
    expect(beside).to_contain_text("must be one of")
    held = api("admin").get("/sales/settings").json()
    assert held["pipelines"][0]["stages"][1]["entry_criteria"][0]["kind"] == "field"
    console.check_a11y("admin-settings-stages-refused")

    word = "ui" + uuid.uuid4().hex[:8]
    rows = [["客户名称", "手机", "邮箱"],
            [f"导入客户 {word}", f"139{uuid.uuid4().int % 10**8:08d}", f"{word}@example.cn"],
            [f"坏邮箱 {word}", f"137{uuid.uuid4().int % 10**8:08d}", f"not-an-email-{word}"]]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    page.get_by_role("menuitem", name="导入").click()
    expect(page.get_by_role("heading", name="导入客户")).to_be_visible()
    both_languages(console, "admin-imports", lambda lang: expect(page.get_by_label(
        "文件（CSV 或 xlsx）" if lang == "zh-CN" else "File (CSV or xlsx)")).to_be_visible())
    page.set_input_files("#import-file", files=[{"name": f"{word}.csv", "mimeType": "text/csv",
                                                 "buffer": out.getvalue().encode("utf-8")}])
    page.get_by_label("列映射（JSON，可选）").fill(json.dumps(MAPPING, ensure_ascii=False))
    page.get_by_role("button", name="上传并导入").click()
    expect(page.get_by_test_id("import-phase")).to_have_text("已完成，有被拒绝的行")
    page.get_by_role("button", name="查看被拒绝的行").click()
    expect(page.get_by_test_id("import-report").get_by_role("cell", name=f"not-an-email-{word}", exact=True)).to_be_visible()

    def job(lang: str) -> None:
        expect(page.get_by_test_id("import-phase")).to_have_text(
            "已完成，有被拒绝的行" if lang == "zh-CN" else "Done, with rejected rows")
    both_languages(console, "admin-import-job", job)


def test_an_admin_edits_a_pool_rule_refused_beside_its_field_then_saved(console: Any, api: Any) -> None:
    """A pool rule must state all four numbers: a cleared claim limit is refused and the API's
    error shows beside that box; with a limit the rule saves (with the version read) and the API
    holds it. The rule is for a team of its own, removed after."""
    admin = api("admin")
    team = f"ui-pool-{uuid.uuid4().hex[:6]}"
    current = admin.get("/sales/settings")
    assert current.status_code == 200, current.text
    others = [r for r in current.json().get("pool_rules", []) if not str(r.get("team", "")).startswith("ui-pool-")]
    mine = {"team": team, "inactive_days": 30, "unconverted_days": 90, "claim_limit": 40, "cooldown_days": 3}
    prepared = admin.patch("/sales/settings", json={"pool_rules": [*others, mine]})
    assert prepared.status_code == 200, prepared.text
    try:
        page = console.page
        console.sign_in("admin")
        console.goto("/admin/settings")
        page.get_by_role("tab", name="分配规则").click()
        rule = page.get_by_role("group", name=f"公海规则 {len(others) + 1}")
        expect(rule.get_by_label("团队")).to_have_value(team)
        limit = rule.get_by_label("领取上限")
        limit.fill("")
        page.get_by_role("tabpanel").get_by_role("button", name="保存").click()
        beside = rule.locator(".ant-form-item", has=page.get_by_label("领取上限")).locator(".ant-form-item-explain-error")
        expect(beside).to_be_visible()
        console.check_a11y("admin-settings-pool-refused")
        console.screenshot("admin-settings-pool-refused")
        assert next(r for r in admin.get("/sales/settings").json()["pool_rules"] if r["team"] == team)["claim_limit"] == 40

        limit.fill("25")
        page.get_by_role("tabpanel").get_by_role("button", name="保存").click()
        toast = page.get_by_text("销售设置已保存。")
        expect(toast).to_be_visible()
        expect(beside).to_be_hidden()
        held = admin.get("/sales/settings").json()
        assert next(r for r in held["pool_rules"] if r["team"] == team)["claim_limit"] == 25
        assert int(held["version"]) > int(prepared.json()["version"])
        expect(toast).to_be_hidden()
        both_languages(console, "admin-settings-assignment", lambda lang: expect(page.get_by_role(
            "heading", name="公海规则" if lang == "zh-CN" else "Public pool (公海) rules")).to_be_visible())
        page.get_by_role("tab", name="工单路由").click()
        expect(page.get_by_role("button", name="添加：路由规则")).to_be_visible()
        console.check_a11y("admin-settings-routing")
        console.screenshot("admin-settings-routing")
    finally:
        kept = [r for r in admin.get("/sales/settings").json().get("pool_rules", []) if r.get("team") != team]
        restored = admin.patch("/sales/settings", json={"pool_rules": kept})
        assert restored.status_code == 200, restored.text


def test_an_admin_offboards_reads_the_audit_log_and_exports_a_person(console: Any, api: Any) -> None:
    page = console.page
    rep = api("rep.north.1")
    contact = rep.post("/contacts", json=new_contact(f"数据主体 {uuid.uuid4().hex[:6]}"))
    assert contact.status_code == 201, contact.text
    console.sign_in("admin")

    # a user who owns nothing any more: the transfer runs in every service and moves nothing
    console.goto("/admin/offboarding")
    leaver = f"left.{uuid.uuid4().hex[:6]}"
    page.get_by_label("离职用户").fill(leaver)
    page.get_by_label("接手人").fill("rep.north.1")
    page.get_by_role("button", name="移交").click()
    page.get_by_role("dialog").get_by_role("button", name="移交").click()
    expect(page.get_by_test_id("offboarding-result")).to_contain_text("已将 0 条记录移交给 rep.north.1")
    both_languages(console, "admin-offboarding", lambda lang: expect(page.get_by_test_id("offboarding-result"))
                   .to_contain_text("已将 0 条记录" if lang == "zh-CN" else "0 records moved"))

    console.goto("/admin/audit")
    page.get_by_label("记录 ID").fill(contact.json()["id"])
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_role("cell", name="rep.north.1").first).to_be_visible()
    both_languages(console, "admin-audit", lambda lang: expect(page.get_by_role(
        "heading", name="审计日志" if lang == "zh-CN" else "Audit log")).to_be_visible())

    console.goto("/admin/privacy")
    page.get_by_label("联系人 ID").first.fill(contact.json()["id"])
    page.get_by_role("button", name="申请导出").click()
    expect(page.get_by_test_id("privacy-status")).to_have_text("已完成", timeout=60_000)
    expect(page.get_by_role("button", name="下载（JSON）")).to_be_visible()
    both_languages(console, "admin-privacy-export", lambda lang: expect(page.get_by_test_id("privacy-status"))
                   .to_have_text("已完成" if lang == "zh-CN" else "Completed"))
