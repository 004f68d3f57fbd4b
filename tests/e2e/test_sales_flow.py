"""Issue 3's headline flow, entirely through the gateway: a captured lead is scored, assigned,
qualified and converted (an account and a contact appear in contacts, once), the opportunity
moves through its stages (a change that breaks the entry criteria is refused and changes
nothing), an approved quote with exact totals and a PDF showing the Chinese customer name, the
deal is won, and "quote Q-… sent" reaches the customer's timeline in contacts. Plus a task that
is overdue and whose reminder the service's scheduler fires."""
from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e


def ok(resp: requests.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.headers.get("Content-Type", "").endswith("json") else resp


def put(client: Any, path: str, body: dict[str, Any]) -> requests.Response:
    return client.http.put(client.base + path, json=body, timeout=10)


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def setup_north_team(api: Any) -> None:
    admin = api("admin")
    for user in ("rep.north.1", "rep.north.2"):
        ok(put(admin, "/sales/reps", {"user_id": user, "team": "north-sales", "region": "north", "active": True}))
    ok(admin.patch("/sales/settings", json={"assignment_rules": [
        {"id": "north", "priority": 1, "regions": ["north"], "strategy": "round_robin", "team": "north-sales",
         "response_hours": 24}]}))


def test_a_captured_lead_becomes_a_won_deal_through_the_gateway(api: Any, tmp_path: Path) -> None:
    setup_north_team(api)
    run = uuid.uuid4().hex[:6]
    company = f"天津重工制造有限公司 {run}"

    # captured by a form (service token), scored, assigned to a north rep with a response deadline
    lead = ok(api("system").post("/leads/capture", json={"form_id": "expo-2026", "lead": {
        "name": "赵强", "company": company, "industry": "manufacturing", "region": "north", "province": "天津",
        "phone": "13800138000", "email": f"zhao.{run}@tjzg.example", "budget": "500000"}}), 201)
    assert lead["source"] == "web_form" and lead["status"] == "new"
    assert lead["owner_id"] in ("rep.north.1", "rep.north.2")
    assert ts(lead["response_due_at"]) - ts(lead["assigned_at"]) == timedelta(hours=24)
    rep, manager = api(lead["owner_id"]), api("manager.north")
    ok(rep.post(f"/leads/{lead['id']}/activities", json={"kind": "inbound_email", "count": 3}))
    scored = ok(rep.get(f"/leads/{lead['id']}"))
    why = {item["rule_id"]: item["points"] for item in scored["score_breakdown"]}
    assert why == {"industry_manufacturing": 20, "stated_budget": 15, "reachable_by_phone": 5, "inbound_email": 30}
    assert scored["score"] == 70

    # qualified (If-Match from the GET), then converted; a retry with the same key creates nothing twice
    resp = rep.post(f"/leads/{lead['id']}/status", json={"status": "qualified"},
                    headers={"If-Match": f'"{scored["version"]}"'})
    assert ok(resp)["status"] == "qualified"
    key = f"convert-{run}"
    convert = {"amount": {"currency_code": "CNY", "amount": "480000"}, "expected_close_date": "2026-06-30"}
    converted = ok(rep.post(f"/leads/{lead['id']}/convert", json=convert, headers={"Idempotency-Key": key}))
    again = ok(rep.post(f"/leads/{lead['id']}/convert", json=convert, headers={"Idempotency-Key": key}))
    assert again == converted
    assert converted["lead"]["status"] == "converted"
    accounts = ok(rep.get("/accounts", params={"q": company}))["items"]
    assert [a["id"] for a in accounts] == [converted["account_id"]]
    contact = ok(rep.get(f"/contacts/{converted['contact_id']}"))
    assert contact["account_id"] == converted["account_id"] and contact["name"] == "赵强"
    assert len(ok(rep.get("/contacts", params={"account_id": converted["account_id"]}))["items"]) == 1
    opp = converted["opportunity"]
    assert (opp["stage"], opp["probability"], opp["budget"]["amount"]) == ("first_contact", 10, "500000.00")
    path = f"/opportunities/{opp['id']}"

    # stages: a demo needs a budget; without one the change is refused, naming it, and nothing changes
    ok(rep.post(f"{path}/stage", json={"stage": "needs_confirmed"}))
    before = ok(rep.patch(path, json={"budget": {}}))
    refused = rep.post(f"{path}/stage", json={"stage": "solution_demo"})
    assert refused.status_code == 400 and refused.headers["Content-Type"] == "application/problem+json"
    problem = refused.json()
    assert problem["errors"][0]["field"] == "budget"
    assert "budget" in problem["detail"] and "方案演示" in problem["detail"]
    unchanged = rep.get(path)
    assert (unchanged.json()["stage"], unchanged.json()["version"]) == ("needs_confirmed", before["version"])
    assert unchanged.headers["ETag"] == f'"{before["version"]}"'
    ok(rep.patch(path, json={"budget": {"currency_code": "CNY", "amount": "450000"}}))
    demo = ok(rep.post(f"{path}/stage", json={"stage": "solution_demo"}))
    assert [v["stage"] for v in demo["stage_history"]] == ["first_contact", "needs_confirmed", "solution_demo"]

    # a quote with a line discount, tax and special terms: totals exact to the cent
    product = ok(manager.post("/products", json={"sku": f"crm-ent-{run}", "name": "CRM 企业版", "unit": "套"}), 201)
    book = ok(put(manager, "/price-books", {"name": f"标准价 {run}", "currency_code": "CNY", "tier": "standard",
                                            "entries": [{"product_id": product["id"],
                                                         "unit_price": {"amount": "19999.99"}}]}))
    quote = ok(rep.post("/quotes", json={
        "opportunity_id": opp["id"], "price_book_id": book["id"], "tax_rate": "0.13", "special_terms": "分三期付款",
        "lines": [{"product_id": product["id"], "quantity": "3", "discount_percent": "20"}]}), 201)
    assert re.fullmatch(r"Q-\d{4}-\d{6}", quote["number"]) and quote["customer_name"] == company
    totals = [quote[k]["amount"] for k in ("subtotal", "discount_total", "tax_total", "total")]
    assert totals == ["59999.97", "11999.99", "6240.00", "54239.98"]
    quote_path = f"/quotes/{quote['id']}"
    early = rep.post(f"{quote_path}/send", json={})
    assert early.status_code == 400 and early.json()["errors"][0]["field"] == "status"
    assert "approved" in early.json()["detail"]

    # approvals: discount 20 % > 15 % → manager, special terms → legal, then finance, in that order
    submitted = ok(rep.post(f"{quote_path}/submit"))
    assert submitted["status"] == "pending_approval"
    trail = ok(rep.get("/approvals", params={"quote_id": quote["id"]}))["items"]
    assert [s["approver_role"] for s in trail[0]["steps"]] == ["manager", "legal", "finance"]
    decide = f"/approvals/{submitted['approval_id']}/decide"
    assert api("legal.hq").post(decide, json={"approve": True}).status_code == 403  # the manager is first
    ok(manager.post(decide, json={"approve": True, "comment": "大客户，同意"}))
    ok(api("legal.hq").post(decide, json={"approve": True, "comment": "条款可接受"}))
    approved = ok(api("finance.hq").post(decide, json={"approve": True}))
    assert approved["status"] == "approved"
    assert [(s["decided_by"], s["status"]) for s in approved["steps"]] == [
        ("manager.north", "approved"), ("legal.hq", "approved"), ("finance.hq", "approved")]

    # the PDF, with the Chinese customer name
    pdf = rep.get(f"{quote_path}/pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    filename = re.search(r'filename="([^"]+)"', pdf.headers["Content-Disposition"]).group(1)  # type: ignore[union-attr]
    assert filename.startswith(quote["number"]) and filename.endswith(".pdf") and pdf.content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        (tmp_path / filename).write_bytes(pdf.content)
        text = subprocess.run(["pdftotext", "-layout", str(tmp_path / filename), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert company in text and "54239.98" in text and "分三期付款" in text

    # sent, accepted, won; a contract from the accepted quote
    ok(rep.post(f"{path}/stage", json={"stage": "quote_submitted"}))
    assert ok(rep.post(f"{quote_path}/send", json={"recipient_email": f"zhao.{run}@tjzg.example"}))["status"] == "sent"
    ok(rep.patch(path, json={"decision_maker": "赵总"}))
    ok(rep.post(f"{path}/stage", json={"stage": "negotiation"}))
    not_yet = rep.post(f"{path}/stage", json={"stage": "closed_won"})
    assert not_yet.status_code == 400 and "accept" in not_yet.json()["detail"]
    ok(rep.post(f"{quote_path}/accept", json={}))
    won = ok(rep.post(f"{path}/stage", json={"stage": "closed_won"}))
    assert (won["status"], won["forecast_category"], won["probability"]) == ("won", "closed", 100)
    contract = ok(rep.post("/contracts", json={"quote_id": quote["id"], "start_date": "2026-07-01",
                                               "end_date": "2027-06-30"}), 201)
    assert contract["total"]["amount"] == "54239.98"

    # sales events reach the customer's timeline in contacts (eventually)
    def timeline() -> dict[str, str]:
        entries = ok(rep.get(f"/contacts/{converted['contact_id']}/timeline"))["items"]
        return {e["kind"]: e["summary"] for e in entries}

    deadline = time.monotonic() + 20
    while not {"quote_sent", "opportunity_won"} <= timeline().keys() and time.monotonic() < deadline:
        time.sleep(0.3)
    entries = timeline()
    assert f"quote {quote['number']} sent" in entries.get("quote_sent", ""), entries
    assert "won" in entries.get("opportunity_won", ""), entries


def test_an_overdue_task_is_listed_and_its_reminder_fires_once(api: Any) -> None:
    """No clock is reachable through HTTP, so the task is due an hour ago and its reminder two
    seconds from now: the service's own scheduler (every 5 s by default) must fire it."""
    rep = api("rep.north.2")
    now = datetime.now(UTC)
    title = f"回访客户 call back {uuid.uuid4().hex[:6]}"
    task = ok(rep.post("/tasks", json={
        "title": title, "kind": "call", "due_at": (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "remind_at": (now + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")}), 201)
    overdue = ok(rep.get("/tasks", params={"overdue_only": "true"}))["items"]
    assert task["id"] in [t["id"] for t in overdue]

    def mine() -> list[dict[str, Any]]:
        return [r for r in ok(rep.get("/reminders"))["items"] if r["task_id"] == task["id"]]

    deadline = time.monotonic() + 30
    while not mine() and time.monotonic() < deadline:
        time.sleep(0.5)
    fired = mine()
    assert len(fired) == 1 and title in fired[0]["message"], fired
    ok(rep.post(f"/tasks/{task['id']}/complete"))
    assert task["id"] not in [t["id"] for t in ok(rep.get("/tasks", params={"overdue_only": "true"}))["items"]]
