"""Marketing automation through the gateway against a fake MarketingService behind crmkit's real
gRPC server (auth, health, the domain-error trailers): what each declared route hands marketing,
and the public side as a browser and a site's script meet it: the embeddable form page, its JSON
definition, submissions as JSON (every bad field named) and form-encoded (an HTML answer), the
web-visit intake, and marketing away."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm.marketing.v1 import marketing_pb2_grpc
from crmkit.auth import Principal, TokenVerifier, current_principal, mint_token
from crmkit.config import AuthSettings
from crmkit.errors import InvalidArgument, NotFound, ResourceExhausted
from crmkit.grpc_server import GrpcServer

SECRET = "gateway-test-secret"  # the conftest's
SERVICE = pb.DESCRIPTOR.services_by_name["MarketingService"]
MKT = {"Authorization": f"Bearer {mint_token(Principal('mkt.1', ('marketing',), 'marketing', 'east'), SECRET)}"}
TOKEN = "f.f-1.6a0b1c2d.AAAAAAAAAAAAAAAAAAAAAA"


@dataclass
class Received:
    method: str
    request: Any
    principal: Principal


class FakeMarketing(marketing_pb2_grpc.MarketingServiceServicer):
    """Every RPC of the contract: records the call, then raises `errors[method]` or answers
    `answers[method]` (default: the empty answer)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.calls: list[Received] = []
        self.answers: dict[str, Any] = {}
        self.errors: dict[str, Exception] = {}

    def receive(self, method: str, request: Any, answer: type) -> Any:
        with self.lock:
            self.calls.append(Received(method, request, current_principal()))
        if method in self.errors:
            raise self.errors[method]
        return self.answers.get(method) or answer()

    def last(self, method: str) -> Received:
        return [c for c in self.calls if c.method == method][-1]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]


def _rpc(name: str, answer: type) -> Any:
    def handle(self: FakeMarketing, request: Any, context: grpc.ServicerContext) -> Any:
        return self.receive(name, request, answer)
    return handle


for _method in SERVICE.methods:
    setattr(FakeMarketing, _method.name, _rpc(_method.name, getattr(pb, _method.output_type.name)))


@pytest.fixture(scope="module")
def automation_server() -> Iterator[tuple[FakeMarketing, GrpcServer]]:
    fake = FakeMarketing()
    auth = AuthSettings(jwt_secret=SECRET, jwks_url=None, issuer=None, audience=None)
    server = GrpcServer(service="marketing", port=0, host="127.0.0.1", verifier=TokenVerifier(auth),
                        registrations=[lambda s: marketing_pb2_grpc.add_MarketingServiceServicer_to_server(fake, s)],
                        service_names=[SERVICE.full_name], max_workers=8).start()
    yield fake, server
    server.server.stop(0)


@pytest.fixture
def marketing(automation_server: tuple[FakeMarketing, GrpcServer]) -> FakeMarketing:
    automation_server[0].reset()
    return automation_server[0]


@pytest.fixture
def gw(make_client: Any, settings: Any, automation_server: tuple[FakeMarketing, GrpcServer]) -> Any:
    return make_client(settings, optional_addrs={"marketing": f"127.0.0.1:{automation_server[1].port}"})


def fields(resp: Any) -> list[str]:
    return [e["field"] for e in resp.get_json().get("errors", [])]


def text(zh: str, en: str) -> pb.LocalizedText:
    return pb.LocalizedText(zh=zh, en=en)


PUBLIC_FORM = pb.PublicForm(
    form_id="f-1", title=text("展会报名", "Expo sign-up"), default_language="zh-CN", form_token=TOKEN,
    honeypot_field="homepage", embed_origins=["https://www.hbsteel.cn"],
    fields=[pb.FormField(name="name", type="text", label=text("姓名", "Name"), required=True),
            pb.FormField(name="email", type="email", label=text("邮箱", "Email"), required=True),
            pb.FormField(name="size", type="select", label=text("规模", "Size"), options=["1-50", "51-200"])],
    consent=pb.FormConsent(enabled=True, text=text("我同意接收营销邮件", "I agree to marketing email"),
                           purpose="marketing_email"))


