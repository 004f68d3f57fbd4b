"""Marketing automation through the gateway against a fake MarketingService behind crmkit's real
gRPC server (auth, health, the domain-error trailers): what each declared route hands marketing,
and the public side as a browser and a site's script meet it: the embeddable form page, its JSON
definition, submissions as JSON (every bad field named) and form-encoded (an HTML answer), the
web-visit intake, and marketing away."""
from __future__ import annotations

import re
from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crmkit.auth import Principal, mint_token
from crmkit.errors import InvalidArgument, NotFound, ResourceExhausted

SECRET = "gateway-test-secret-0123456789abcdef"  # the conftest's
MKT = {"Authorization": f"Bearer {mint_token(Principal('mkt.1', ('marketing',), 'marketing', 'east'), SECRET)}"}
TOKEN = "f.f-1.6a0b1c2d.AAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture
def gw(marketing_gw: Any) -> Any:
    return marketing_gw  # the conftest's gateway in front of its FakeMarketing


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

def test_forms_are_defined_listed_changed_and_their_submissions_retried(gw: Any, marketing: Any) -> None:
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


def test_the_automation_settings_are_read_and_patched_with_if_match(gw: Any, marketing: Any) -> None:
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


def test_a_sequence_is_defined_activated_and_contacts_enrolled_and_removed(gw: Any, marketing: Any) -> None:
    body = {"name": "新客培育", "campaign_id": "c-1", "enroll_nurturing": True,
            "steps": [{"day": 0, "template_id": "t-1"}, {"day": 3, "template_id": "t-2"}]}
    assert fields(gw.post("/api/v1/sequences", headers=MKT, json={**body, "status": "active"})) == ["status"]
    assert fields(gw.post("/api/v1/sequences", headers=MKT, json={**body, "steps": [{"day": 0, "wave_id": "w"}]})) == [
        "steps[0].wave_id"]
    marketing.answers["CreateSequence"] = pb.Sequence(id="s-1", version=1)
    assert gw.post("/api/v1/sequences", headers=MKT, json=body).headers["Location"] == "/api/v1/sequences/s-1"
    assert [st.day for st in marketing.last("CreateSequence").request.sequence.steps] == [0, 3]
    assert fields(gw.patch("/api/v1/sequences/s-1", headers=MKT, json={"campaign_id": "c-2"})) == ["campaign_id"]
    marketing.answers["ChangeSequenceStatus"] = pb.Sequence(id="s-1", status="active", version=2)
    moved = gw.post("/api/v1/sequences/s-1/status", headers={**MKT, "If-Match": '"1"'}, json={"status": "active"})
    assert moved.status_code == 200 and moved.headers["ETag"] == '"2"'
    status = marketing.last("ChangeSequenceStatus").request
    assert (status.id, status.status, status.expected_version) == ("s-1", "active", 1)
    marketing.answers["EnrollContacts"] = pb.EnrollContactsResponse(enrolled=2, skipped={"unknown_contact": 1})
    enrolled = gw.post("/api/v1/sequences/s-1/enrollments", headers=MKT, json={"contact_ids": ["k-1", "k-2", "k-9"],
                                                                               "wave_id": "w-1"})
    assert enrolled.get_json() == {"enrolled": 2, "already_enrolled": 0, "skipped": {"unknown_contact": 1}}
    sent = marketing.last("EnrollContacts").request
    assert (sent.sequence_id, list(sent.contact_ids), sent.wave_id) == ("s-1", ["k-1", "k-2", "k-9"], "w-1")
    gw.get("/api/v1/sequences/s-1/enrollments", headers=MKT, query_string={"status": "exited"})
    assert marketing.last("ListEnrollments").request.status == "exited"
    marketing.answers["RemoveEnrollment"] = pb.Enrollment(contact_id="k-1", status="exited", exit_reason="removed")
    removed = gw.delete("/api/v1/sequences/s-1/enrollments/k-1", headers=MKT)
    assert removed.status_code == 200 and removed.get_json()["exit_reason"] == "removed"
    assert (marketing.last("RemoveEnrollment").request.sequence_id,
            marketing.last("RemoveEnrollment").request.contact_id) == ("s-1", "k-1")
    gw.get("/api/v1/sequences", headers=MKT, query_string={"campaign_id": "c-1", "status": "active"})
    listed = marketing.last("ListSequences").request
    assert (listed.campaign_id, listed.status) == ("c-1", "active")


