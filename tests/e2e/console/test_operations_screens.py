"""Operations screens that had none: a support manager edits the macros (the whole list saved in
one PUT, a refusal beside the row it names), a rep lends their work to a colleague while away and
ends it early, then opens the contracts list, and an agent exports the ticket queue with its filters and follows the job to its
download. Each screen passes axe and is saved as a screenshot in both languages."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_contact

pytestmark = pytest.mark.e2e


def both_languages(console: Any, name: str, check: Any) -> None:
    for lang in ("zh-CN", "en"):
        console.set_language(lang)
        check(lang)
        console.check_a11y(name)
        console.screenshot(name)
    console.set_language("zh-CN")


@pytest.fixture
def macros_put_back(api: Any) -> Iterator[list[dict[str, Any]]]:
    """The support macros as they were; put back after the test (other tests apply macros)."""
    admin = api("admin")
    before = admin.get("/support/macros")
    assert before.status_code == 200, before.text
    saved = before.json().get("macros", [])
    yield saved
    now = admin.get("/support/macros").json()
    restored = admin.http.put(admin.base + "/support/macros", timeout=10, json={"macros": saved},
                              headers={"If-Match": f'"{now["version"]}"'} if int(now.get("version", 0)) > 0 else {})
    assert restored.status_code == 200, restored.text


def test_a_manager_edits_the_support_macros(console: Any, api: Any, macros_put_back: list[dict[str, Any]]) -> None:
    page = console.page
    console.sign_in("manager.north")
    page.get_by_role("menuitem", name="快捷回复").click()
    expect(page.get_by_role("heading", name="快捷回复", exact=True)).to_be_visible()
    rows = len(macros_put_back)
    word = uuid.uuid4().hex[:6]
    page.get_by_role("button", name="添加快捷回复").click()
    page.get_by_role("button", name="添加快捷回复").click()
    first, second = page.get_by_test_id(f"macros-row-{rows}"), page.get_by_test_id(f"macros-row-{rows + 1}")
    first.get_by_label("ID").fill(f"chase-{word}")
    first.get_by_label("名称").fill(f"催办回复 {word}")
    first.get_by_label("回复内容").fill("您好，您的问题我们正在加急处理，预计今天内回复。")
    second.get_by_label("ID").fill(f"chase-{word}")  # the same id twice: refused beside the second row's ID
    second.get_by_label("名称").fill(f"结案回复 {word}")
    page.get_by_role("button", name="保存").click()
    # the support service names the first macro holding the repeated id
    beside = first.locator(".ant-form-item", has=page.get_by_label("ID")).locator(".ant-form-item-explain-error")
    expect(beside).to_have_text("every macro needs a unique id")
    expect(second.locator(".ant-form-item-explain-error")).to_have_count(0)
    second.get_by_label("ID").fill(f"close-{word}")
    page.get_by_role("button", name="保存").click()
    toast = page.locator(".ant-message-notice", has_text="已保存")
    expect(toast).to_be_visible()
    expect(beside).to_have_count(0)
    expect(toast).to_be_hidden(timeout=15_000)
    saved = api("admin").get("/support/macros").json()["macros"]
    assert [m["id"] for m in saved] == [m["id"] for m in macros_put_back] + [f"chase-{word}", f"close-{word}"]
    assert saved[-2]["body"].startswith("您好，您的问题")

    def macros(lang: str) -> None:
        expect(page.get_by_role("heading", name="快捷回复" if lang == "zh-CN" else "Macros", exact=True)).to_be_visible()
    both_languages(console, "support-macros", macros)


def test_a_rep_delegates_while_away_ends_it_early_and_opens_contracts(console: Any) -> None:
    page = console.page
    console.sign_in("rep.north.1")
    page.get_by_role("menuitem", name="工作委托").click()
    expect(page.get_by_role("heading", name="工作委托", exact=True)).to_be_visible()
    # starts in the future, so no other test sees rep.north.2 holding rep.north.1's records meanwhile
    start = datetime.now() + timedelta(days=30)
    reason = f"年假 {uuid.uuid4().hex[:6]}"
    page.get_by_label("受托同事（用户 ID）").fill("rep.north.2")
    page.get_by_label("开始（留空为现在）").fill(start.strftime("%Y-%m-%dT09:00"))
    page.get_by_label("截止").fill((start - timedelta(days=1)).strftime("%Y-%m-%dT18:00"))
    page.locator("form").get_by_role("button", name=re.compile(r"委托$")).click()
    beside = page.locator(".ant-form-item", has=page.get_by_label("截止")).locator(".ant-form-item-explain-error")
    expect(beside).to_be_visible()  # ends before it starts: the API's refusal, beside "until"
    page.get_by_label("截止").fill((start + timedelta(days=7)).strftime("%Y-%m-%dT18:00"))
    page.get_by_label("原因").fill(reason)
    submit = page.locator("form").get_by_role("button", name=re.compile(r"委托$"))
    expect(submit).not_to_have_class(re.compile(r"ant-btn-loading"))  # the refused request is over
    submit.click()
    row = page.get_by_test_id("delegations").locator("tr", has_text=reason)
    expect(row.get_by_text("未开始")).to_be_visible()
    row.get_by_role("button", name="立即结束").click()
    page.locator(".ant-popconfirm").get_by_role("button", name="立即结束").click()
    expect(row.get_by_text("已提前结束")).to_be_visible()
    toast = page.locator(".ant-message-notice")
    expect(toast).to_have_count(0, timeout=15_000)

    def delegations(lang: str) -> None:
        expect(page.get_by_role("heading", name="工作委托" if lang == "zh-CN" else "Delegations", exact=True)).to_be_visible()
        expect(row.get_by_text("已提前结束" if lang == "zh-CN" else "Ended early")).to_be_visible()
    both_languages(console, "delegations", delegations)

    page.get_by_role("menuitem", name="合同").click()

    def contracts(lang: str) -> None:
        expect(page.get_by_role("heading", name="合同" if lang == "zh-CN" else "Contracts", exact=True)).to_be_visible()
        expect(page.get_by_test_id("contracts").locator(".ant-spin-spinning")).to_have_count(0)  # the list answered
    both_languages(console, "contracts", contracts)


def test_an_agent_exports_the_filtered_queue(console: Any, api: Any) -> None:
    word = uuid.uuid4().hex[:6]
    admin = api("admin")
    contact = admin.post("/contacts", json=new_contact(f"钱进{word}")).json()
    created = admin.post("/tickets", json={"subject": f"导出测试 {word}", "contact_id": contact["id"],
                                           "priority": "low", "channel": "web", "description": "请导出这张工单。"})
    assert created.status_code == 201, created.text
    page = console.page
    console.sign_in("agent.support")
    page.get_by_role("menuitem", name="工单队列").click()
    expect(page.get_by_role("heading", name="工单队列")).to_be_visible()
    page.get_by_label("优先级", exact=True).click()
    page.locator(".ant-select-item-option", has_text="低").click()
    expect(page.get_by_test_id("ticket-queue").get_by_text(f"导出测试 {word}")).to_be_visible()
    page.get_by_test_id("export-list").click()
    expect(page).to_have_url(re.compile(r"/admin/exports/[^/]+$"))
    expect(page.get_by_role("heading", name="导出：工单")).to_be_visible()
    expect(page.get_by_test_id("export-status")).to_have_text("已完成", timeout=60_000)
    expect(page.get_by_text("priority = low")).to_be_visible()  # the queue's filter went with it
    with page.expect_download() as download:
        page.get_by_role("button", name="下载").click()
    assert download.value.suggested_filename.endswith(".csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert f"导出测试 {word}" in text

    def job(lang: str) -> None:
        expect(page.get_by_role("heading", name="导出" if lang == "zh-CN" else "Exports", exact=True)).to_be_visible()
        expect(page.get_by_test_id("export-status")).to_have_text("已完成" if lang == "zh-CN" else "Done")
    both_languages(console, "export-job", job)