def _bad_fields() -> InvalidArgument:
    errors = [{"field": "values.email", "message": "enter a valid email address"},
              {"field": "values.name", "message": "this field is required"},
              {"field": "consent", "message": "please tick the box to continue"}]
    return InvalidArgument("values.email: enter a valid email address; ...", field="values.email", errors=errors)


# -- declared routes: what reaches marketing ------------------------------------------------------

def test_forms_are_defined_listed_changed_and_their_submissions_retried(gw: Any, marketing: FakeMarketing) -> None:
    body = {"name": "展会报名", "campaign_id": "c-1", "fields": [{"name": "email", "required": True,
                                                            "label": {"zh": "邮箱", "en": "Email"}}],
            "consent": {"enabled": True, "text": {"zh": "我同意"}}}
    assert fields(gw.post("/api/v1/forms", headers=MKT, json={**body, "submissions": 3})) == ["submissions"]
    assert fields(gw.post("/api/v1/forms", headers=MKT, json={"name": "x"})) == ["fields"]
    marketing.answers["CreateForm"] = pb.Form(id="f-1", name="展会报名", version=1)
    created = gw.post("/api/v1/forms", headers=MKT, json=body)
    assert created.status_code == 201 and created.headers["Location"] == "/api/v1/forms/f-1"
    sent = marketing.last("CreateForm")
    assert (sent.request.form.fields[0].label.zh, sent.request.form.consent.text.zh) == ("邮箱", "我同意")
    assert sent.principal.user_id == "mkt.1"
    marketing.answers["UpdateForm"] = pb.Form(id="f-1", status="closed", version=2)
    closed = gw.patch("/api/v1/forms/f-1", headers={**MKT, "If-Match": '"1"'}, json={"status": "closed"})
    assert closed.status_code == 200 and closed.headers["ETag"] == '"2"'
    update = marketing.last("UpdateForm").request
    assert (update.form.id, list(update.update_mask.paths), update.expected_version) == ("f-1", ["status"], 1)
    gw.get("/api/v1/forms", headers=MKT, query_string={"status": "active"})
    assert marketing.last("ListForms").request.status == "active"
    marketing.answers["ListFormSubmissions"] = pb.ListFormSubmissionsResponse(submissions=[pb.FormSubmission(
        id="s-1", status="failed", last_error="LeadRefused: phone")])
    listed = gw.get("/api/v1/forms/f-1/submissions", headers=MKT, query_string={"status": "failed"})
    assert listed.get_json()["items"][0]["last_error"] == "LeadRefused: phone"
    assert (marketing.last("ListFormSubmissions").request.form_id,
            marketing.last("ListFormSubmissions").request.status) == ("f-1", "failed")
    gw.post("/api/v1/form-submissions/s-1/retry", headers=MKT)
    assert marketing.last("RetryFormSubmission").request.id == "s-1"
    assert gw.get("/api/v1/forms", headers={}).status_code == 401


def test_the_automation_settings_are_read_and_patched_with_if_match(gw: Any, marketing: FakeMarketing) -> None:
    marketing.answers["GetAutomationSettings"] = pb.AutomationSettings(mql_threshold=50, version=3)
    got = gw.get("/api/v1/automation-settings", headers=MKT)
    assert got.get_json()["mql_threshold"] == 50 and got.headers["ETag"] == '"3"'
    marketing.answers["UpdateAutomationSettings"] = pb.AutomationSettings(mql_threshold=40, version=4)
    gw.patch("/api/v1/automation-settings", headers={**MKT, "If-Match": '"3"'},
             json={"mql_threshold": 40, "weights": {"open": 1, "click": 5}})
    sent = marketing.last("UpdateAutomationSettings").request
    assert (sorted(sent.update_mask.paths), sent.settings.weights.click, sent.expected_version) == (
        ["mql_threshold", "weights"], 5, 3)
    assert fields(gw.patch("/api/v1/automation-settings", headers=MKT, json={"version": 9})) == ["version"]


