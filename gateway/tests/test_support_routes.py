"""Support routes through the gateway against the real support service (in-process, SQLite, a
real nats-server) with the fake contacts behind both: tickets, email intake, the public web
form and CSAT without a user token, knowledge-base search, problem+json for bad input."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_support.bootstrap import spec as make_spec
from crm_support.ports import GrpcContacts
from crmkit.config import ServiceSettings
from crmkit.credentials import ServiceCredentials
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import free_port

SECRET = "gateway-test-secret-0123456789abcdef"  # the gateway conftest's


@pytest.fixture(scope="module")
def support_addr(backend: Any, nats_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("support")
    url = f"sqlite:///{tmp / 'support.db'}"
    spec = make_spec(contacts=lambda s: GrpcContacts(backend.contacts_addr, ServiceCredentials(s.auth)),
                     scheduler_interval=3600)
    upgrade(url, spec.migrations)
    settings = ServiceSettings.from_env("support", {
        "DATABASE_URL": url, "NATS_URL": nats_server.url, "PORT": str(free_port()), "METRICS_PORT": "0",
        "JWT_SECRET": SECRET, "DATA_DIR": str(tmp)})
    runtime = ServiceRuntime(spec, settings).start()
    yield runtime.address
    runtime.stop()


@pytest.fixture
def sclient(make_client: Any, settings: Any, support_addr: str) -> Any:
    return make_client(settings, optional_addrs={"support": support_addr})


@pytest.fixture
def agent(mint: Any) -> dict[str, str]:
    from crmkit.auth import Principal, mint_token

    return {"Authorization": f"Bearer {mint_token(Principal('agent.1', ('support',)), SECRET)}"}


def test_ticket_flow_email_reply_and_csat_once(sclient: Any, agent: dict[str, str], fake: Any) -> None:
    created = sclient.post("/api/v1/tickets", headers=agent, json={
        "subject": "Printer offline", "requester_email": "amy@customer.example", "priority": "high"})
    assert created.status_code == 201, created.get_json()
    ticket = created.get_json()
    assert created.headers["ETag"] == '"1"' and created.headers["Location"].endswith(ticket["id"])
    reply = sclient.post(f"/api/v1/tickets/{ticket['id']}/comments", headers=agent,
                         json={"comment": {"body": "Please restart it", "public": True}, "set_status": "pending"})
    assert reply.status_code == 201 and reply.get_json()["ticket"]["status"] == "pending"
    message_id = reply.get_json()["comment"]["message_id"]
    raw = (f"From: Amy <amy@customer.example>\r\nSubject: Re: [{ticket['number']}] Printer offline\r\n"
           f"Message-ID: <a1@customer.example>\r\nIn-Reply-To: {message_id}\r\n\r\nStill offline.\r\n")
    threaded = sclient.post("/api/v1/inbound/email", headers={**agent, "Content-Type": "message/rfc822"},
                            data=raw.encode())
    assert threaded.status_code == 200 and threaded.get_json()["threaded"] is True
    assert threaded.get_json()["ticket"]["status"] == "open"
    as_json = sclient.post("/api/v1/inbound/email", headers=agent, json={"raw": raw.replace("a1@", "a2@")})
    assert as_json.get_json()["ticket"]["id"] == ticket["id"]

    bad = sclient.post(f"/api/v1/tickets/{ticket['id']}/status", headers=agent, json={"status": "done"})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "status"
    solved = sclient.post(f"/api/v1/tickets/{ticket['id']}/status", headers=agent,
                          json={"status": "solved", "resolution_note": "new toner"})
    assert solved.status_code == 200
    token = solved.get_json()["csat_token"]
    first = sclient.post(f"/api/v1/public/csat/{token}", json={"rating": 5, "comment": "fast"})
    assert first.status_code == 201 and first.get_json()["ticket_number"] == ticket["number"]
    again = sclient.post(f"/api/v1/public/csat/{token}", json={"rating": 1})
    assert again.status_code == 409
    assert sclient.get("/api/v1/tickets").status_code == 401  # only the public routes skip the token


def test_public_web_form_and_kb_search(sclient: Any, agent: dict[str, str], fake: Any) -> None:
    made = sclient.post("/api/v1/kb/articles", headers=agent, json={
        "title": "如何申请退款", "body": "在订单页面点击申请退款。", "status": "published"})
    assert made.status_code == 201
    found = sclient.get("/api/v1/public/kb/search", query_string={"q": "退款"})
    assert found.status_code == 200 and [h["id"] for h in found.get_json()["hits"]] == [made.get_json()["id"]]
    assert sclient.get("/api/v1/public/kb/search").status_code == 400
    form = sclient.post("/api/v1/public/tickets", json={
        "name": "周杰", "email": "zhou.jie@example.cn", "subject": "退款还没到账", "description": "上周申请的"})
    assert form.status_code == 201 and form.get_json()["ticket_number"].startswith("T-")
    spam = sclient.post("/api/v1/public/tickets", json={
        "email": "x@example.cn", "subject": "hi", "description": "buy", "website": "http://spam.example"})
    assert spam.status_code == 400 and spam.get_json()["errors"][0]["field"] == "website"
    assert any(c.method == "CreateContact" for c in fake.calls)  # the visitor became a contact


def test_support_is_503_when_not_configured(client: Any, auth: dict[str, str]) -> None:
    answer = client.get("/api/v1/tickets", headers=auth)
    assert answer.status_code == 503
