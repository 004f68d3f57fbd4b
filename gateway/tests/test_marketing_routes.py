"""Marketing through the gateway against a fake MarketingService behind crmkit's real gRPC server
(auth, health, the domain-error trailers): what each declared route hands marketing, what a body
may not carry, the public links of a mail (unsubscribe page and one-click, open pixel, click
redirect) as a mail client and a browser meet them, and a gateway that keeps serving, and stays
ready, while marketing is away."""
from __future__ import annotations

import io
import re
from typing import Any

import jwt
import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm_gateway.routes_marketing import PIXEL_GIF
from crmkit.auth import Principal, mint_token
from crmkit.errors import InvalidArgument

SECRET = "gateway-test-secret-0123456789abcdef"  # the conftest's
MKT = {"Authorization": f"Bearer {mint_token(Principal('mkt.1', ('marketing',), 'marketing', 'east'), SECRET)}"}
TOKEN = "o.1f.AAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture
def gw(marketing_gw: Any) -> Any:
    return marketing_gw  # the conftest's gateway in front of its FakeMarketing


def fields(resp: Any) -> list[str]:
    return [e["field"] for e in resp.get_json().get("errors", [])]


# -- declared routes: what reaches marketing ------------------------------------------------------

def test_a_campaign_is_created_changed_and_deleted_as_declared(gw: Any, marketing: Any) -> None:
    refused = gw.post("/api/v1/campaigns", headers=MKT, json={"name": "春季展会", "type": "trade_show",
                                                               "status": "active"})
    assert refused.status_code == 400 and fields(refused) == ["status"]
    assert fields(gw.post("/api/v1/campaigns", headers=MKT, json={"name": "无类型"})) == ["type"]
    assert marketing.calls == []
    marketing.answers["CreateCampaign"] = pb.Campaign(id="c-1", name="春季展会", status="draft", version=1)
    created = gw.post("/api/v1/campaigns", headers=MKT, json={
        "name": "春季展会", "type": "trade_show", "budget": {"currency_code": "CNY", "amount": "50000.00"},
        "audience": {"segment_ids": ["s-1"], "exclude_tags": ["竞争对手"]}})
    assert created.status_code == 201, created.get_json()
    assert (created.headers["Location"], created.headers["ETag"]) == ("/api/v1/campaigns/c-1", '"1"')
    sent = marketing.last("CreateCampaign")
    assert (sent.request.campaign.budget.amount, list(sent.request.campaign.audience.exclude_tags)) == (
        "50000.00", ["竞争对手"])
    assert sent.principal.user_id == "mkt.1"  # the caller's own token reached marketing

    assert fields(gw.patch("/api/v1/campaigns/c-1", headers=MKT, json={"slug": "new-slug"})) == ["slug"]  # immutable
    marketing.answers["UpdateCampaign"] = pb.Campaign(id="c-1", version=2)
    changed = gw.patch("/api/v1/campaigns/c-1", headers={**MKT, "If-Match": '"1"'},
                       json={"end_date": "2026-04-30", "region": "east"})
    assert changed.status_code == 200 and changed.headers["ETag"] == '"2"'
    update = marketing.last("UpdateCampaign").request
    assert (update.campaign.id, sorted(update.update_mask.paths), update.expected_version) == (
        "c-1", ["end_date", "region"], 1)

    marketing.answers["ChangeCampaignStatus"] = pb.Campaign(id="c-1", status="scheduled", version=3)
    moved = gw.post("/api/v1/campaigns/c-1/status", headers={**MKT, "If-Match": '"2"'},
                    json={"status": "scheduled", "reason": "日期已定"})
    assert moved.status_code == 200 and moved.get_json()["status"] == "scheduled"
    status = marketing.last("ChangeCampaignStatus").request
    assert (status.id, status.status, status.reason, status.expected_version) == ("c-1", "scheduled", "日期已定", 2)
    assert gw.delete("/api/v1/campaigns/c-1", headers={**MKT, "If-Match": '"3"'}).status_code == 204
    assert marketing.last("DeleteCampaign").request.expected_version == 3


