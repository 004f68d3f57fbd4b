"""From a marketing form to the campaign's ROI in reporting, through the gateway (issue 10): a
visitor sends a campaign's lead-capture form from a link with UTM parameters → marketing delivers
the lead to sales carrying its campaign, form and UTM attribution → a rep qualifies and converts
it → the deal is won → reporting's campaign report counts the lead, the conversion and the won
revenue against what the campaign cost."""
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



def test_a_form_lead_with_utm_becomes_a_won_deal_and_the_campaign_s_roi(api: Callable[[str], Any]) -> None:
    run = uuid.uuid4().hex[:6]
    admin, mkt = api("admin"), api("marketing.hq")
    for user in ("rep.north.1", "rep.north.2"):
        ok(admin.http.put(admin.base + "/sales/reps", json={"user_id": user, "team": "north-sales",
                                                             "region": "north", "active": True}, timeout=10))
    ok(admin.patch("/sales/settings", json={"assignment_rules": [  # the same north rule as the sales flow's
        {"id": "north", "priority": 1, "regions": ["north"], "strategy": "round_robin", "team": "north-sales",
         "response_hours": 24}]}))
    ok(admin.patch("/automation-settings", json={"form_min_seconds": 0}))
    campaign = ok(mkt.post("/campaigns", json={
        "name": f"华北制造业研讨会 {run}", "type": "webinar", "budget": {"currency_code": "CNY", "amount": "20000"},
        "actual_cost": {"currency_code": "CNY", "amount": "10000"}}), 201)
    form = ok(mkt.post("/forms", json={
        "name": f"研讨会报名 {run}", "title": {"zh": "报名", "en": "Sign up"}, "campaign_id": campaign["id"],
        "lead_region": "north",
        "fields": [{"name": "name", "label": {"zh": "姓名", "en": "Name"}, "required": True},
                   {"name": "email", "label": {"zh": "邮箱", "en": "Email"}, "required": True},
                   {"name": "company", "label": {"zh": "公司", "en": "Company"}},
                   {"name": "budget", "label": {"zh": "预算", "en": "Budget"}}],
        "consent": {"enabled": True, "text": {"zh": "我同意接收活动资讯", "en": "I agree to receive news"}}}), 201)

    # the visitor: the public form (no token), sent from a page reached by a tagged link
    public = requests.Session()
    shown = ok(public.get(f"{mkt.base}/public/forms/{form['id']}/definition", timeout=10))
    email = f"li.{run}@tjsteel.example"
    answer = ok(public.post(f"{mkt.base}/public/forms/{form['id']}/submissions", timeout=10, json={
        "form_token": shown["form_token"], "consent": True, "page_url": "https://tjsteel.example/webinar",
        "values": {"name": "李明", "email": email, "company": f"天津钢铁 {run}", "budget": "300000"},
        "utm": {"source": "wechat", "medium": "social", "campaign": "webinar-2026", "content": "poster"}}), 202)
    assert answer["submission_id"]

    submission = poll(lambda: ok(mkt.get(f"/forms/{form['id']}/submissions"))["items"],
                      lambda subs: bool(subs) and subs[0]["status"] == "delivered", "the lead delivered to sales")[0]
    lead = ok(admin.get(f"/leads/{submission['lead_id']}"))
    assert (lead["campaign_id"], lead["source"], lead["email"]) == (campaign["id"], "web_form", email)
    keys = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "form_id")
    assert [lead["attribution"].get(k, "") for k in keys] == ["wechat", "social", "webinar-2026", "", "poster",
                                                              form["id"]]
    assert lead["owner_id"] in ("rep.north.1", "rep.north.2")

    # sales: qualified, converted, through the stages, won
    rep, manager = api(lead["owner_id"]), api("manager.north")
    ok(rep.post(f"/leads/{lead['id']}/status", json={"status": "qualified"}, headers={"If-Match": f'"{lead["version"]}"'}))
    converted = ok(rep.post(f"/leads/{lead['id']}/convert", headers={"Idempotency-Key": f"roi-{run}"}, json={
        "amount": {"currency_code": "CNY", "amount": "250000"}, "expected_close_date": "2026-12-31"}))
    opp = converted["opportunity"]
    path = f"/opportunities/{opp['id']}"
    product = ok(manager.post("/products", json={"sku": f"roi-{run}", "name": "钢材管理系统", "unit": "套"}), 201)
    book = ok(manager.http.put(manager.base + "/price-books", timeout=10, json={
        "name": f"标准价 {run}", "currency_code": "CNY", "tier": "standard",
        "entries": [{"product_id": product["id"], "unit_price": {"amount": "250000"}}]}))
    quote = ok(rep.post("/quotes", json={"opportunity_id": opp["id"], "price_book_id": book["id"],
                                         "lines": [{"product_id": product["id"], "quantity": "1"}]}), 201)
    assert ok(rep.post(f"/quotes/{quote['id']}/submit"))["status"] == "approved"  # no discount, no terms
    for stage in ("needs_confirmed", "solution_demo", "quote_submitted"):
        ok(rep.post(f"{path}/stage", json={"stage": stage}))
    ok(rep.post(f"/quotes/{quote['id']}/send", json={"recipient_email": email}))
    ok(rep.patch(path, json={"decision_maker": "李总"}))
    ok(rep.post(f"{path}/stage", json={"stage": "negotiation"}))
    ok(rep.post(f"/quotes/{quote['id']}/accept", json={}))
    assert ok(rep.post(f"{path}/stage", json={"stage": "closed_won"}))["status"] == "won"

    # reporting: the campaign's lead, conversion and revenue against its cost
    def report() -> dict[str, Any]:
        r = admin.get(f"/reports/campaigns/{campaign['id']}")
        return dict(r.json()) if r.status_code == 200 else {}

    row = poll(report, lambda r: int(r.get("campaign", {}).get("money", {}).get("first_touch_deals", 0)) == 1,
               "the won deal in the campaign's report")["campaign"]
    assert (int(row["leads"]), int(row["conversions"])) == (1, 1)
    money = row["money"]
    assert money["currency_code"] == "CNY" and float(money["actual_cost"]) == 10000
    assert float(money["first_touch_revenue"]) == float(money["last_touch_revenue"]) > 10000
    assert money["first_touch_roi"] > 0 and money["last_touch_roi"] > 0
