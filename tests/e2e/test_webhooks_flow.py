"""Webhooks through the gateway, as an ERP integrator meets them: subscribe a local receiver to
`opportunity.won`, a rep wins a deal, the receiver gets one delivery whose signature it checks
with a few lines of its own (HMAC-SHA256 over timestamp + "." + body); a receiver that fails
shows its retries in the delivery log, and a replay after the fix delivers under the same id."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from crmkit.testing import wait_for

PIPELINE = "webhooks-e2e"


def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


class Receiver:
    """An integrator's endpoint: keeps each request and whether its signature checked."""

    def __init__(self) -> None:
        self.secret, self.status, self.got = b"", 200, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp, given = self.headers["Crm-Webhook-Timestamp"], self.headers["Crm-Webhook-Signature"]
                mac = hmac.new(outer.secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
                fresh = abs(time.time() - int(stamp)) < 300
                outer.got.append({"id": self.headers["Crm-Webhook-Id"], "event": self.headers["Crm-Webhook-Event"],
                                  "verified": fresh and hmac.compare_digest(given, f"v1={mac}"),
                                  "body": json.loads(body)})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/erp/hooks"

    def about(self, opp_id: str) -> list[dict[str, Any]]:
        return [g for g in self.got if g["body"]["data"]["opportunity"]["id"] == opp_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def quick_pipeline(api: Any) -> None:
    """A pipeline whose stages have no entry criteria, beside the default, so a deal is won in one call."""
    admin = api("admin")
    pipelines = ok(admin.get("/sales/settings"))["pipelines"]
    if all(p["id"] != PIPELINE for p in pipelines):
        pipelines.append({"id": PIPELINE, "name": "Webhooks e2e", "stages": [
            {"key": "open", "name": "开放", "probability": 10, "outcome": "open"},
            {"key": "won", "name": "成交", "probability": 100, "outcome": "won"},
            {"key": "lost", "name": "输单", "probability": 0, "outcome": "lost"}]})
        ok(admin.patch("/sales/settings", json={"pipelines": pipelines}))


def win_a_deal(api: Any, name: str) -> str:
    rep = api("rep.north.1")
    opp = ok(rep.post("/opportunities", json={"name": name, "pipeline_id": PIPELINE}), 201)
    assert ok(rep.post(f"/opportunities/{opp['id']}/stage", json={"stage": "won"}))["status"] == "won"
    return str(opp["id"])


def test_a_won_deal_reaches_the_subscriber_signed_and_a_failed_delivery_is_replayed(
        api: Any, receiver: Receiver) -> None:
    admin = api("admin")
    quick_pipeline(api)
    types = {t["name"] for t in ok(admin.get("/webhooks/event-types"))["event_types"]}
    assert {"opportunity.won", "contact.updated", "ticket.solved"} <= types
    refused = admin.post("/webhooks/subscriptions", json={"target_url": "http://169.254.169.254/latest",
                                                          "event_types": ["opportunity.won"]})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "target_url"
    assert api("rep.north.1").post("/webhooks/subscriptions", json={
        "target_url": receiver.url, "event_types": ["opportunity.won"]}).status_code == 403

    sub = ok(admin.post("/webhooks/subscriptions", json={
        "target_url": receiver.url, "event_types": ["opportunity.won"], "description": "ERP 订单同步"}), 201)
    assert sub["secret"].startswith("whsec_") and sub["status"] == "active"
    assert ok(admin.get(f"/webhooks/subscriptions/{sub['id']}")).get("secret", "") == ""  # shown once
    receiver.secret = sub["secret"].encode()

    won = win_a_deal(api, f"华东仓储系统 {uuid.uuid4().hex[:6]}")
    wait_for(lambda: len(receiver.about(won)) == 1, timeout=30, what="the won deal's delivery")
    (got,) = receiver.about(won)
    assert got["verified"] and got["event"] == "opportunity.won" and got["body"]["type"] == "opportunity.won"
    log = f"/webhooks/subscriptions/{sub['id']}/deliveries"
    wait_for(lambda: ok(admin.get(log))["items"][0]["status"] == "delivered", what="the log to say delivered")
    entry = ok(admin.get(log))["items"][0]
    assert entry["id"] == got["id"] and entry["last_status_code"] == 200 and entry["attempts"] == 1

    receiver.status = 500  # the ERP is down
    failing = win_a_deal(api, f"华南分销平台 {uuid.uuid4().hex[:6]}")
    wait_for(lambda: len(receiver.about(failing)) >= 2, timeout=30, what="retries of the failing delivery")
    wait_for(lambda: ok(admin.get(log, params={"status": "pending"}))["items"][0]["attempts"] >= 2,
             what="the retries in the log")
    retrying = ok(admin.get(log, params={"status": "pending"}))["items"][0]
    assert retrying["last_status_code"] == 500 and "HTTP 500" in retrying["last_error"]
    assert retrying["next_attempt_at"]
    receiver.status = 200  # fixed
    replayed = ok(admin.post(f"{log}/{retrying['id']}/replay"), 202)
    assert replayed["id"] == retrying["id"]
    wait_for(lambda: ok(admin.get(log))["items"][0]["status"] == "delivered", what="the replay delivered")
    ids = {g["id"] for g in receiver.about(failing)}
    assert ids == {retrying["id"]} and receiver.about(failing)[-1]["verified"]
    ok(admin.delete(f"/webhooks/subscriptions/{sub['id']}"), 204)
