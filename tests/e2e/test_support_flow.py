"""Support end to end through the gateway: a customer's ticket is answered, their email reply
threads into it, it is solved and the CSAT survey is answered once (a satisfied answer in the support
report); a customer finds a knowledge-base article with a two-character Chinese query without
signing in."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.e2e.conftest import new_contact, poll

pytestmark = pytest.mark.e2e


def test_ticket_reply_solve_and_csat_once(api: Callable[[str], Any], suite: Any) -> None:
    admin = api("admin")
    contact = admin.post("/contacts", json=new_contact("孙丽")).json()
    email = contact["emails"][0]["address"]
    created = admin.post("/tickets", json={"subject": "发票金额有误", "contact_id": contact["id"],
                                           "priority": "urgent"})
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["requester_email"] == email and ticket["sla"]

    reply = admin.post(f"/tickets/{ticket['id']}/comments",
                       json={"comment": {"body": "请提供订单号", "public": True}, "set_status": "pending"})
    assert reply.status_code == 201, reply.text
    raw = (f"From: 孙丽 <{email}>\r\nSubject: Re: [{ticket['number']}] 发票金额有误\r\n"
           f"Message-ID: <{uuid.uuid4().hex}@e2e.example>\r\nIn-Reply-To: {reply.json()['comment']['message_id']}\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n订单号 20260302001\r\n")
    threaded = admin.post("/inbound/email", data=raw.encode(), headers={"Content-Type": "message/rfc822"})
    assert threaded.status_code == 200, threaded.text
    assert threaded.json()["ticket"]["id"] == ticket["id"] and threaded.json()["ticket"]["status"] == "open"

    solved = admin.post(f"/tickets/{ticket['id']}/status", json={"status": "solved", "resolution_note": "已重开发票"})
    assert solved.status_code == 200, solved.text
    token = solved.json()["csat_token"]
    public = suite.gateway_url + "/api/v1/public"
    before = admin.get("/reports/support").json()
    first = requests.post(f"{public}/csat/{token}", json={"rating": 5, "comment": "很快"}, timeout=10)
    assert first.status_code == 201, first.text
    second = requests.post(f"{public}/csat/{token}", json={"rating": 1}, timeout=10)
    assert second.status_code == 409

    report = poll(lambda: admin.get("/reports/support").json(),
                  lambda r: r["csat_count"] > before["csat_count"], "the CSAT answer in the support report")
    assert (report["csat_count"], report["csat_satisfied"]) == (before["csat_count"] + 1, before["csat_satisfied"] + 1)
    assert report["csat_satisfied_share"] == report["csat_satisfied"] / report["csat_count"]

    comments = admin.get(f"/tickets/{ticket['id']}/comments").json()["items"]
    assert [c["body"] for c in comments] == ["请提供订单号", "订单号 20260302001"]


def test_a_customer_finds_an_article_with_two_chinese_characters(api: Callable[[str], Any], suite: Any) -> None:
    admin = api("admin")
    marker = uuid.uuid4().hex[:8]
    article = admin.post("/kb/articles", json={"title": f"快递延误如何赔付 {marker}", "body": "联系客服登记后三个工作日内赔付。",
                                               "status": "published"})
    assert article.status_code == 201, article.text
    found = requests.get(suite.gateway_url + "/api/v1/public/kb/search", params={"q": "赔付"}, timeout=10)
    assert found.status_code == 200, found.text
    assert article.json()["id"] in [h["id"] for h in found.json()["hits"]]
