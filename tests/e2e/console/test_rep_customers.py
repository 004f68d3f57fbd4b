"""A rep's day in the console: sign in through the picker, find a customer by a two-character
Chinese query, open the 360° view, log a call and see it on the timeline; and a customer of
another rep, opened by URL, is the API's 404 shown as "not found". Every screen passes axe and is
saved as a screenshot in both languages."""
from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from crmkit.testing import wait_for
from tests.e2e.conftest import new_contact

pytestmark = pytest.mark.e2e


def rare_pair() -> str:
    """Two CJK characters no other test's customer is likely to have."""
    rng = random.Random(uuid.uuid4().int)
    return "".join(chr(rng.randint(0x5A00, 0x9F00)) for _ in range(2))


def test_a_rep_finds_a_customer_by_a_chinese_query_and_logs_a_call(console: Any, api: Any) -> None:
    rep = api("rep.north.1")
    query = rare_pair()
    word = uuid.uuid4().hex[:6]
    created = rep.post("/contacts", json=new_contact(f"{query}{word}", company_name="北京小米科技有限责任公司",
                                                     title="采购总监", tags=["高意向"]))
    assert created.status_code == 201, created.text
    contact = created.json()
    # the search index follows the outbox; the console shows what the API finds
    wait_for(lambda: any(h["id"] == contact["id"] for h in
                         rep.get("/search/customers", params={"q": query}).json()["items"]), 30,
             what="the search index to have the new customer")

    page = console.page
    console.goto("/")
    expect(page.get_by_role("heading", name="登录枢纽 CRM")).to_be_visible()
    console.check_a11y("sign-in")
    console.screenshot("sign-in")

    console.sign_in("rep.north.1")
    expect(page.get_by_role("heading", name="我的客户")).to_be_visible()
    search = page.get_by_label("搜索客户")
    search.fill(query)
    row_link = page.get_by_role("link", name=contact["name"])
    expect(row_link).to_be_visible()
    expect(page.get_by_test_id("search-total")).to_contain_text("找到")
    console.check_a11y("customers")
    console.screenshot("customers")

    row_link.click()
    expect(page.get_by_role("heading", name=contact["name"])).to_be_visible()
    expect(page.get_by_text("北京小米科技有限责任公司")).to_be_visible()
    subject = f"电话回访 {word}"
    page.get_by_label("主题").fill(subject)
    page.get_by_label("沟通内容").fill("客户确认预算，下周演示")
    page.get_by_label("时长（分钟）").fill("12")
    page.get_by_role("button", name="保存").click()
    timeline = page.get_by_test_id("timeline")
    expect(timeline.get_by_text(subject)).to_be_visible()
    expect(timeline.get_by_text("客户确认预算，下周演示")).to_be_visible()
    saved = page.get_by_text("已记录到时间线。")
    expect(saved).to_be_visible()
    expect(saved).to_be_hidden()  # axe would measure the toast half faded
    console.check_a11y("customer-360")
    console.screenshot("customer-360")

    # what the rep saw is what the API kept
    entries = rep.get(f"/contacts/{contact['id']}/timeline").json()["items"]
    logged = [e["interaction"] for e in entries if e.get("interaction", {}).get("subject") == subject]
    assert len(logged) == 1
    assert (logged[0]["kind"], logged[0]["duration_seconds"], logged[0]["author_id"]) == ("call", 720, "rep.north.1")

    console.set_language("en")
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(timeline.get_by_text("Call").first).to_be_visible()
    console.check_a11y("customer-360")
    console.screenshot("customer-360")
    page.get_by_role("link", name="All customers").click()
    expect(page.get_by_role("heading", name="My customers")).to_be_visible()
    page.get_by_label("Search customers").fill(query)
    expect(page.get_by_role("link", name=contact["name"])).to_be_visible()
    console.check_a11y("customers")
    console.screenshot("customers")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Shuniu CRM")).to_be_visible()
    console.check_a11y("sign-in")
    console.screenshot("sign-in")


def test_a_rep_cannot_open_another_reps_customer_by_url(console: Any, api: Any) -> None:
    theirs = api("rep.north.2").post("/contacts", json=new_contact(f"李娜的客户 {uuid.uuid4().hex[:6]}"))
    assert theirs.status_code == 201, theirs.text
    assert api("rep.north.1").get(f"/contacts/{theirs.json()['id']}").status_code == 404

    page = console.page
    console.sign_in("rep.north.1")
    console.goto(f"/customers/{theirs.json()['id']}")
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()
    expect(page.get_by_text(theirs.json()["name"])).to_have_count(0)
    console.check_a11y("not-found")
    console.screenshot("not-found")
    console.set_language("en")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    console.screenshot("not-found")
