"""The contact and account endpoints as a client uses them, against real gRPC servers."""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from crmkit.paging import encode_cursor

NEW_CONTACT: dict[str, Any] = {
    "name": "张伟 Zhang Wei",
    "phones": [{"number": "+8613800138000", "kind": "mobile"}],
    "emails": [{"address": "zhang.wei@example.cn", "kind": "work"}],
    "region": "north",
    "tags": ["high intent"],
    "social": {"wechat": "zhangwei88"},
    "custom_fields": {"budget": 5000, "vip_since": "2024"},
}


def create(client: FlaskClient, auth: dict[str, str], body: dict[str, Any] | None = None,
           **headers: str) -> Any:
    return client.post("/api/v1/contacts", json=body or NEW_CONTACT, headers={**auth, **headers})


def test_create_returns_201_with_location_etag_and_proto_field_names(client, auth, fake):
    resp = create(client, auth)
    assert resp.status_code == 201
    body = resp.get_json()
    assert resp.headers["Location"] == f"/api/v1/contacts/{body['id']}"
    assert resp.headers["ETag"] == '"1"'
    assert body["name"] == "张伟 Zhang Wei"
    assert body["phones"][0] == {"number": "+8613800138000", "kind": "mobile", "raw": "", "unverified": False}
    assert body["social"] == {"wechat": "zhangwei88"}
    assert body["custom_fields"] == {"budget": 5000, "vip_since": "2024"}
    assert body["version"] == 1 and body["deleted"] is False and body["merged_into_id"] == ""
    assert body["created_at"].endswith("Z")  # RFC 3339
    assert fake.last("CreateContact").user_id == "rep.north.1"  # token reached the service


def test_get_returns_the_created_contact_with_its_etag(client, auth):
    created = create(client, auth).get_json()
    resp = client.get(f"/api/v1/contacts/{created['id']}", headers=auth)
    assert resp.status_code == 200
    assert resp.get_json() == created
    assert resp.headers["ETag"] == '"1"'
    again = client.get(f"/api/v1/contacts/{created['id']}", headers={**auth, "If-None-Match": '"1"'})
    assert again.status_code == 304


def test_patch_with_if_match_updates_only_given_fields_and_bumps_etag(client, auth, fake):
    created = create(client, auth).get_json()
    url = f"/api/v1/contacts/{created['id']}"
    resp = client.patch(url, json={"title": "CTO", "tags": []}, headers={**auth, "If-Match": '"1"'})
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["ETag"] == '"2"'
    body = resp.get_json()
    assert body["title"] == "CTO" and body["tags"] == [] and body["name"] == NEW_CONTACT["name"]
    sent = fake.last("UpdateContact").request
    assert sorted(sent.update_mask.paths) == ["tags", "title"]
    assert sent.expected_version == 1


