"""Issue 13's picklists through the gateway, as an administrator moving off Salesforce would use
them: "webinar" added as a source (with its zh-CN and en labels) is accepted for a contact at once
and for a lead once the change reached sales; retired, new writes are refused naming `source` and
listing the active keys, while the records that hold it are still listed and filtered by it.
Everyone signed in reads the labels; only an admin changes them, with If-Match."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from .conftest import new_contact, poll

pytestmark = pytest.mark.e2e


def put(client: Any, path: str, body: dict[str, Any], etag: str = "") -> requests.Response:
    headers = {"If-Match": etag} if etag else {}
    return client.http.put(client.base + path, json=body, headers=headers, timeout=10)


def fields(resp: requests.Response) -> list[str]:
    return [e["field"] for e in resp.json().get("errors", [])]


def _source(admin: Any) -> tuple[list[dict[str, Any]], str]:
    r = admin.get("/admin/picklists/source")
    assert r.status_code == 200, r.text
    return r.json()["values"], r.headers.get("ETag", "")


def test_an_added_source_is_one_vocabulary_for_contacts_and_leads_until_it_is_retired(api) -> None:
    admin, rep = api("admin"), api("rep.north.1")
    marker = uuid.uuid4().hex[:6]
    values, etag = _source(admin)
    assert values[0] == {"key": "website", "label_zh": "官网", "label_en": "Website", "retired": False,
                         "built_in": True}
    body = {"restricted": True, "values": [{"key": v["key"], "retired": v["retired"]} for v in values]
            + [{"key": "webinar", "label_zh": "线上研讨会", "label_en": "Webinar"}]}
    assert put(rep, "/admin/picklists/source", body).status_code == 403
    r = put(admin, "/admin/picklists/source", body, etag)
    assert r.status_code == 200, r.text
    added_etag = r.headers["ETag"]

    # a rep reads the labels too (the console shows them)
    listed = rep.get("/admin/picklists")
    assert listed.status_code == 200 and listed.headers["ETag"] == added_etag
    [source] = [p for p in listed.json()["picklists"] if p["name"] == "source"]
    assert source["values"][-1]["label_zh"] == "线上研讨会"

    contact = rep.post("/contacts", json=new_contact(f"研讨会客户 {marker}", source="webinar"))
    assert contact.status_code == 201, contact.text
    lead = poll(lambda: rep.post("/leads", json={"name": f"研讨会线索 {marker}", "company": "示例科技",
                                                   "source": "webinar"}),
                lambda resp: resp.status_code == 201, "sales to hear of the new source", timeout=30)
    assert lead.json()["source"] == "webinar"

    values, etag = _source(admin)
    assert etag == added_etag
    retire = {"restricted": True, "values": [{"key": v["key"], "retired": v["key"] == "webinar"} for v in values]}
    r = put(admin, "/admin/picklists/source", retire, etag)
    assert r.status_code == 200, r.text
    assert put(admin, "/admin/picklists/source", body, added_etag).status_code == 409  # If-Match is stale now

    refused = rep.post("/contacts", json=new_contact(f"又一个 {marker}", source="webinar"))
    assert refused.status_code == 400 and fields(refused) == ["source"]
    assert "website, web_form" in refused.text and "retired" in refused.text
    poll(lambda: rep.post("/leads", json={"name": f"又一条 {marker}", "source": "webinar"}),
         lambda resp: resp.status_code == 400 and fields(resp) == ["source"], "sales to hear of the retirement",
         timeout=30)

    # the records that hold it stay listed and filterable by it
    contacts = rep.get("/contacts", params={"source": "webinar"})
    assert contacts.status_code == 200, contacts.text
    assert contact.json()["id"] in [c["id"] for c in contacts.json()["items"]]
    leads = rep.get("/leads", params={"source": "webinar"})
    assert leads.status_code == 200, leads.text
    assert lead.json()["id"] in [item["id"] for item in leads.json()["items"]]
    kept = rep.patch(f"/contacts/{contact.json()['id']}", json={"title": "经理"},
                     headers={"If-Match": contact.headers["ETag"]})
    assert kept.status_code == 200 and kept.json()["source"] == "webinar", kept.text


def test_a_built_in_value_cannot_be_removed_and_an_unknown_picklist_is_404(api) -> None:
    admin = api("admin")
    r = put(admin, "/admin/picklists/level", {"restricted": True, "values": [{"key": "vip"}]})
    assert r.status_code == 400 and fields(r) == ["values"] and "regular" in r.text
    assert admin.get("/admin/picklists/colour").status_code == 404


def test_the_picklist_read_and_sent_back_as_it_is_is_accepted_and_a_read_only_change_is_named(api) -> None:
    admin = api("admin")
    got = admin.get("/admin/picklists/level")
    assert got.status_code == 200, got.text
    same = put(admin, "/admin/picklists/level", got.json(), got.headers["ETag"])
    assert same.status_code == 200, same.text
    assert same.headers["ETag"] == got.headers["ETag"]  # nothing changed: no new version
    body = got.json()
    body["values"][1]["built_in"] = False
    refused = put(admin, "/admin/picklists/level", body, got.headers["ETag"])
    assert refused.status_code == 400 and fields(refused) == ["values[1].built_in"], refused.text


def _set_industry(admin: Any, restricted: bool) -> None:
    got = admin.get("/admin/picklists/industry")
    r = put(admin, "/admin/picklists/industry", {**got.json(), "restricted": restricted}, got.headers.get("ETag", ""))
    assert r.status_code == 200, r.text


def test_a_form_s_free_text_industry_is_never_lost_when_the_list_is_restricted(api) -> None:
    run = uuid.uuid4().hex[:6]
    admin, mkt, rep = api("admin"), api("marketing.hq"), api("rep.north.1")
    assert admin.patch("/automation-settings", json={"form_min_seconds": 0}).status_code == 200
    form = mkt.post("/forms", json={
        "name": f"行业调查 {run}", "title": {"zh": "报名", "en": "Sign up"},
        "fields": [{"name": "name", "label": {"zh": "姓名", "en": "Name"}, "required": True},
                   {"name": "email", "label": {"zh": "邮箱", "en": "Email"}, "required": True},
                   {"name": "industry", "label": {"zh": "行业", "en": "Industry"}}],
        "consent": {"enabled": True, "text": {"zh": "我同意接收活动资讯", "en": "I agree to receive news"}}})
    assert form.status_code == 201, form.text
    form_id = form.json()["id"]
    _set_industry(admin, True)
    try:
        poll(lambda: rep.post("/leads", json={"name": f"探针 {run}", "industry": "造船"}),
             lambda resp: resp.status_code == 400 and fields(resp) == ["industry"], "sales to hear of the restriction",
             timeout=30)
        public = requests.Session()
        typed = {"造船与海工": ("", "industry:造船与海工"), "Software and IT": ("software", "")}
        for i, industry in enumerate(typed):
            shown = public.get(f"{mkt.base}/public/forms/{form_id}/definition", timeout=10).json()
            sent = public.post(f"{mkt.base}/public/forms/{form_id}/submissions", timeout=10, json={
                "form_token": shown["form_token"], "consent": True,
                "values": {"name": f"访客{i}", "email": f"v{i}.{run}@e2e.example", "industry": industry}})
            assert sent.status_code == 202, sent.text
        subs = poll(lambda: mkt.get(f"/forms/{form_id}/submissions").json()["items"],
                    lambda items: len(items) == 2 and all(s["status"] != "pending" for s in items),
                    "both submissions handed to sales")
        assert [s["status"] for s in subs] == ["delivered", "delivered"], subs
        for s in subs:
            lead = admin.get(f"/leads/{s['lead_id']}").json()
            industry, kept = typed[s["values"]["industry"]]
            assert lead["industry"] == industry and (kept in lead["notes"]), lead
    finally:
        _set_industry(admin, False)  # industry's default for the rest of the session
