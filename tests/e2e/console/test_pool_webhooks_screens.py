"""Screens for API features that had none: a rep's public pool (公海: leads and customers nobody
holds, claim) and an administrator's webhooks (subscribe a URL, its secret shown once, the
delivery log). Each screen passes axe and is saved as a screenshot in both languages."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def both_languages(console: Any, name: str, check: Any) -> None:
    for lang in ("zh-CN", "en"):
        console.set_language(lang)
        check(lang)
        console.check_a11y(name)
        console.screenshot(name)
    console.set_language("zh-CN")


def test_a_rep_opens_the_public_pool(console: Any) -> None:
    page = console.page
    console.sign_in("rep.north.1")
    page.get_by_role("menuitem", name="公海").click()

    def pool(lang: str) -> None:
        expect(page.get_by_role("heading", name="公海" if lang == "zh-CN" else "Public pool", exact=True)).to_be_visible()
        expect(page.get_by_role("heading", name="公海线索" if lang == "zh-CN" else "Leads in the pool")).to_be_visible()
        expect(page.get_by_role("heading", name="公海客户" if lang == "zh-CN" else "Customers in the pool")).to_be_visible()
    both_languages(console, "pool", pool)


def test_an_admin_subscribes_a_webhook_and_sees_its_secret_once(console: Any, api: Any) -> None:
    page = console.page
    console.sign_in("admin")
    console.goto("/admin/webhooks")
    target = f"http://127.0.0.1:9/hooks/{uuid.uuid4().hex[:8]}"
    page.get_by_label("目标 URL").fill("not a url")
    page.get_by_role("button", name="订阅").click()
    beside = page.locator(".ant-form-item", has=page.get_by_label("目标 URL")).locator(".ant-form-item-explain-error")
    expect(beside).to_be_visible()  # the API's refusal, beside the field it names
    page.get_by_label("目标 URL").fill(target)
    page.get_by_label("事件类型").fill("opportunity.won")
    expect(page.locator(".ant-select-item-option", has_text="opportunity.won").first).to_be_visible()
    page.keyboard.press("Enter")  # the first match
    page.keyboard.press("Escape")
    page.get_by_role("button", name="订阅").click()
    expect(page.get_by_test_id("webhook-secret")).to_be_visible()
    expect(page.get_by_text(target)).to_be_visible()
    mine = [s for s in api("admin").get("/webhooks/subscriptions").json()["items"] if s["target_url"] == target]
    assert [s["event_types"] for s in mine] == [["opportunity.won"]]

    def webhooks(lang: str) -> None:
        expect(page.get_by_role("heading", name="Webhook 订阅" if lang == "zh-CN" else "Webhooks", exact=True)).to_be_visible()
    both_languages(console, "webhooks", webhooks)