def test_a_rule_is_declared_with_its_trigger_window_and_action(gw: Any, marketing: Any) -> None:
    body = {"name": "看了三次没询价", "campaign_id": "c-1", "template_id": "t-offer", "count": 3, "within_days": 7,
            "trigger": {"event_type": "web.visit", "url_pattern": "/products/x*"},
            "unless": [{"event_type": "crm.marketing.form.submitted"}]}
    assert fields(gw.post("/api/v1/automation-rules", headers=MKT, json={**body, "fired": 2})) == ["fired"]
    assert fields(gw.post("/api/v1/automation-rules", headers=MKT, json={"name": "x", "campaign_id": "c-1"})) == [
        "trigger"]
    marketing.answers["CreateAutomationRule"] = pb.AutomationRule(id="r-1", version=1)
    assert gw.post("/api/v1/automation-rules", headers=MKT, json=body).status_code == 201
    sent = marketing.last("CreateAutomationRule").request.rule
    assert (sent.trigger.url_pattern, sent.unless[0].event_type, sent.count) == ("/products/x*",
                                                                              "crm.marketing.form.submitted", 3)
    marketing.errors["CreateAutomationRule"] = InvalidArgument("not an event type", field="trigger.event_type")
    assert fields(gw.post("/api/v1/automation-rules", headers=MKT, json=body)) == ["trigger.event_type"]
    gw.patch("/api/v1/automation-rules/r-1", headers=MKT, json={"status": "paused"})
    assert list(marketing.last("UpdateAutomationRule").request.update_mask.paths) == ["status"]
    assert gw.delete("/api/v1/automation-rules/r-1", headers=MKT).status_code == 204


def test_a_page_view_is_taken_as_json_or_a_beacon_with_the_visitor_cookie(gw: Any, marketing: Any) -> None:
    marketing.answers["TrackVisit"] = pb.TrackVisitResponse(visitor_id="v-123456789", identified=False)
    view = gw.post("/api/v1/public/track", json={"site_key": "site-key-01", "url": "https://shop.example/products/x",
                                                 "contact_token": "t.c-1.mac"})
    assert view.status_code == 200 and view.get_json() == {"visitor_id": "v-123456789", "identified": False}
    assert "crm_vid=v-123456789" in view.headers["Set-Cookie"] and view.headers["Access-Control-Allow-Origin"] == "*"
    got = marketing.last("TrackVisit")
    assert (got.request.site_key, got.request.contact_token, got.request.visitor_ip, got.principal.user_id) == (
        "site-key-01", "t.c-1.mac", "127.0.0.1", "public-web")
    gw.set_cookie("crm_vid", "v-from-cookie", path="/api/v1/public")
    gw.post("/api/v1/public/track", data='{"site_key": "site-key-01", "url": "https://shop.example/"}',
            content_type="text/plain")
    assert marketing.last("TrackVisit").request.visitor_id == "v-from-cookie"
    assert fields(gw.post("/api/v1/public/track", json={"site_key": "k", "url": "u", "visitor_ip": "9.9.9.9"})) == [
        "visitor_ip"]
    assert fields(gw.post("/api/v1/public/track", json={"url": "https://shop.example/"})) == ["site_key"]
    marketing.errors["TrackVisit"] = ResourceExhausted("slow down", field="visitor_id")
    slow = gw.post("/api/v1/public/track", json={"site_key": "site-key-01", "url": "https://shop.example/"})
    assert slow.status_code == 429 and slow.headers["Access-Control-Allow-Origin"] == "*"


