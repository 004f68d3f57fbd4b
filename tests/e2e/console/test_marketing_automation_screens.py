"""A marketer's automation in the console: an SMS wave prepared on a campaign with its template's
variables, started from its results screen and counted as the suite's SMS sink delivers it; guests
invited from the campaign and one admitted at the door by the code the list shows; an event rule
defined and then paused in place. The sequence and A/B test screens are shown on records prepared
through the API. Every screen passes axe and is saved as a screenshot in both languages."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import new_contact, poll

pytestmark = pytest.mark.e2e


def test_a_marketer_texts_invites_checks_in_and_automates(console: Any, api: Any) -> None:
    mkt = api("marketing.hq")
    tag = f"e2e-{uuid.uuid4().hex[:8]}"
    people = []
    for name in (f"郑晓{tag[-4:]}", f"孙悦{tag[-4:]}"):
        created = mkt.post("/contacts", json=new_contact(name, tags=[tag], language="zh-CN"))
        assert created.status_code == 201, created.text
        people.append(created.json())
        granted = mkt.post(f"/contacts/{people[-1]['id']}/consents", json={
            "purpose": "marketing_sms", "granted": True, "source": "web_form:e2e", "evidence": "ticked the SMS box"})
        assert granted.status_code == 200, granted.text
    segment = mkt.post("/segments", json={"name": f"路演短信 {tag}", "filter": {"tags_any": [tag]}}).json()
    campaign = mkt.post("/campaigns", json={"name": f"秋季路演 {tag}", "type": "trade_show",
                                            "start_date": (date.today() + timedelta(days=7)).isoformat(),
                                            "audience": {"segment_ids": [segment["id"]]}})
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    moved = mkt.post(f"/campaigns/{campaign_id}/status", json={"status": "scheduled"})  # the door admits then
    assert moved.status_code == 200, moved.text
    # marketing's projection of contacts is eventually consistent: wait until it has both
    # consents (a probe wave on a campaign of its own, never started)
    probe = mkt.post("/campaigns", json={"name": f"探测 {tag}", "type": "social"}).json()
    poll(lambda: mkt.post("/sms-waves", json={"campaign_id": probe["id"], "audience": {"tags": [tag]},
                                              "sms": {"template_code": "SMS_230001"}}),
         lambda r: r.status_code == 201 and r.json()["sms_counts"].get("pending") == 2,
         "marketing's projection to have both contacts and their consent")
    template = mkt.post("/email-templates", json={"name": f"路演邀请 {tag}", "contents": [
        {"language": "zh-CN", "subject": "{{ name }}，邀您参加路演", "html": "<p>{{ name }}，您好。</p>"}]})
    assert template.status_code == 201, template.text
    template_id = template.json()["id"]
    sequence = mkt.post("/sequences", json={"name": f"路演培育 {tag}", "campaign_id": campaign_id, "steps": [
        {"day": 0, "template_id": template_id}, {"day": 3, "channel": "sms", "sms": {"template_code": "SMS_230002"}}]})
    assert sequence.status_code == 201, sequence.text
    ab = mkt.post("/ab-tests", json={"name": f"主题对比 {tag}", "campaign_id": campaign_id, "template_id": template_id,
                                     "audience": {"segment_ids": [segment["id"]]}, "metric": "open", "test_percent": 50,
                                     "variants": [{"name": "A", "subject": "路演邀请"}, {"name": "B", "subject": "限量席位"}]})
    assert ab.status_code == 201, ab.text

    page = console.page
    console.sign_in("marketing.hq")
    console.goto(f"/campaigns/{campaign_id}")
    expect(page.get_by_role("heading", name=f"秋季路演 {tag}")).to_be_visible()

    # -- an SMS wave with the template's variables, its results, started there
    page.get_by_role("tab", name="短信").click()
    sms_form = page.get_by_test_id("new-sms-wave")
    sms_form.get_by_label("短信服务商模板编号").fill("SMS_230001")
    sms_form.get_by_role("button", name="添加变量").click()
    sms_form.get_by_label("变量名 2", exact=True).fill("date")
    sms_form.get_by_label("取值 2", exact=True).fill("12月12日")
    sms_form.get_by_role("button", name="准备短信发送").click()
    row = page.get_by_test_id("send-waves").get_by_role("row").filter(has_text="短信")
    expect(row).to_contain_text("就绪")
    row.get_by_role("link", name="结果").click()
    expect(page.get_by_role("heading", name="短信发送批次")).to_be_visible()
    figures = page.get_by_test_id("wave-figures")
    expect(figures.locator(".ant-statistic").filter(has_text="收件人")).to_contain_text("2")
    expect(page.get_by_text("SMS_230001")).to_be_visible()
    expect(page.get_by_text("12月12日")).to_be_visible()
    wave_path = page.url.split(console.base, 1)[1]
    page.get_by_role("button", name="开始发送").click()
    wave_id = wave_path.rsplit("/", 1)[1]
    poll(lambda: mkt.get(f"/send-waves/{wave_id}"), lambda r: r.json().get("sms_counts", {}).get("delivered") == 2,
         "the sink to deliver both texts")
    page.reload()
    expect(figures.locator(".ant-statistic").filter(has_text="已送达")).to_contain_text("2")
    expect(page.get_by_role("region", name="收件人").get_by_text("已发送")).to_have_count(2)

    # -- invite a guest, then admit them at the door by the code the list shows
    page.get_by_role("link", name="返回活动").click()
    page.get_by_role("tab", name="邀请与签到").click()
    invite = page.get_by_test_id("invite")
    invite.get_by_label("联系人", exact=True).fill(people[0]["name"])
    page.locator(".ant-select-item-option", has_text=people[0]["name"]).click()
    page.keyboard.press("Escape")
    invite.get_by_role("button", name="邀请").click()
    guest = page.get_by_test_id("invitees").get_by_role("row").filter(has_text=people[0]["name"])
    expect(guest).to_contain_text("已邀请")
    code = guest.locator("code").inner_text()
    door = page.get_by_test_id("check-in")
    door.get_by_label("签到码").fill(code.lower().replace("-", ""))  # as typed at the door
    door.get_by_role("button", name="签到", exact=True).click()
    expect(door.get_by_test_id("checked-in")).to_have_text(f"{people[0]['name']} 已签到。")
    expect(guest).to_contain_text("已到场")

    # -- an event rule, then paused from the list
    page.get_by_role("menuitem", name="自动化规则").click()
    rule_form = page.get_by_test_id("new-rule")
    rule_name = f"看过价格页 {tag}"
    rule_form.get_by_label("名称").fill(rule_name)
    rule_form.get_by_label("营销活动").fill(f"秋季路演 {tag}")
    page.locator(".ant-select-item-option", has_text=f"秋季路演 {tag}").click()
    rule_form.get_by_label("事件类型").fill("web.visit")
    page.keyboard.press("Escape")
    rule_form.get_by_label("网址模式").fill("*/pricing*")
    rule_form.get_by_label("模板", exact=True).fill(f"路演邀请 {tag}")
    page.locator(".ant-select-item-option", has_text=f"路演邀请 {tag}").click()
    rule_form.get_by_role("button", name="创建").click()
    switch = page.get_by_role("switch", name=f"启用 {rule_name}")
    expect(switch).to_be_checked()
    switch.click()
    expect(switch).not_to_be_checked()
    rules = mkt.get("/automation-rules", params={"campaign_id": campaign_id}).json()["items"]
    assert [(r["name"], r["status"]) for r in rules] == [(rule_name, "paused")]

    screens = [
        ("campaign-automation", f"/campaigns/{campaign_id}", {"zh-CN": f"秋季路演 {tag}", "en": f"秋季路演 {tag}"}),
        ("sms-wave", wave_path, {"zh-CN": "短信发送批次", "en": "SMS wave"}),
        ("automation-rules", "/automation-rules", {"zh-CN": "自动化规则", "en": "Automation rules"}),
        ("sequences", "/sequences", {"zh-CN": "培育序列", "en": "Drip sequences"}),
        ("sequence", f"/sequences/{sequence.json()['id']}", {"zh-CN": f"路演培育 {tag}", "en": f"路演培育 {tag}"}),
        ("ab-test", f"/ab-tests/{ab.json()['id']}", {"zh-CN": f"A/B 测试: 主题对比 {tag}", "en": f"A/B test: 主题对比 {tag}"}),
    ]
    for lang in ("zh-CN", "en"):
        if console.language != lang:
            console.set_language(lang)
        for name, path, heading in screens:
            console.goto(path)
            expect(page.get_by_role("heading", name=heading[lang])).to_be_visible()
            if name == "campaign-automation":
                page.get_by_role("tab", name="Invitees and check-in" if lang == "en" else "邀请与签到").click()
                expect(page.get_by_test_id("invitees").get_by_text(people[0]["name"])).to_be_visible()
            if name == "sequence":
                expect(page.get_by_test_id("sequence-steps")).to_contain_text("Day 3" if lang == "en" else "第 3 天")
            if name == "ab-test":
                expect(page.get_by_test_id("ab-variants")).to_contain_text("限量席位")
            console.check_a11y(name)
            console.screenshot(name)