def test_list_filters_and_results_reach_marketing(gw: Any, marketing: Any) -> None:
    marketing.answers["ListCampaigns"] = pb.ListCampaignsResponse(campaigns=[pb.Campaign(id="c-1")],
                                                                  page={"next_page_token": "p2"})
    page = gw.get("/api/v1/campaigns", headers=MKT, query_string={"status": "active", "type": "webinar",
                                                                  "page_size": "10"})
    assert page.get_json() == {"items": [page.get_json()["items"][0]], "next_page_token": "p2"}
    sent = marketing.last("ListCampaigns").request
    assert (sent.filter.status, sent.filter.type, sent.page.page_size) == ("active", "webinar", 10)
    assert fields(gw.get("/api/v1/campaigns", headers=MKT, query_string={"type": "radio"})) == ["type"]
    marketing.answers["GetCampaignResults"] = pb.CampaignResults(campaign_id="c-1", email=pb.EmailCounts(
        delivered=10, opened=4, open_rate=0.4, skipped={"no_consent": 3}))
    results = gw.get("/api/v1/campaigns/c-1/results", headers=MKT).get_json()
    assert results["email"]["skipped"] == {"no_consent": 3} and results["email"]["open_rate"] == 0.4
    assert marketing.last("GetCampaignResults").request.campaign_id == "c-1"


def test_the_invitation_list_adds_lists_registers_and_checks_in(gw: Any, marketing: Any) -> None:
    marketing.answers["AddInvitees"] = pb.AddInviteesResponse(
        invitees=[pb.Invitee(contact_id="k-1", check_in_code="7KQ2MX4P")], already_invited=1)
    added = gw.post("/api/v1/campaigns/c-1/invitees", headers=MKT, json={"contact_ids": ["k-1", "k-2"]})
    assert added.status_code == 201 and added.get_json()["already_invited"] == 1
    assert (marketing.last("AddInvitees").request.campaign_id, list(marketing.last("AddInvitees").request.contact_ids)
            ) == ("c-1", ["k-1", "k-2"])
    marketing.answers["AddInvitees"] = pb.AddInviteesResponse(already_invited=1)
    assert gw.post("/api/v1/campaigns/c-1/invitees", headers=MKT, json={"contact_ids": ["k-2"]}).status_code == 200
    assert fields(gw.post("/api/v1/campaigns/c-1/invitees", headers=MKT, json={"campaign_id": "c-9",
                                                                             "contact_ids": ["k-1"]})) == ["campaign_id"]
    gw.get("/api/v1/campaigns/c-1/invitees", headers=MKT, query_string={"status": "registered"})
    listed = marketing.last("ListInvitees").request
    assert (listed.campaign_id, listed.status) == ("c-1", "registered")
    gw.post("/api/v1/campaigns/c-1/invitees/k-1/register", headers=MKT)
    assert (marketing.last("RegisterInvitee").request.campaign_id,
            marketing.last("RegisterInvitee").request.contact_id) == ("c-1", "k-1")
    marketing.answers["CheckInInvitee"] = pb.Invitee(contact_id="k-1", status="attended", version=3)
    admitted = gw.post("/api/v1/campaigns/c-1/check-ins", headers=MKT, json={"check_in_code": "7kq2-mx4p"})
    assert admitted.status_code == 200 and admitted.get_json()["status"] == "attended"
    assert marketing.last("CheckInInvitee").request.check_in_code == "7kq2-mx4p"  # marketing normalizes it
    assert fields(gw.post("/api/v1/campaigns/c-1/check-ins", headers=MKT, json={})) == ["check_in_code"]


def test_a_template_preview_names_the_missing_merge_field(gw: Any, marketing: Any) -> None:
    draft = {"name": "邀请", "contents": [{"language": "zh-CN", "subject": "{{ first_name }}，您好"}]}
    assert fields(gw.post("/api/v1/email-templates/preview", headers=MKT, json={"template": draft})) == ["contact_id"]
    marketing.errors["PreviewTemplate"] = InvalidArgument("unknown merge field first_name", field="template.subject")
    refused = gw.post("/api/v1/email-templates/preview", headers=MKT, json={"template": draft, "contact_id": "k-1"})
    assert refused.status_code == 400 and refused.headers["Content-Type"] == "application/problem+json"
    assert fields(refused) == ["template.subject"] and "first_name" in refused.get_json()["detail"]
    del marketing.errors["PreviewTemplate"]
    marketing.answers["PreviewTemplate"] = pb.PreviewTemplateResponse(language="en", subject="Hello Li Mei")
    saved = gw.post("/api/v1/email-templates/t-1/preview", headers=MKT, json={"contact_id": "k-1", "language": "en"})
    assert saved.get_json()["subject"] == "Hello Li Mei"
    sent = marketing.last("PreviewTemplate").request
    assert (sent.template_id, sent.contact_id, sent.language, sent.HasField("template")) == ("t-1", "k-1", "en", False)
    assert fields(gw.post("/api/v1/email-templates/t-1/preview", headers=MKT,
                          json={"contact_id": "k-1", "template": draft})) == ["template"]