def test_an_ab_test_is_created_started_and_its_results_read(gw: Any, marketing: Any) -> None:
    body = {"name": "主题测试", "campaign_id": "c-1", "template_id": "t-1", "test_percent": 20, "metric": "click",
            "wait_hours": 4, "significance": 0.01, "default_variant": "A",
            "variants": [{"name": "A"}, {"name": "B", "subject": "最后三天：{{ name }}"}]}
    assert fields(gw.post("/api/v1/ab-tests", headers=MKT, json={**body, "winner": "B"})) == ["winner"]
    assert fields(gw.post("/api/v1/ab-tests", headers=MKT, json={**body, "variants": [{"name": "A", "rate": 1}]})) == [
        "variants[0].rate"]
    marketing.answers["CreateAbTest"] = pb.AbTest(id="ab-1", status="ready", version=1, test_size=20, rest_size=80)
    created = gw.post("/api/v1/ab-tests", headers=MKT, json=body)
    assert created.status_code == 201 and created.headers["Location"] == "/api/v1/ab-tests/ab-1"
    sent = marketing.last("CreateAbTest").request.test
    assert (sent.metric, sent.significance, sent.variants[1].subject) == ("click", 0.01, "最后三天：{{ name }}")
    gw.post("/api/v1/ab-tests/ab-1/start", headers={**MKT, "If-Match": '"1"'})
    assert marketing.last("StartAbTest").request.expected_version == 1
    marketing.answers["GetAbTest"] = pb.AbTest(id="ab-1", status="completed", winner="B", significant=True,
                                               p_value=0.004, variants=[pb.AbVariant(name="B", rate=0.31)])
    got = gw.get("/api/v1/ab-tests/ab-1", headers=MKT).get_json()
    assert (got["winner"], got["variants"][0]["rate"], got["p_value"]) == ("B", 0.31, 0.004)
    assert fields(gw.get("/api/v1/ab-tests", headers=MKT)) == ["campaign_id"]
    gw.get("/api/v1/ab-tests", headers=MKT, query_string={"campaign_id": "c-1"})
    assert marketing.last("ListAbTests").request.campaign_id == "c-1"
    gw.post("/api/v1/ab-tests/ab-1/cancel", headers=MKT)
    assert marketing.last("CancelAbTest").request.id == "ab-1"
    marketing.answers["GetEngagement"] = pb.Engagement(contact_id="k-1", score=52.5, threshold=50, lead_id="L-1")
    score = gw.get("/api/v1/engagement/k-1", headers=MKT).get_json()
    assert (score["score"], score["lead_id"]) == (52.5, "L-1")
    assert marketing.last("GetEngagement").request.contact_id == "k-1"


# -- the public form: the page, its JSON, its submissions -----------------------------------------

def test_the_form_page_is_embeddable_escaped_and_carries_token_honeypot_and_utm(gw: Any,
                                                                                marketing: Any) -> None:
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


def test_a_json_submission_is_202_or_names_every_bad_field(gw: Any, marketing: Any) -> None:
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


def test_a_json_submission_hands_marketing_a_textarea_as_long_as_a_form_allows(gw: Any, marketing: Any) -> None:
    """A textarea takes 4,000 characters by default and up to 20,000 (marketing checks each field's own
    max_length); JSON submissions were refused at 500 while the form page's took them."""
    marketing.answers["SubmitForm"] = pb.SubmitFormResponse(submission_id="s-1", status="accepted")
    long = {"name": "王强", "email": "wang@hbsteel.cn", "message": "Please send a quote. " * 150}  # 3,150
    sent = gw.post("/api/v1/public/forms/f-1/submissions", json={"values": long, "form_token": TOKEN})
    assert sent.status_code == 202, sent.get_json()
    assert dict(marketing.last("SubmitForm").request.values) == long


def test_the_html_form_posts_form_encoded_and_gets_a_page_back(gw: Any, marketing: Any) -> None:
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
    assert 'action="submissions"' in doc  # relative to the URL this page answers on: the same submissions URL
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
