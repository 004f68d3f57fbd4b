"""Support's mail-related routes through the gateway against the real support service
(in-process, SQLite, a real nats-server, a controlled clock) sending to a real SMTP sink: the
staff directory, "my escalations" after an SLA breach, and the CSAT survey from the mail's link
to the HTML form and its answer."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crm_support.bootstrap import spec as make_spec
from crm_support.ports import GrpcContacts
from crmkit.auth import Principal, mint_token
from crmkit.config import ServiceSettings
from crmkit.credentials import ServiceCredentials
from crmkit.mail import SmtpMailer
from crmkit.migrations import upgrade
from crmkit.scheduler import PeriodicWorker
from crmkit.service import ServiceRuntime
from crmkit.testing import ManualClock, SmtpSink, free_port, wait_for

SECRET = "gateway-test-secret-0123456789abcdef"  # the gateway conftest's
CLOCK = ManualClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # Monday 09:00 in Shanghai


class Running:
    def __init__(self, runtime: ServiceRuntime, sink: SmtpSink) -> None:
        self.runtime, self.sink = runtime, sink

    def tick(self) -> None:
        """Each scheduled worker (SLA, mail) once, in turn, waiting for each run."""
        for worker in self.runtime.workers:
            if isinstance(worker, PeriodicWorker):
                before = worker.ticks
                worker.tick()
                wait_for(lambda w=worker, b=before: w.ticks > b, what=f"a run of {worker.name}")


@pytest.fixture(scope="module")
def running(backend: Any, nats_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp: Path = tmp_path_factory.mktemp("support-mail")
    sink = SmtpSink(tmp / "mail").start()
    url = f"sqlite:///{tmp / 'support.db'}"
    spec = make_spec(clock=CLOCK, contacts=lambda s: GrpcContacts(backend.contacts_addr, ServiceCredentials(s.auth)),
                     scheduler_interval=3600, mail_interval=3600, mailer=lambda s: SmtpMailer.from_url(sink.url))
    upgrade(url, spec.migrations)
    settings = ServiceSettings.from_env("support", {
        "DATABASE_URL": url, "NATS_URL": nats_server.url, "PORT": str(free_port()), "METRICS_PORT": "0",
        "JWT_SECRET": SECRET, "DATA_DIR": str(tmp), "PUBLIC_BASE_URL": "https://crm.shuniu.example"})
    runtime = ServiceRuntime(spec, settings).start()
    yield Running(runtime, sink)
    runtime.stop()
    sink.stop()


@pytest.fixture
def client(make_client: Any, settings: Any, running: Running) -> Any:
    return make_client(settings, optional_addrs={"support": running.runtime.address})


def bearer(user_id: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(Principal(user_id, roles), SECRET)}"}


AGENT = bearer("agent.1", "support")
MANAGER = bearer("manager.support", "manager")
LEAD = bearer("lead.support", "rep")  # a supervisor who is not an agent


def test_sla_breach_escalates_to_the_supervisor_who_lists_it_and_gets_mail(client: Any, running: Running) -> None:
    policies = client.put("/api/v1/support/sla-policies", headers=MANAGER, json={"sla_policies": [{
        "id": "urgent", "priority": "urgent", "first_response_minutes": 60, "resolution_minutes": 240,
        "warn_before_minutes": 10, "supervisor_id": "lead.support"}]})
    assert policies.status_code == 200, policies.get_json()
    bad = client.put("/api/v1/support/staff", headers=MANAGER, json={"staff": [{"user_id": "x", "email": "nope"}]})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "staff[0].email"
    staff = client.put("/api/v1/support/staff", headers=MANAGER, json={"staff": [
        {"user_id": "lead.support", "name": "组长 Lead", "email": "lead@shuniu.example", "language": "zh-CN"}]})
    assert staff.status_code == 200 and staff.get_json()["staff"][0]["email"] == "lead@shuniu.example"
    assert client.get("/api/v1/support/staff", headers=AGENT).get_json()["staff"][0]["user_id"] == "lead.support"

    urgent = client.post("/api/v1/tickets", headers=AGENT, json={"subject": "生产系统宕机", "priority": "urgent"})
    assert urgent.status_code == 201
    ticket = urgent.get_json()
    assert client.get("/api/v1/tickets/escalated-to-me", headers=LEAD).get_json() == {"items": [],
                                                                                        "next_page_token": ""}
    CLOCK.advance(minutes=61)
    running.tick()
    running.tick()
    mine = client.get("/api/v1/tickets/escalated-to-me", headers=LEAD)
    assert mine.status_code == 200
    assert [t["number"] for t in mine.get_json()["items"]] == [ticket["number"]]
    assert client.get("/api/v1/tickets/escalated-to-me?open_only=true&page_size=1", headers=LEAD).get_json()[
        "items"][0]["escalated_to"] == "lead.support"
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=LEAD).status_code == 200  # theirs to read now
    assert client.get("/api/v1/tickets/escalated-to-me", headers=AGENT).get_json()["items"] == []
    assert client.get("/api/v1/tickets/escalated-to-me?open_only=maybe", headers=LEAD).status_code == 400
    assert client.get("/api/v1/tickets/escalated-to-me").status_code == 401
    escalated = [m for m in running.sink.messages() if "升级" in m["Subject"]]
    assert len(escalated) == 1 and escalated[0]["To"].addresses[0].addr_spec == "lead@shuniu.example"
    assert ticket["number"] in escalated[0]["Subject"]


def test_the_survey_mail_links_to_a_form_that_answers_once(client: Any, running: Running) -> None:
    created = client.post("/api/v1/tickets", headers=AGENT, json={
        "subject": "Printer offline", "requester_email": "amy@customer.example", "requester_name": "Amy"})
    ticket = created.get_json()
    solved = client.post(f"/api/v1/tickets/{ticket['id']}/status", headers=AGENT,
                         json={"status": "solved", "resolution_note": "new toner"})
    assert solved.status_code == 200
    before = len(running.sink.messages())
    running.tick()
    mail = running.sink.wait_for(before + 1)[-1]
    assert mail["Subject"] == f"[{ticket['number']}] How did we do? Printer offline"
    found = re.search(r"https://crm\.shuniu\.example(/api/v1/public/csat/[\w-]+)", mail.get_body(("plain",)).get_content())
    assert found is not None
    path = found.group(1)
    assert path.endswith(solved.get_json()["csat_token"])

    page = client.get(path)  # no token needed: it is the customer's
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src" not in page.headers["Content-Security-Policy"] and "default-src 'none'" in page.headers[
        "Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["X-Frame-Options"] == "DENY"
    html = page.get_data(as_text=True)
    assert 'method="post"' in html and 'name="rating"' in html and "<script" not in html
    action = re.search(r'action="([^"]+)"', html)
    assert action is not None and action.group(1).endswith("/answer")
    answer_path = path.rsplit("/", 1)[0] + "/" + action.group(1)  # resolved as a browser would

    no_rating = client.post(answer_path, data={"comment": "?"})
    assert no_rating.status_code == 400 and "rate from 1" in no_rating.get_data(as_text=True)
    first = client.post(answer_path, data={"rating": "5", "comment": "很快 <b>fast</b>"})
    assert first.status_code == 201 and ticket["number"] in first.get_data(as_text=True)
    assert "★★★★★" in first.get_data(as_text=True)
    again = client.post(answer_path, data={"rating": "1"})
    assert again.status_code == 409 and "already answered" in again.get_data(as_text=True)
    unknown = client.post("/api/v1/public/csat/not-a-token/answer", data={"rating": "3"})
    assert unknown.status_code == 404 and unknown.mimetype == "text/html"
    odd = client.get('/api/v1/public/csat/"><img src=x>')
    assert odd.status_code == 200 and "<img" not in odd.get_data(as_text=True)  # the token is escaped


def test_the_routes_are_in_the_openapi_document(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["paths"]["/api/v1/tickets/escalated-to-me"]["get"]["operationId"] == "listMyEscalations"
    assert "text/html" in doc["paths"]["/api/v1/public/csat/{token}"]["get"]["responses"]["200"]["content"]
    assert "put" in doc["paths"]["/api/v1/support/staff"]
