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
