"""A support agent's day in the console: an urgent email ticket sits in the queue with its first
response due soon (the warning shown from the API's due and warning times, counting down); the
agent opens it, finds the answer in the knowledge base (suggested while typing), puts it into the
reply and sends it before the SLA is due, and the ticket shows as responded: the warning is gone
from the ticket and from its row in the queue. The knowledge base and CSAT screens too; every
screen passes axe and is saved as a screenshot in both languages."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_contact, poll

pytestmark = pytest.mark.e2e


@pytest.fixture
def urgent_warns_at_once(api: Any) -> Iterator[None]:
    """The urgent policy warns as soon as a ticket opens (its first response is still two hours
    away), so the queue shows a due-soon warning without waiting; the settings are put back after."""
    admin = api("admin")
    before = admin.get("/support/sla-policies")
    assert before.status_code == 200, before.text
    settings = before.json()
    policies = [dict(p) for p in settings["sla_policies"]]
    for p in policies:
        if p["priority"] == "urgent":
            p["warn_before_minutes"] = p["first_response_minutes"]
    changed = admin.http.put(admin.base + "/support/sla-policies", timeout=10, json={"sla_policies": policies,
                                                       "business_hours": settings.get("business_hours", {})})
    assert changed.status_code == 200, changed.text
    yield
    restored = admin.http.put(admin.base + "/support/sla-policies", timeout=10, json={"sla_policies": settings["sla_policies"],
                                                        "business_hours": settings.get("business_hours", {})})
    assert restored.status_code == 200, restored.text


def test_an_agent_answers_a_ticket_before_its_sla(console: Any, api: Any, urgent_warns_at_once: None) -> None:
    admin = api("admin")
    word = uuid.uuid4().hex[:6]
    article = admin.post("/kb/articles", json={"title": f"发票重开流程 {word}", "status": "published",
                                               "body": f"登录后台，在订单页申请重开发票 {word}，三个工作日内处理。"})
    assert article.status_code == 201, article.text
    contact = admin.post("/contacts", json=new_contact(f"赵敏{word}")).json()
    created = admin.post("/tickets", json={"subject": f"发票抬头错误 {word}", "contact_id": contact["id"],
                                           "priority": "urgent", "channel": "email",
                                           "description": "上周的发票抬头写错了，需要重开。"})
    assert created.status_code == 201, created.text
    ticket = created.json()
    first = next(c for c in ticket["sla"] if c["metric"] == "first_response")

    page = console.page
    console.sign_in("agent.support")
    page.get_by_role("menuitem", name="工单队列").click()
    expect(page.get_by_role("heading", name="工单队列")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=ticket["number"])
    expect(row.locator("[data-sla-state='warning']")).to_contain_text("首次响应：即将到期")
    expect(row.get_by_text("邮件")).to_be_visible()
    console.check_a11y("tickets")
    console.screenshot("tickets")

    row.get_by_role("link", name=ticket["number"]).click()
    expect(page.get_by_role("heading", name=ticket["number"])).to_be_visible()
    first_tag = page.get_by_test_id("sla-first_response")
    expect(first_tag).to_have_attribute("data-sla-state", "warning")
    expect(page.get_by_test_id("ticket-channel")).to_have_text("邮件")
    # the agent looks the answer up while typing and puts the article's text into the reply
    suggestions = page.get_by_test_id("kb-suggestions")
    suggestions.get_by_label("搜索知识库").fill(word)
    expect(suggestions.get_by_text(f"发票重开流程 {word}")).to_be_visible()
    suggestions.get_by_role("button", name="插入回复").click()
    reply = article.json()["body"]
    expect(page.get_by_label("回复内容")).to_have_value(reply)
    console.check_a11y("ticket")
    page.get_by_role("button", name="发送").click()
    expect(page.get_by_test_id("thread").get_by_text(reply)).to_be_visible()
    expect(first_tag).to_have_attribute("data-sla-state", "met")
    expect(first_tag).to_have_text("首次响应：已达成")
    expect(page.get_by_test_id("ticket-status")).to_have_text("处理中")
    console.check_a11y("ticket")
    console.screenshot("ticket")

    # what the agent saw is what the API kept: answered before the due time, not breached
    kept = admin.get(f"/tickets/{ticket['id']}").json()
    clock = next(c for c in kept["sla"] if c["metric"] == "first_response")
    assert clock.get("met_at") and not clock.get("breached")
    assert datetime.fromisoformat(kept["first_responded_at"]) < datetime.fromisoformat(first["due_at"])
    thread = admin.get(f"/tickets/{ticket['id']}/comments").json()["items"]
    assert [(c["body"], c["public"], c["author_id"]) for c in thread] == [(reply, True, "agent.support")]

    # back in the queue the row has left the warning: the resolution clock runs on
    page.get_by_role("link", name="工单队列").first.click()
    row = page.get_by_role("row").filter(has_text=ticket["number"])
    expect(row.locator("[data-sla-state='running']")).to_contain_text("解决：剩余")
    expect(row.locator("[data-sla-state='warning']")).to_have_count(0)

    console.set_language("en")
    expect(page.get_by_role("heading", name="Ticket queue")).to_be_visible()
    expect(row.locator("[data-sla-state='running']")).to_contain_text("Resolution: due in")
    console.check_a11y("tickets")
    console.screenshot("tickets")
    row.get_by_role("link", name=ticket["number"]).click()
    expect(page.get_by_test_id("sla-first_response")).to_have_text("First response: met")
    console.check_a11y("ticket")
    console.screenshot("ticket")

    for lang, kb, search, csat in (("en", "Knowledge base", "Search the knowledge base", "Customer satisfaction"),
                                   ("zh-CN", "知识库", "搜索知识库", "客户满意度")):
        if console.language != lang:
            console.set_language(lang)
        page.get_by_role("menuitem", name=kb).click()
        expect(page.get_by_role("heading", name=kb, exact=True)).to_be_visible()
        page.get_by_label(search).fill(word)
        expect(page.get_by_test_id("kb-hits").get_by_text(f"发票重开流程 {word}")).to_be_visible()
        console.check_a11y("kb")
        console.screenshot("kb")
        page.get_by_role("menuitem", name="Satisfaction" if lang == "en" else "满意度").click()
        expect(page.get_by_role("heading", name=csat)).to_be_visible()
        expect(page.get_by_test_id("csat-figures")).to_be_visible()
        console.check_a11y("csat")
        console.screenshot("csat")


def test_an_agent_opens_a_ticket_for_a_customer_found_by_search(console: Any, api: Any) -> None:
    """The agent opens a ticket from the queue for a customer picked by typing their name, to be
    told by SMS: a number that is not a mobile is refused beside the phone field, a real one opens
    the ticket, and the API holds the customer, the channel and the E.164 number."""
    admin = api("admin")
    word = uuid.uuid4().hex[:6]
    name = f"孙悟空{word}"
    contact = admin.post("/contacts", json=new_contact(name))
    assert contact.status_code == 201, contact.text
    agent = api("agent.support")
    # the picker asks once per word typed: wait (bounded) until the agent's search finds the contact
    poll(lambda: agent.get("/contacts", params={"q": name}).json().get("items", []), bool,
         "the agent's contact search to find the new customer")

    page = console.page
    console.sign_in("agent.support")
    page.get_by_role("menuitem", name="工单队列").click()
    # the channel filter offers a ticket's channels only: SMS is how a customer is told, not a channel
    page.get_by_label("渠道").click()
    dropdown = page.locator(".ant-select-dropdown:visible")
    expect(dropdown.locator(".ant-select-item-option-content")).to_have_text(
        ["API", "网页表单", "邮件", "在线聊天", "电话", "社交媒体", "微信", "企业微信"])
    page.keyboard.press("Escape")
    page.get_by_role("button", name="新建工单").click()
    expect(page.get_by_role("heading", name="新建工单")).to_be_visible()
    page.get_by_label("主题").fill(f"快递丢件 {word}")
    page.get_by_label("描述").fill("包裹三天没有物流更新。")
    page.get_by_label("客户").fill(name)
    dropdown.get_by_text(name).click()
    page.get_by_label("渠道").click()
    dropdown.get_by_text("电话", exact=True).click()
    page.get_by_label("短信").check()
    page.get_by_label("客户手机号").fill("12345")
    page.get_by_role("button", name="创建工单").click()
    # by the input's id, so the same error is found in either language
    beside = page.locator(".ant-form-item", has=page.locator("#notice_phone")).locator(".ant-form-item-explain-error")
    expect(beside).to_be_visible()
    for lang in ("zh-CN", "en"):
        console.set_language(lang)
        expect(beside).to_be_visible()
        console.check_a11y("ticket-new")
        console.screenshot("ticket-new")
    console.set_language("zh-CN")

    page.get_by_label("客户手机号").fill("13912345678")
    page.get_by_role("button", name="创建工单").click()
    expect(page.get_by_test_id("ticket-channel")).to_have_text("电话")
    ticket_id = page.url.rsplit("/", 1)[-1]
    kept = admin.get(f"/tickets/{ticket_id}").json()
    assert (kept["subject"], kept["contact_id"], kept["channel"], kept["notice_channel"], kept["notice_phone"]) == (
        f"快递丢件 {word}", contact.json()["id"], "phone", "sms", "+8613912345678")