# -- the public form: the page, its JSON, its submissions -----------------------------------------

def test_the_form_page_is_embeddable_escaped_and_carries_token_honeypot_and_utm(gw: Any,
                                                                                marketing: FakeMarketing) -> None:
    marketing.answers["GetPublicForm"] = PUBLIC_FORM
    page = gw.get("/api/v1/public/forms/f-1", query_string={"utm_source": "baidu", "utm_campaign": "<expo>",
                                                            "lang": "en"},
                  headers={"Referer": "https://www.hbsteel.cn/expo"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    doc = page.get_data(as_text=True)
    assert "Expo sign-up" in doc and 'name="email"' in doc and 'type="email"' in doc and "required" in doc
    assert f'name="form_token" value="{TOKEN}"' in doc and 'name="homepage"' in doc and 'tabindex="-1"' in doc
    assert 'name="utm_source" value="baidu"' in doc and "&lt;expo&gt;" in doc and "<expo>" not in doc
    assert 'name="page_url" value="https://www.hbsteel.cn/expo"' in doc
    assert "I agree to marketing email" in doc and 'action="f-1/submissions"' in doc
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors https://www.hbsteel.cn" in csp and "script-src" not in csp and "X-Frame-Options" not in \
        page.headers
    assert marketing.last("GetPublicForm").principal.user_id == "public-web"
    assert "展会报名" in gw.get("/api/v1/public/forms/f-1", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(
        as_text=True)
    definition = gw.get("/api/v1/public/forms/f-1/definition")
    assert definition.get_json()["form_token"] == TOKEN and definition.headers["Access-Control-Allow-Origin"] == "*"
    marketing.errors["GetPublicForm"] = NotFound("no such form", field="form_id")
    gone = gw.get("/api/v1/public/forms/f-9")
    assert gone.status_code == 404 and "表单不可用" in gone.get_data(as_text=True)
    assert fields(gw.get("/api/v1/public/forms/f-1", query_string={"colour": "red"})) == ["colour"]


def test_a_json_submission_is_202_or_names_every_bad_field(gw: Any, marketing: FakeMarketing) -> None:
    marketing.answers["SubmitForm"] = pb.SubmitFormResponse(submission_id="s-1", status="accepted",
                                                            thank_you=text("谢谢", "Thanks"))
    body = {"values": {"name": "王强", "email": "wang@hbsteel.cn"}, "consent": True, "form_token": TOKEN,
            "utm": {"source": "baidu", "campaign": "expo"}, "page_url": "https://www.hbsteel.cn/expo"}
    sent = gw.post("/api/v1/public/forms/f-1/submissions", json=body, headers={"User-Agent": "Mozilla/5.0 test"})
    assert sent.status_code == 202 and sent.get_json()["thank_you"]["zh"] == "谢谢"
    assert sent.headers["Access-Control-Allow-Origin"] == "*"
    got = marketing.last("SubmitForm")
    assert (got.request.form_id, dict(got.request.values), got.request.consent, got.request.utm.source) == (
        "f-1", {"name": "王强", "email": "wang@hbsteel.cn"}, True, "baidu")
    assert (got.request.visitor_ip, got.request.user_agent, got.principal.user_id) == (
        "127.0.0.1", "Mozilla/5.0 test", "public-web")
    beacon = gw.post("/api/v1/public/forms/f-1/submissions", data=str(body).replace("'", '"').replace("True", "true"),
                     content_type="text/plain")
    assert beacon.status_code == 202  # a site's script posts text/plain: no CORS preflight
    before = len(marketing.calls)
    assert fields(gw.post("/api/v1/public/forms/f-1/submissions", json={**body, "visitor_ip": "1.2.3.4"})) == [
        "visitor_ip"]  # the gateway's to set, never the visitor's
    assert fields(gw.post("/api/v1/public/forms/f-1/submissions", json={"values": {}})) == ["form_token"]
    assert gw.post("/api/v1/public/forms/f-1/submissions", data=b"x", content_type="image/png").status_code == 415
    assert len(marketing.calls) == before
    marketing.errors["SubmitForm"] = _bad_fields()
    refused = gw.post("/api/v1/public/forms/f-1/submissions", json=body)
    assert refused.status_code == 400 and refused.headers["Content-Type"] == "application/problem+json"
    assert fields(refused) == ["values.email", "values.name", "consent"]
    marketing.errors["SubmitForm"] = ResourceExhausted("too many submissions", field="visitor_ip")
    assert gw.post("/api/v1/public/forms/f-1/submissions", json=body).status_code == 429


def test_the_html_form_posts_form_encoded_and_gets_a_page_back(gw: Any, marketing: FakeMarketing) -> None:
    marketing.answers["GetPublicForm"] = PUBLIC_FORM
    marketing.answers["SubmitForm"] = pb.SubmitFormResponse(submission_id="s-1", thank_you=text("谢谢您", "Thanks!"))
    form = {"name": "王强", "email": "wang@hbsteel.cn", "size": "51-200", "consent": "yes", "form_token": TOKEN,
            "homepage": "", "utm_source": "baidu", "page_url": "https://www.hbsteel.cn/expo", "language": "zh-CN"}
    done = gw.post("/api/v1/public/forms/f-1/submissions", data=form)
    assert done.status_code == 200 and "谢谢您" in done.get_data(as_text=True)
    got = marketing.last("SubmitForm").request
    assert dict(got.values) == {"name": "王强", "email": "wang@hbsteel.cn", "size": "51-200"}
    assert (got.consent, got.honeypot, got.utm.source, got.page_url, got.form_token) == (
        True, "", "baidu", "https://www.hbsteel.cn/expo", TOKEN)
    gw.post("/api/v1/public/forms/f-1/submissions", data={**form, "homepage": "http://spam", "consent": ""})
    got = marketing.last("SubmitForm").request
    assert (got.honeypot, got.consent) == ("http://spam", False)

    marketing.errors["SubmitForm"] = _bad_fields()
    again = gw.post("/api/v1/public/forms/f-1/submissions", data={**form, "email": "wang<at>hbsteel", "name": ""})
    doc = again.get_data(as_text=True)
    assert again.status_code == 400 and again.mimetype == "text/html"
    assert "enter a valid email address" in doc and "this field is required" in doc and "please tick the box" in doc
    assert 'value="wang&lt;at&gt;hbsteel"' in doc and f'value="{TOKEN}"' in doc  # the values and the token kept
    assert 'name="utm_source" value="baidu"' in doc
    marketing.errors["SubmitForm"] = ResourceExhausted("too many", field="visitor_ip")
    assert gw.post("/api/v1/public/forms/f-1/submissions", data=form).status_code == 429


def test_with_marketing_down_a_submission_is_503_and_says_nothing_was_sent(
        make_client: Any, settings: Any, dead_addr: str) -> None:
    gw = make_client(settings, optional_addrs={"marketing": dead_addr}, grpc_timeout=1.0)
    down = gw.post("/api/v1/public/forms/f-1/submissions", json={"values": {"email": "a@b.cn"}, "form_token": TOKEN})
    assert down.status_code == 503 and down.headers["Content-Type"] == "application/problem+json"
    page = gw.post("/api/v1/public/forms/f-1/submissions", data={"email": "a@b.cn", "form_token": TOKEN})
    assert page.status_code == 503 and re.search("nothing was sent|尚未提交", page.get_data(as_text=True))
    assert gw.get("/readyz").status_code == 200  # readiness does not depend on marketing
