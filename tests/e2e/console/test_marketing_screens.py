"""A marketer's day in the console: the campaign list, a campaign whose audience shows the API's
count of its segment, a send prepared and started from the campaign and its results (sent to the
consented, as the API counts them), a template previewed for one customer in a sandboxed frame
with their name merged in, the forms with a visitor's submission, and the campaign ROI. Every screen passes axe and is saved as
a screenshot in both languages."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import new_contact, poll

pytestmark = pytest.mark.e2e


def test_a_marketer_sends_a_campaign_and_previews_a_template(console: Any, api: Any) -> None:
    mkt = api("marketing.hq")
    tag = f"e2e-{uuid.uuid4().hex[:8]}"
    people = []
    for name in (f"周杰{tag[-4:]}", f"林青{tag[-4:]}"):
        created = mkt.post("/contacts", json=new_contact(name, tags=[tag], language="zh-CN"))
        assert created.status_code == 201, created.text
        people.append(created.json())
        granted = mkt.post(f"/contacts/{people[-1]['id']}/consents", json={
            "purpose": "marketing_email", "granted": True, "lawful_basis": "consent", "source": "web_form:e2e",
            "evidence": "ticked the newsletter box"})
        assert granted.status_code == 200, granted.text
    segment = mkt.post("/segments", json={"name": f"展会邀约 {tag}", "filter": {"tags_any": [tag]}}).json()
    assert mkt.get(f"/segments/{segment['id']}/count").json()["count"] == 2
    template = mkt.post("/email-templates", json={"name": f"展会邀请 {tag}", "contents": [
        {"language": "zh-CN", "subject": "{{ name }}，诚邀您参观展会", "html": "<p>尊敬的{{ name }}：欢迎莅临。</p>"},
        {"language": "en", "subject": "{{ name }}, join us", "html": "<p>Dear {{ name }}, welcome.</p>"}]})
    assert template.status_code == 201, template.text
    campaign = mkt.post("/campaigns", json={"name": f"春季展会 {tag}", "type": "trade_show",
                                            "budget": {"currency_code": "CNY", "amount": "5000.00"},
                                            "audience": {"segment_ids": [segment["id"]]}})
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    form = mkt.post("/forms", json={
        "name": f"展会报名 {tag}", "title": {"zh": "报名", "en": "Sign up"}, "campaign_id": campaign_id,
        "fields": [{"name": "name", "label": {"zh": "姓名", "en": "Name"}, "required": True},
                   {"name": "email", "label": {"zh": "邮箱", "en": "Email"}, "required": True},
                   {"name": "company", "label": {"zh": "公司", "en": "Company"}}],
        "consent": {"enabled": True, "text": {"zh": "我同意接收活动资讯", "en": "I agree to receive news"}}})
    assert form.status_code == 201, form.text
    form_id = form.json()["id"]
    shown = requests.get(f"{mkt.base}/public/forms/{form_id}/definition", timeout=10).json()

    page = console.page
    console.sign_in("marketing.hq")
    page.get_by_role("menuitem", name="营销活动").click()
    expect(page.get_by_role("heading", name="营销活动")).to_be_visible()
    page.get_by_role("link", name=f"春季展会 {tag}").click()
    expect(page.get_by_role("heading", name=f"春季展会 {tag}")).to_be_visible()
    # the audience size is the API's count of the segment
    expect(page.get_by_test_id(f"segment-count-{segment['id']}")).to_have_text("2 位成员")
    expect(page.get_by_text("¥5,000.00")).to_be_visible()

    # send: freeze the audience with the template, then start the wave
    page.get_by_label("模板").click()
    page.locator(".ant-select-item-option", has_text=f"展会邀请 {tag}").click()
    page.get_by_role("button", name="准备发送").click()
    waves = page.get_by_test_id("send-waves")
    expect(waves.get_by_text("就绪")).to_be_visible()
    waves.get_by_role("button", name="开始发送").click()
    poll(lambda: mkt.get(f"/campaigns/{campaign_id}/results"), lambda r: r.json().get("email", {}).get("sent") == 2,
         "the wave to mail both consented customers")
    # a visitor fills the form (the form refuses an answer sent faster than a person types)
    answer = poll(lambda: requests.post(f"{mkt.base}/public/forms/{form_id}/submissions", timeout=10, json={
        "form_token": shown["form_token"], "consent": True,
        "values": {"name": "吴刚", "email": f"wu.{tag}@e2e.example", "company": f"杭州茶叶 {tag}"}}),
        lambda r: r.status_code == 202 or "too fast" not in r.text, "the form to take the answer")
    assert answer.status_code == 202, answer.text
    page.reload()
    results = page.get_by_test_id("campaign-results")
    expect(results.locator(".ant-statistic").filter(has_text="已发送")).to_contain_text("2")

    for lang in ("zh-CN", "en"):
        if console.language != lang:
            console.set_language(lang)
        expect(page.get_by_role("heading", name=f"春季展会 {tag}")).to_be_visible()
        console.check_a11y("campaign")
        console.screenshot("campaign")
        page.get_by_role("link", name="All campaigns" if lang == "en" else "全部活动").click()
        expect(page.get_by_role("link", name=f"春季展会 {tag}")).to_be_visible()
        console.check_a11y("campaigns")
        console.screenshot("campaigns")

        page.get_by_role("menuitem", name="Email templates" if lang == "en" else "邮件模板").click()
        page.get_by_role("button", name=f"展会邀请 {tag}").click()
        page.get_by_label("Customer" if lang == "en" else "客户").fill(people[0]["name"])
        page.locator(".ant-select-item-option", has_text=people[0]["name"]).click()
        # the picker's list has closed (axe would catch it mid-animation otherwise)
        expect(page.locator(".ant-select-dropdown:not(.ant-select-dropdown-hidden)")).to_have_count(0)
        page.get_by_role("button", name="Show the preview" if lang == "en" else "显示预览").click()
        frame = page.frame_locator("iframe[sandbox]")
        expect(frame.get_by_text(f"尊敬的{people[0]['name']}：欢迎莅临。")).to_be_visible()
        expect(page.get_by_test_id("preview-subject")).to_contain_text(f"{people[0]['name']}，诚邀您参观展会")
        console.check_a11y("email-templates")
        console.screenshot("email-templates")

        page.get_by_role("menuitem", name="Forms" if lang == "en" else "表单").click()
        expect(page.get_by_role("heading", name="Forms" if lang == "en" else "表单", exact=True)).to_be_visible()
        name = f"展会报名 {tag}"
        page.get_by_role("button", name=f"Submissions of {name}" if lang == "en" else f"{name} 的提交").click()
        expect(page.get_by_text(f"company: 杭州茶叶 {tag}", exact=False)).to_be_visible()
        console.check_a11y("forms")
        console.screenshot("forms")

        page.get_by_role("menuitem", name="Campaign ROI" if lang == "en" else "活动投资回报").click()
        expect(page.get_by_role("heading", name="Campaign ROI" if lang == "en" else "活动投资回报")).to_be_visible()
        console.check_a11y("campaign-roi")
        console.screenshot("campaign-roi")
        page.get_by_role("menuitem", name="Campaigns" if lang == "en" else "营销活动").click()
        page.get_by_role("link", name=f"春季展会 {tag}").click()
