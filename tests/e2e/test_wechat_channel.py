"""WeChat end to end (issue 15): a customer who emailed earlier writes on WeChat; the simulator
signs, encrypts and pushes the message to the gateway's callback; it lands as a ticket on the
contact holding that openid; the agent's reply arrives at the simulator's send endpoint; the
contact's timeline shows the email and the WeChat ticket together. A replayed MsgId changes
nothing; a bad signature is refused with 403 and logged."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
import sqlalchemy

from tests.e2e.conftest import new_contact, poll

pytestmark = pytest.mark.e2e


def sim(suite: Any, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{suite.wechat_url}{path}"
    r = requests.post(url, json=body or {}, timeout=15) if body is not None else requests.get(url, timeout=15)
    assert r.status_code == 200, r.text
    return r.json()


def wechat_tickets(admin: Any, contact_id: str) -> list[dict[str, Any]]:
    r = admin.get("/tickets", params={"contact_id": contact_id, "channel": "wechat"})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def test_a_wechat_message_reaches_the_right_contact_and_the_reply_reaches_wechat(
        api: Callable[[str], Any], suite: Any) -> None:
    admin = api("admin")
    account = next(a for a in suite.wechat_accounts if a["name"] == "demo")
    openid = f"o{uuid.uuid4().hex[:27]}"
    contact = admin.post("/contacts", json=new_contact("周敏", social_identities=[{
        "platform": "wechat", "app_id": account["app_id"], "kind": "openid", "value": openid,
        "verified_source": "agent:admin"}]))
    assert contact.status_code == 201, contact.text
    contact = contact.json()
    email = contact["emails"][0]["address"]
    raw = (f"From: 周敏 <{email}>\r\nSubject: 询价：工业传感器\r\nMessage-ID: <{uuid.uuid4().hex}@e2e.example>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n请问 S-200 的价格？\r\n")
    mailed = admin.post("/inbound/email", data=raw.encode(), headers={"Content-Type": "message/rfc822"})
    assert mailed.status_code == 201, mailed.text

    # the URL check the platform makes when the account is configured
    check = sim(suite, "/sim/verify", {"account": "demo"})
    assert (check["status"], check["body"]) == (200, check["expected"])

    pushed = sim(suite, "/sim/push", {"account": "demo", "from_user": openid, "content": "两天前发过邮件，S-200 多少钱？"})
    assert (pushed["status"], pushed["body"]) == (200, "success")
    tickets = poll(lambda: wechat_tickets(admin, contact["id"]), lambda items: len(items) == 1,
                   "the WeChat message's ticket on the contact")
    ticket = tickets[0]
    assert ticket["requester_name"] == "周敏" and ticket["reply_window_ends_at"]

    # the platform's retry of the same MsgId (byte for byte) changes nothing
    replayed = sim(suite, "/sim/replay", {"id": pushed["id"]})
    assert (replayed["status"], replayed["body"]) == (200, "success")

    reply = admin.post(f"/tickets/{ticket['id']}/comments",
                       json={"comment": {"body": "S-200 单价 1,280 元，含税。", "public": True}})
    assert reply.status_code == 201, reply.text
    assert reply.json()["comment"]["delivery_status"] == "pending"
    sent = poll(lambda: sim(suite, "/sim/sent?account=demo"),
                lambda doc: any(s["touser"] == openid for s in doc["sent"]), "the reply at the simulator")
    assert [s["content"] for s in sent["sent"] if s["touser"] == openid] == ["S-200 单价 1,280 元，含税。"]
    comments = poll(lambda: admin.get(f"/tickets/{ticket['id']}/comments").json()["items"],
                    lambda items: items[-1].get("delivery_status") == "sent", "the reply's delivery status")
    assert [c["body"] for c in comments] == ["两天前发过邮件，S-200 多少钱？", "S-200 单价 1,280 元，含税。"]
    assert len(wechat_tickets(admin, contact["id"])) == 1  # the replay opened nothing

    timeline = poll(lambda: admin.get(f"/contacts/{contact['id']}/timeline").json()["items"],
                    lambda items: sum(e["kind"] == "ticket_opened" for e in items) == 2,
                    "both tickets on the timeline")
    summaries = [e["summary"] for e in timeline if e["kind"] == "ticket_opened"]
    assert any("via WeChat" in s for s in summaries) and any("询价" in s and "WeChat" not in s for s in summaries)


def test_a_bad_signature_is_refused_with_403_and_logged(suite: Any) -> None:
    refused = sim(suite, "/sim/push", {"account": "demo", "from_user": "o-forger", "content": "hi",
                                       "bad_signature": True})
    assert refused["status"] == 403
    assert "msg_signature" in refused["body"]
    log = suite.procs["gateway"].log_path.read_text(encoding="utf-8", errors="replace")
    assert "refused a wechat callback for account demo" in log
    unknown = requests.post(f"{suite.gateway_url}/api/v1/channels/wechat/nobody?timestamp=1&nonce=2",
                            data=b"<xml/>", timeout=10)
    assert unknown.status_code == 404


def test_a_follower_from_a_campaign_qr_code_is_attributed_to_the_campaign(
        api: Callable[[str], Any], suite: Any) -> None:
    admin, mkt = api("admin"), api("marketing.hq")
    slug = f"wx-fair-{uuid.uuid4().hex[:8]}"
    campaign = mkt.post("/campaigns", json={"name": f"微信展会 {slug}", "type": "social", "slug": slug})
    assert campaign.status_code == 201, campaign.text
    account = next(a for a in suite.wechat_accounts if a["name"] == "demo")
    openid = f"o{uuid.uuid4().hex[:27]}"
    contact = admin.post("/contacts", json=new_contact("吴昊", social_identities=[{
        "platform": "wechat", "app_id": account["app_id"], "kind": "openid", "value": openid}])).json()
    pushed = sim(suite, "/sim/push", {"account": "demo", "from_user": openid, "type": "event", "event": "subscribe",
                                      "event_key": f"qrscene_{slug}"})
    assert (pushed["status"], pushed["body"]) == (200, "success")
    # Marketing lists only scored touches over its API (opens, clicks, visits, forms); the
    # follower's touch is what its lead hand-over and attribution read, so look at it where it is kept.
    engine = sqlalchemy.create_engine(suite.database_url("marketing"))
    query = sqlalchemy.text("SELECT kind, campaign_id FROM touches WHERE contact_id = :c")
    try:
        def touches() -> list[tuple[str, str]]:
            with engine.connect() as db:
                return [tuple(row) for row in db.execute(query, {"c": contact["id"]})]
        seen = poll(touches, lambda rows: len(rows) > 0, "the follower's touch in marketing")
    finally:
        engine.dispose()
    assert seen == [("wechat_follow", campaign.json()["id"])]
    assert wechat_tickets(admin, contact["id"]) == []  # following opens no ticket


def test_a_wecom_conversation_both_ways(api: Callable[[str], Any], suite: Any) -> None:
    admin = api("admin")
    check = sim(suite, "/sim/verify", {"account": "demo-wecom"})  # echostr encrypted, answered decrypted
    assert (check["status"], check["body"]) == (200, check["expected"])
    user = f"wm{uuid.uuid4().hex[:30]}"
    pushed = sim(suite, "/sim/push", {"account": "demo-wecom", "from_user": user, "content": "合同什么时候寄出？"})
    assert (pushed["status"], pushed["body"]) == (200, "")  # WeCom wants an empty answer
    ticket = poll(lambda: admin.get("/tickets", params={"channel": "wecom"}).json()["items"],
                  lambda items: any(t["external_ref"] == f"demo-wecom:{user}" for t in items),
                  "the WeCom ticket")
    ticket = next(t for t in ticket if t["external_ref"] == f"demo-wecom:{user}")
    assert ticket["contact_id"]  # a new contact carrying the external_userid, for an agent to merge
    follower = admin.get(f"/contacts/{ticket['contact_id']}").json()
    assert [(i["kind"], i["value"]) for i in follower["social_identities"]] == [("external_userid", user)]
    reply = admin.post(f"/tickets/{ticket['id']}/comments", json={"comment": {"body": "明天寄出。", "public": True}})
    assert reply.status_code == 201, reply.text
    sent = poll(lambda: sim(suite, "/sim/sent?account=demo-wecom"),
                lambda doc: any(s["touser"] == user for s in doc["sent"]), "the WeCom reply")
    [mine] = [s for s in sent["sent"] if s["touser"] == user]
    assert (mine["content"], mine["agentid"]) == ("明天寄出。", 1000002)