def test_a_send_wave_is_frozen_started_cancelled_and_its_recipients_listed(gw: Any, marketing: Any) -> None:
    wave = {"campaign_id": "c-1", "template_id": "t-1", "audience": {"segment_ids": ["s-1"]}}
    assert fields(gw.post("/api/v1/send-waves", headers=MKT, json={**wave, "counts": {"sent": 5}})) == ["counts"]
    assert fields(gw.post("/api/v1/send-waves", headers=MKT, json={"campaign_id": "c-1"})) == ["template_id"]
    marketing.answers["CreateSendWave"] = pb.SendWave(id="w-1", status="ready", version=1)
    created = gw.post("/api/v1/send-waves", headers=MKT, json=wave)
    assert created.status_code == 201 and created.headers["Location"] == "/api/v1/send-waves/w-1"
    assert list(marketing.last("CreateSendWave").request.wave.audience.segment_ids) == ["s-1"]
    marketing.answers["StartSendWave"] = pb.SendWave(id="w-1", status="sending", version=2)
    started = gw.post("/api/v1/send-waves/w-1/start", headers={**MKT, "If-Match": '"1"'})
    assert started.status_code == 200 and started.headers["ETag"] == '"2"'
    assert (marketing.last("StartSendWave").request.id, marketing.last("StartSendWave").request.expected_version) == (
        "w-1", 1)
    gw.post("/api/v1/send-waves/w-1/cancel", headers=MKT)
    assert marketing.last("CancelSendWave").request.id == "w-1"
    gw.get("/api/v1/send-waves/w-1/recipients", headers=MKT, query_string={"status": "skipped",
                                                                           "skip_reason": "no_consent"})
    listed = marketing.last("ListRecipients").request
    assert (listed.wave_id, listed.status, listed.skip_reason) == ("w-1", "skipped", "no_consent")
    assert fields(gw.get("/api/v1/send-waves/w-1/recipients", headers=MKT,
                         query_string={"skip_reason": "bored"})) == ["skip_reason"]
    gw.get("/api/v1/send-waves", headers=MKT, query_string={"campaign_id": "c-1"})
    assert marketing.last("ListSendWaves").request.campaign_id == "c-1"


def test_marketing_routes_need_a_token(gw: Any, marketing: Any) -> None:
    for method, path in (("get", "/api/v1/campaigns"), ("post", "/api/v1/send-waves/w-1/start"),
                         ("get", "/api/v1/email-templates")):
        assert getattr(gw, method)(path).status_code == 401
    assert marketing.calls == []


# -- the public links of a mail -------------------------------------------------------------------

