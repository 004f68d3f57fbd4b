"""Segments and consent through the gateway: what each declared route sends to ContactsService (a
recorder built from the contract), the bodies it refuses before any call (problem+json naming
the field), the OpenAPI document, and the whole flow against the real contacts service."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.bootstrap import spec as contacts_spec
from crmkit.auth import Principal, mint_token
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import in_process_settings

SECRET = "gateway-test-secret-0123456789abcdef"  # the gateway conftest's


@pytest.fixture
def contacts(recorder: Any) -> Any:
    return recorder(pb)


@pytest.fixture
def gw(make_client: Any, settings: Any, contacts: Any) -> Any:
    return make_client(settings, contacts_addr=contacts.address)


def problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_json()
    assert resp.mimetype == "application/problem+json"
    return resp.get_json()  # type: ignore[no-any-return]


def fields(resp: Any) -> list[str]:
    return [e["field"] for e in problem(resp, 400)["errors"]]


# -- what reaches the backend ----------------------------------------------------------------

def test_segment_crud_is_a_resource_with_etags_and_if_match(gw: Any, auth: dict[str, str], contacts: Any) -> None:
    contacts.answers["CreateSegment"] = pb.Segment(id="seg-1", name="华北 VIP", version=1)
    created = gw.post("/api/v1/segments", headers=auth, json={
        "name": "华北 VIP", "filter": {"regions": ["north"], "levels": ["vip"], "no_interaction_days": 90,
                                       "spend_band": "100000-", "custom_fields": {"tier": "A"},
                                       "consent_purpose": "marketing_email"}})
    assert created.status_code == 201, created.get_json()
    assert created.headers["Location"] == "/api/v1/segments/seg-1" and created.headers["ETag"] == '"1"'
    sent = contacts.last("CreateSegment").request.segment
    assert (sent.name, list(sent.filter.levels), sent.filter.no_interaction_days, dict(sent.filter.custom_fields)) == (
        "华北 VIP", ["vip"], 90, {"tier": "A"})

    contacts.answers["UpdateSegment"] = pb.Segment(id="seg-1", version=2)
    patched = gw.patch("/api/v1/segments/seg-1", headers={**auth, "If-Match": '"1"'},
                       json={"filter": {"tags_any": ["高意向"]}, "description": "重写"})
    assert patched.status_code == 200 and patched.headers["ETag"] == '"2"'
    update = contacts.last("UpdateSegment").request
    assert (update.segment.id, sorted(update.update_mask.paths), update.expected_version) == (
        "seg-1", ["description", "filter"], 1)

    assert gw.delete("/api/v1/segments/seg-1", headers={**auth, "If-Match": '"2"'}).status_code == 204
    assert contacts.last("DeleteSegment").request.expected_version == 2
    listed = gw.get("/api/v1/segments?page_size=20&page_token=czA1", headers=auth)
    assert listed.status_code == 200 and listed.get_json() == {"items": [], "next_page_token": ""}
    page = contacts.last("ListSegments").request.page
    assert (page.page_size, page.page_token) == (20, "czA1")
    assert contacts.last("CreateSegment").metadata["authorization"] == auth["Authorization"]


def test_members_count_and_preview(gw: Any, auth: dict[str, str], contacts: Any) -> None:
    contacts.answers["ListSegmentMembers"] = pb.ListSegmentMembersResponse(
        contacts=[pb.Contact(id="c1", name="张伟")], page={"next_page_token": "next"})
    members = gw.get("/api/v1/segments/seg-1/members?page_size=1000", headers=auth)
    assert members.status_code == 200
    assert [c["id"] for c in members.get_json()["items"]] == ["c1"] and members.get_json()["next_page_token"] == "next"
    request = contacts.last("ListSegmentMembers").request
    assert (request.segment_id, request.page.page_size) == ("seg-1", 1000)
    assert fields(gw.get("/api/v1/segments/seg-1/members?page_size=1001", headers=auth)) == ["page_size"]

    contacts.answers["CountSegmentMembers"] = pb.CountSegmentMembersResponse(count=4173)
    counted = gw.get("/api/v1/segments/seg-1/count", headers=auth)
    assert counted.get_json() == {"count": 4173} and contacts.last("CountSegmentMembers").request.segment_id == "seg-1"

    contacts.answers["PreviewSegment"] = pb.PreviewSegmentResponse(count=2, contacts=[pb.Contact(id="c9")])
    preview = gw.post("/api/v1/segments/preview", headers=auth,
                      json={"filter": {"tags_all": ["展会", "高意向"]}, "page_size": 5})
    assert preview.status_code == 200 and preview.get_json()["count"] == 2
    assert [c["id"] for c in preview.get_json()["contacts"]] == ["c9"]
    assert list(contacts.last("PreviewSegment").request.filter.tags_all) == ["展会", "高意向"]
    assert fields(gw.post("/api/v1/segments/preview", headers=auth, json={"page_size": 101})) == ["page_size"]


def test_consent_is_recorded_and_listed_per_contact(gw: Any, auth: dict[str, str], contacts: Any) -> None:
    contacts.answers["RecordConsent"] = pb.Contact(id="c1", version=3, consents=[
        pb.Consent(purpose="marketing_email", granted=False, source="unsubscribe_link", recorded_by="rep.north.1")])
    recorded = gw.post("/api/v1/contacts/c1/consents", headers=auth, json={
        "purpose": "marketing_email", "granted": False, "source": "unsubscribe_link", "lawful_basis": "consent",
        "evidence": "clicked the link in campaign C-7"})
    assert recorded.status_code == 200 and recorded.headers["ETag"] == '"3"'
    assert recorded.get_json()["consents"][0]["granted"] is False
    sent = contacts.last("RecordConsent").request
    assert (sent.contact_id, sent.consent.purpose, sent.consent.granted, sent.consent.evidence) == (
        "c1", "marketing_email", False, "clicked the link in campaign C-7")

    contacts.answers["ListConsentHistory"] = pb.ListConsentHistoryResponse(history=[
        pb.Consent(purpose="marketing_email", granted=False), pb.Consent(purpose="marketing_email", granted=True)])
    history = gw.get("/api/v1/contacts/c1/consents", headers=auth)
    assert [c["granted"] for c in history.get_json()["items"]] == [False, True]
    assert contacts.last("ListConsentHistory").request.contact_id == "c1"


def test_a_consent_source_of_an_unknown_kind_is_refused_listing_the_kinds(gw: Any, auth: dict[str, str],
                                                                         contacts: Any) -> None:
    # "phone" reads as a fine source to a rep on the phone: the 400 has to say what is taken
    refused = gw.post("/api/v1/contacts/c1/consents", headers=auth,
                      json={"purpose": "marketing_email", "granted": True, "source": "phone"})
    assert refused.status_code == 400 and contacts.calls == []
    [error] = refused.get_json()["errors"]
    assert error["field"] == "source" and "agent" in error["message"] and "web_form" in error["message"]


# -- refused before any call -----------------------------------------------------------------

@pytest.mark.parametrize(("path", "body", "named"), [
    ("/api/v1/segments", {"filter": {"levels": ["vip"]}}, ["name"]),
    ("/api/v1/segments", {"name": "x", "version": 3}, ["version"]),
    ("/api/v1/segments", {"name": "x", "filter": {"colour": "red"}}, ["filter.colour"]),
    ("/api/v1/segments", {"name": "x", "filter": {"no_interaction_days": "90"}}, ["filter.no_interaction_days"]),
    ("/api/v1/segments", {"name": "x", "filter": {"levels": "vip"}}, ["filter.levels"]),
    ("/api/v1/segments/preview", {"filter": {"custom_fields": {"tier": 1}}}, ["filter.custom_fields.tier"]),
    ("/api/v1/contacts/c1/consents", {"purpose": "marketing_email"}, ["granted"]),
    ("/api/v1/contacts/c1/consents", {"purpose": "marketing_email", "granted": True, "at": "2026-01-01T00:00:00Z"},
     ["at"]),
    ("/api/v1/contacts/c1/consents", {"granted": True, "recorded_by": "someone"}, ["purpose", "recorded_by"]),
    ("/api/v1/contacts", {"name": "张伟", "consents": [{"purpose": "marketing_email", "granted": True}]},
     ["consents"]),
])
def test_a_bad_body_is_a_400_naming_the_field_and_nothing_is_called(gw: Any, auth: dict[str, str], contacts: Any,
                                                                    path: str, body: dict[str, Any],
                                                                    named: list[str]) -> None:
    assert sorted(fields(gw.post(path, headers=auth, json=body))) == sorted(named)
    assert contacts.calls == []


def test_a_refusal_of_the_service_names_the_field(make_client: Any, settings: Any, real_contacts: str,
                                                  auth: dict[str, str]) -> None:
    gw = make_client(settings, contacts_addr=real_contacts)
    refused = gw.post("/api/v1/segments", headers=auth, json={"name": "x", "filter": {"levels": ["gold"]}})
    assert fields(refused) == ["filter.levels[0]"]
    assert fields(gw.post("/api/v1/segments/preview", headers=auth,
                          json={"filter": {"no_interaction_days": -3}})) == ["filter.no_interaction_days"]
    assert fields(gw.post("/api/v1/segments/preview", headers=auth,
                          json={"filter": {"spend_band": "lots"}})) == ["filter.spend_band"]
    assert fields(gw.post("/api/v1/contacts/nobody/consents", headers=auth,
                          json={"purpose": "newsletter", "granted": True})) == ["purpose"]  # the gateway's enum
    assert problem(gw.get("/api/v1/segments/nope/count", headers=auth), 404)["errors"][0]["field"] == "id"


def test_openapi_documents_the_routes_and_the_read_only_consents(gw: Any) -> None:
    doc = gw.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    assert set(paths["/api/v1/segments"]) == {"get", "post"}
    assert set(paths["/api/v1/segments/{id}"]) == {"get", "patch", "delete"}
    for path, method in (("/api/v1/segments/preview", "post"), ("/api/v1/segments/{id}/members", "get"),
                         ("/api/v1/segments/{id}/count", "get"), ("/api/v1/contacts/{id}/consents", "post"),
                         ("/api/v1/contacts/{id}/consents", "get")):
        assert method in paths[path], path
    schemas = doc["components"]["schemas"]
    assert schemas["Contact"]["properties"]["consents"]["readOnly"] is True
    assert "consents" not in schemas["ContactInput"]["properties"]
    assert set(schemas["ConsentInput"]["required"]) == {"purpose", "granted"}
    assert "spend_band" in schemas["SegmentFilter"]["properties"]


# -- the real contacts service behind the gateway ----------------------------------------------

@pytest.fixture(scope="module")
def real_contacts(nats_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("contacts")
    url = f"sqlite:///{tmp / 'contacts.db'}"
    spec = contacts_spec()
    upgrade(url, spec.migrations)
    runtime = ServiceRuntime(spec, in_process_settings("contacts", url, nats_server.url, tmp, SECRET)).start()
    yield runtime.address
    runtime.stop()


def test_segment_members_and_consent_end_to_end(make_client: Any, settings: Any, real_contacts: str,
                                                auth: dict[str, str]) -> None:
    gw = make_client(settings, contacts_addr=real_contacts)
    other = {"Authorization": f"Bearer {mint_token(Principal('rep.north.2', ('rep',), 'north-sales', 'north'), SECRET)}"}
    made = [gw.post("/api/v1/contacts?allow_duplicate=true", headers=auth,
                    json={"name": f"展会客户 {i}", "level": "vip" if i % 2 else "regular", "tags": ["展会"],
                          "language": "zh-cn"}).get_json() for i in range(5)]
    gw.post("/api/v1/contacts?allow_duplicate=true", headers=other, json={"name": "别人的 VIP", "level": "vip"})
    segment = gw.post("/api/v1/segments", headers=auth, json={"name": "展会 VIP", "filter": {
        "levels": ["vip"], "tags_all": ["展会"], "no_interaction_days": 90}})
    assert segment.status_code == 201, segment.get_json()
    seg = segment.get_json()
    assert gw.get(f"/api/v1/segments/{seg['id']}/count", headers=auth).get_json() == {"count": 2}
    first = gw.get(f"/api/v1/segments/{seg['id']}/members?page_size=1", headers=auth).get_json()
    rest = gw.get(f"/api/v1/segments/{seg['id']}/members?page_size=1&page_token={first['next_page_token']}",
                  headers=auth).get_json()
    assert [c["id"] for c in first["items"] + rest["items"]] == [made[1]["id"], made[3]["id"]]
    assert rest["next_page_token"] == "" and made[1]["language"] == "zh-CN"
    assert gw.get(f"/api/v1/segments/{seg['id']}/count", headers=other).get_json() == {"count": 0}  # theirs lacks the tag

    person = made[1]["id"]
    granted = gw.post(f"/api/v1/contacts/{person}/consents", headers=auth,
                      json={"purpose": "marketing_email", "granted": True, "source": "web_form:expo-2026"})
    assert granted.status_code == 200 and granted.headers["ETag"] == '"2"'
    withdrawn = gw.post(f"/api/v1/contacts/{person}/consents", headers=auth,
                        json={"purpose": "marketing_email", "granted": False, "source": "unsubscribe_link"})
    assert [(c["purpose"], c["granted"]) for c in withdrawn.get_json()["consents"]] == [("marketing_email", False)]
    history = gw.get(f"/api/v1/contacts/{person}/consents", headers=auth).get_json()["items"]
    assert [(c["granted"], c["source"], c["recorded_by"]) for c in history] == [
        (False, "unsubscribe_link", "rep.north.1"), (True, "web_form:expo-2026", "rep.north.1")]
    preview = gw.post("/api/v1/segments/preview", headers=auth,
                      json={"filter": {"consent_purpose": "marketing_email"}}).get_json()
    assert preview == {"count": 0, "contacts": []}

    renamed = gw.patch(f"/api/v1/segments/{seg['id']}", headers={**auth, "If-Match": '"1"'},
                       json={"name": "展会 VIP（改）"})
    assert renamed.status_code == 200 and renamed.headers["ETag"] == '"2"'
    stale = gw.delete(f"/api/v1/segments/{seg['id']}", headers={**auth, "If-Match": '"1"'})
    assert problem(stale, 409)
    assert gw.delete(f"/api/v1/segments/{seg['id']}", headers={**auth, "If-Match": '"2"'}).status_code == 204