def test_stale_if_match_is_a_409_conflict(client, auth):
    created = create(client, auth).get_json()
    url = f"/api/v1/contacts/{created['id']}"
    assert client.patch(url, json={"title": "CTO"}, headers={**auth, "If-Match": '"1"'}).status_code == 200
    stale = client.patch(url, json={"title": "CEO"}, headers={**auth, "If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.mimetype == "application/problem+json"
    assert client.get(url, headers=auth).get_json()["title"] == "CTO"


def test_delete_with_if_match_then_the_contact_is_gone(client, auth, fake):
    created = create(client, auth).get_json()
    url = f"/api/v1/contacts/{created['id']}"
    assert client.delete(url, headers={**auth, "If-Match": '"7"'}).status_code == 409
    resp = client.delete(url, headers={**auth, "If-Match": '"1"'})
    assert resp.status_code == 204 and resp.data == b""
    gone = client.get(url, headers=auth)
    assert gone.status_code == 404
    assert gone.get_json()["errors"] == [{"field": "id", "message": gone.get_json()["detail"]}]


def test_idempotency_key_is_forwarded_and_a_retry_creates_nothing_new(client, auth, fake):
    first = create(client, auth, **{"Idempotency-Key": "import-42"})
    retry = create(client, auth, **{"Idempotency-Key": "import-42"})
    assert first.status_code == retry.status_code == 201
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert fake.last("CreateContact").metadata["crm-idempotency-key"] == "import-42"
    assert len([r for r in fake.records.values()]) == 1


def test_duplicate_is_409_naming_the_existing_contact(client, auth):
    existing = create(client, auth).get_json()
    resp = create(client, auth, {**NEW_CONTACT, "name": "Zhang W."})
    assert resp.status_code == 409
    problem = resp.get_json()
    assert problem["existing_id"] == existing["id"]
    assert problem["existing_url"] == f"/api/v1/contacts/{existing['id']}"
    assert resp.headers["Location"] == f"/api/v1/contacts/{existing['id']}"
    assert problem["errors"][0]["field"] == "emails"
    forced = client.post("/api/v1/contacts?allow_duplicate=true", json=NEW_CONTACT, headers=auth)
    assert forced.status_code == 201 and forced.get_json()["id"] != existing["id"]


def test_list_forwards_filters_and_paging_and_returns_items_with_next_token(client, auth, fake):
    for i in range(3):
        body = {**NEW_CONTACT, "emails": [{"address": f"c{i}@example.cn"}]}
        assert create(client, auth, body).status_code == 201
    resp = client.get(
        "/api/v1/contacts?region=north&tag=high+intent&q=zhang&page_size=2"
        "&created_after=2024-01-01T00:00:00Z",
        headers=auth,
    )
    assert resp.status_code == 200
    page = resp.get_json()
    assert len(page["items"]) == 2 and page["next_page_token"] == encode_cursor(2)
    sent = fake.last("ListContacts").request
    assert (sent.filter.region, sent.filter.tag, sent.filter.query) == ("north", "high intent", "zhang")
    assert sent.filter.created_after.ToJsonString() == "2024-01-01T00:00:00Z"
    assert sent.page.page_size == 2
    rest = client.get(f"/api/v1/contacts?page_size=2&page_token={page['next_page_token']}", headers=auth)
    assert len(rest.get_json()["items"]) == 1 and rest.get_json()["next_page_token"] == ""


def test_request_id_is_echoed_and_forwarded(client, auth, fake):
    resp = client.get("/api/v1/contacts", headers={**auth, "X-Request-Id": "req-123"})
    assert resp.headers["X-Request-Id"] == "req-123"
    assert fake.last("ListContacts").metadata["x-request-id"] == "req-123"
    minted = client.get("/api/v1/contacts", headers={**auth, "X-Request-Id": "bad id\u00e9" * 20})
    assert minted.headers["X-Request-Id"] not in ("", "bad id\u00e9" * 20)


def test_merge_tags_interactions_and_timeline(client, auth, fake):
    survivor = create(client, auth).get_json()
    other = create(client, auth, {**NEW_CONTACT, "emails": []}).get_json()
    base = f"/api/v1/contacts/{survivor['id']}"

    merged = client.post(f"{base}/merge", json={"merged_ids": [other["id"]]}, headers=auth)
    assert merged.status_code == 200 and merged.headers["ETag"] == '"2"'
    assert client.get(f"/api/v1/contacts/{other['id']}", headers=auth).status_code == 404

    tagged = client.post(f"{base}/tags", json={"add": ["vip"], "remove": ["high intent"]}, headers=auth)
    assert tagged.get_json()["tags"] == ["vip"]

    logged = client.post(f"{base}/interactions", headers=auth, json={
        "kind": "call", "occurred_at": "2025-03-01T09:30:00+08:00", "subject": "初次通话",
        "direction": "outbound", "duration_seconds": 300,
    })
    assert logged.status_code == 201
    assert logged.get_json()["contact_id"] == survivor["id"]
    assert logged.get_json()["occurred_at"] == "2025-03-01T01:30:00Z"

    timeline = client.get(f"{base}/timeline?page_size=10", headers=auth).get_json()
    assert [e["summary"] for e in timeline["items"]] == ["初次通话"]
    assert timeline["items"][0]["interaction"]["duration_seconds"] == 300


def test_find_duplicates_of_a_candidate(client, auth):
    existing = create(client, auth).get_json()
    resp = client.post("/api/v1/contacts/duplicates", headers=auth,
                       json={"name": "W. Zhang", "emails": [{"address": "zhang.wei@example.cn"}]})
    assert resp.status_code == 200
    assert [m["id"] for m in resp.get_json()["items"]] == [existing["id"]]


def test_accounts_crud_round_trip(client, auth, fake):
    resp = client.post("/api/v1/accounts", headers=auth,
                       json={"name": "北京数据科技有限公司", "industry": "I65", "level": "vip"})
    assert resp.status_code == 201 and resp.headers["ETag"] == '"1"'
    url = resp.headers["Location"]
    assert url.startswith("/api/v1/accounts/")
    patched = client.patch(url, json={"website": "https://bjdata.cn"}, headers={**auth, "If-Match": '"1"'})
    assert patched.get_json()["website"] == "https://bjdata.cn" and patched.headers["ETag"] == '"2"'
    listed = client.get("/api/v1/accounts?q=数据", headers=auth).get_json()
    assert [a["name"] for a in listed["items"]] == ["北京数据科技有限公司"]
    assert client.delete(url, headers={**auth, "If-Match": '"2"'}).status_code == 204


def test_custom_fields_and_customer_report(client, auth, backend):
    defined = client.post("/api/v1/custom-fields", headers=auth, json={
        "entity": "contact", "key": "budget", "label": "预算", "type": "number",
    })
    assert defined.status_code == 201
    listed = client.get("/api/v1/custom-fields?entity=contact", headers=auth).get_json()
    assert [d["key"] for d in listed["items"]] == ["budget"]
    assert client.get("/api/v1/custom-fields?entity=lead", headers=auth).status_code == 400

    report = client.get("/api/v1/reports/customers?from_day=2025-01-01&to_day=2025-01-31&region=south",
                        headers=auth)
    assert report.status_code == 200
    assert report.get_json()["total"] == 7
    assert report.get_json()["by_region"] == [{"key": "south", "count": 7}]
    assert backend.reporting.calls[-1].from_day == "2025-01-01"