def test_opening_the_unsubscribe_link_shows_a_button_and_unsubscribes_no_one(gw: Any, marketing: Any) -> None:
    page = gw.get(f"/api/v1/public/unsubscribe/{TOKEN}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    body = page.get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]*)">(.*?)</form>', body)
    assert form and form.group(1) == f"./{TOKEN}"  # relative: the same URL
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in form.group(2)
    assert page.headers["Referrer-Policy"] == "no-referrer" and "frame-ancestors 'none'" in page.headers[
        "Content-Security-Policy"]
    crafted = gw.get("/api/v1/public/unsubscribe/javascript:alert(1)")
    assert crafted.status_code == 400 and "<form" not in crafted.get_data(as_text=True)
    assert marketing.calls == []


def test_one_click_unsubscribe_as_a_mail_client_and_as_the_page_button(gw: Any, marketing: Any) -> None:
    marketing.answers["Unsubscribe"] = pb.UnsubscribeResponse(email_masked="l***@xiaomi.example")
    done = gw.post(f"/api/v1/public/unsubscribe/{TOKEN}", data="List-Unsubscribe=One-Click",
                   content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200 and done.mimetype == "text/html"
    assert "l***@xiaomi.example" in done.get_data(as_text=True)
    call = marketing.last("Unsubscribe")
    assert call.request.token == TOKEN
    claims = jwt.decode(call.metadata["authorization"].removeprefix("Bearer "), SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["roles"]) == ("public-web", ["public"])
    # multipart (RFC 8058 allows it) and an empty body are one-click too
    assert gw.post(f"/api/v1/public/unsubscribe/{TOKEN}", data={"List-Unsubscribe": "One-Click"},
                   content_type="multipart/form-data").status_code == 200
    marketing.answers["Unsubscribe"] = pb.UnsubscribeResponse(email_masked="l***@xiaomi.example",
                                                              already_unsubscribed=True)
    again = gw.post(f"/api/v1/public/unsubscribe/{TOKEN}")
    assert again.status_code == 200 and "already" in again.get_data(as_text=True)
    assert marketing.methods() == ["Unsubscribe"] * 3


def test_a_body_that_is_not_one_click_is_refused_naming_the_field(gw: Any, marketing: Any) -> None:
    url = f"/api/v1/public/unsubscribe/{TOKEN}"
    other = gw.post(url, data="List-Unsubscribe=Later", content_type="application/x-www-form-urlencoded")
    assert other.status_code == 400 and fields(other) == ["List-Unsubscribe"]
    extra = gw.post(url, data="List-Unsubscribe=One-Click&email=x@y.cn", content_type="application/x-www-form-urlencoded")
    assert extra.status_code == 400 and fields(extra) == ["email"]
    assert gw.post(url, json={"List-Unsubscribe": "One-Click"}).status_code == 415
    attached = gw.post(url, data={"List-Unsubscribe": "One-Click", "note": (io.BytesIO(b"x"), "note.txt")},
                       content_type="multipart/form-data")
    assert attached.status_code == 400 and fields(attached) == ["note"]
    assert marketing.calls == []


def test_an_unsubscribe_token_that_is_not_genuine_gets_a_page_saying_so(gw: Any, marketing: Any) -> None:
    marketing.errors["Unsubscribe"] = InvalidArgument("this link is not valid", field="token")
    resp = gw.post("/api/v1/public/unsubscribe/u.1.forged", data="List-Unsubscribe=One-Click",
                   content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    assert "not valid" in resp.get_data(as_text=True)


def test_the_open_pixel_is_a_gif_whatever_happens(make_client: Any, settings: Any, gw: Any,
                                                  marketing: Any) -> None:
    def pixel(client: Any, token: str = TOKEN) -> Any:
        resp = client.get(f"/api/v1/public/open/{token}")
        assert (resp.status_code, resp.mimetype, resp.get_data()) == (200, "image/gif", PIXEL_GIF)
        assert "no-store" in resp.headers["Cache-Control"]
        return resp

    assert PIXEL_GIF.startswith(b"GIF89a\x01\x00\x01\x00") and PIXEL_GIF.endswith(b";")
    pixel(gw)
    assert marketing.last("RecordOpen").request.token == TOKEN
    marketing.errors["RecordOpen"] = InvalidArgument("this link is not valid", field="token")
    pixel(gw, "o.forged.AAAA")  # counted nowhere, and the answer does not tell
    pixel(make_client(settings))  # marketing not configured on this gateway
    assert marketing.methods() == ["RecordOpen", "RecordOpen"]


def test_a_click_redirects_to_the_link_of_that_mail_and_a_bad_token_is_a_problem(
        gw: Any, marketing: Any) -> None:
    target = "https://shop.example/expo?utm_source=shuniu&utm_medium=email&utm_campaign=spring"
    marketing.answers["ResolveClick"] = pb.ResolveClickResponse(url=target)
    resp = gw.get("/api/v1/public/click/c.1f.0.AAAA")
    assert resp.status_code == 302 and resp.headers["Location"] == target
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert marketing.last("ResolveClick").request.token == "c.1f.0.AAAA"
    marketing.errors["ResolveClick"] = InvalidArgument("this link is not valid", field="token")
    bad = gw.get("/api/v1/public/click/c.1f.9.forged")
    assert bad.status_code == 400 and bad.headers["Content-Type"] == "application/problem+json"
    assert fields(bad) == ["token"] and "Location" not in bad.headers


@pytest.mark.parametrize("url", ["javascript:alert(1)", "//evil.example/x", "data:text/html,hi", "ftp://x.example/",
                                 "https://shop.example/\r\nSet-Cookie: a=b"])
def test_a_click_never_redirects_anywhere_but_http(gw: Any, marketing: Any, url: str) -> None:
    marketing.answers["ResolveClick"] = pb.ResolveClickResponse(url=url)
    resp = gw.get("/api/v1/public/click/c.1f.0.AAAA")
    assert resp.status_code == 502 and "Location" not in resp.headers


def test_public_links_are_limited_per_visitor_address(make_client: Any, settings: Any, marketing: Any,
                                                      marketing_server: Any) -> None:
    gw = make_client(settings, rate_limit_rps=0.001, rate_limit_burst=2,
                     optional_addrs={"marketing": f"127.0.0.1:{marketing_server[1].port}"})
    marketing.answers["ResolveClick"] = pb.ResolveClickResponse(url="https://shop.example/")
    visitor = {"REMOTE_ADDR": "203.0.113.7"}
    assert gw.get("/api/v1/public/click/c.1.0.A", environ_base=visitor).status_code == 302
    assert gw.get(f"/api/v1/public/unsubscribe/{TOKEN}", environ_base=visitor).status_code == 200
    limited = gw.get("/api/v1/public/click/c.1.0.A", environ_base=visitor)
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert gw.get("/api/v1/public/open/o.1.A", environ_base=visitor).mimetype == "image/gif"  # yet never broken
    assert gw.get("/api/v1/public/click/c.1.0.A", environ_base={"REMOTE_ADDR": "198.51.100.2"}).status_code == 302
    assert marketing.methods() == ["ResolveClick", "ResolveClick"]


# -- a backend away: its routes answer 503, the rest and readiness go on -------------------------

def test_with_marketing_down_its_routes_are_503_and_the_gateway_stays_ready(
        make_client: Any, settings: Any, dead_addr: str, auth: dict[str, str]) -> None:
    gw = make_client(settings, optional_addrs={"marketing": dead_addr}, grpc_timeout=1.0)
    down = gw.get("/api/v1/campaigns", headers=MKT)
    assert down.status_code == 503 and down.headers["Content-Type"] == "application/problem+json"
    assert gw.get("/api/v1/contacts", headers=auth).status_code == 200
    assert gw.get(f"/api/v1/public/open/{TOKEN}").mimetype == "image/gif"
    ready = gw.get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {"status": "ready"}
    report = gw.get("/backendz")
    assert report.status_code == 503 and fields(report) == ["marketing"]
    assert report.get_json()["backends"]["contacts"] == "SERVING"


def test_readiness_asks_no_backend_at_all(make_client: Any, settings: Any, dead_addr: str) -> None:
    gw = make_client(settings, contacts_addr=dead_addr, reporting_addr=dead_addr)
    assert gw.get("/readyz").status_code == 200
    assert set(fields(gw.get("/backendz"))) == {"contacts", "reporting"}


def test_an_unconfigured_marketing_is_503_naming_the_variable(client: Any) -> None:
    resp = client.get("/api/v1/send-waves", query_string={"campaign_id": "c-1"}, headers=MKT)
    assert resp.status_code == 503 and "MARKETING_SERVICE_ADDR" in resp.get_json()["detail"]


# -- documented as served -------------------------------------------------------------------------

def test_the_document_shows_the_marketing_routes_and_what_the_public_links_answer(gw: Any) -> None:
    paths = gw.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/campaigns", "/api/v1/campaigns/{id}/status", "/api/v1/campaigns/{id}/check-ins",
                 "/api/v1/email-templates/{id}/preview", "/api/v1/send-waves/{id}/recipients"):
        assert path in paths, path
    click = paths["/api/v1/public/click/{token}"]["get"]
    assert click["security"] == [] and "Location" in click["responses"]["302"]["headers"]
    assert "400" in click["responses"] and "429" in click["responses"]
    assert list(paths["/api/v1/public/open/{token}"]["get"]["responses"]["200"]["content"]) == ["image/gif"]
    unsubscribe = paths["/api/v1/public/unsubscribe/{token}"]
    assert {"get", "post"} <= unsubscribe.keys() and "text/html" in unsubscribe["post"]["responses"]["200"]["content"]
    create = paths["/api/v1/send-waves"]["post"]
    assert "status" not in gw.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["SendWaveInput"][
        "properties"] and "201" in create["responses"]
