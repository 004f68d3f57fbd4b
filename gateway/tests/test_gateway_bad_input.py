"""Bad input is refused before any gRPC call, as problem+json naming the field, and the backend
receives no write."""
from __future__ import annotations

import pytest

GOOD = {"name": "李娜 Li Na", "emails": [{"address": "li.na@example.cn"}]}


def fields_of(resp) -> list[str]:
    assert resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert problem["status"] == resp.status_code
    assert problem["type"].startswith("urn:shuniu:problem:") and problem["title"] and problem["detail"]
    return [e["field"] for e in problem.get("errors", [])]


@pytest.mark.parametrize(
    ("case", "kwargs", "field"),
    [
        ("malformed JSON", {"data": b'{"name": "x",', "content_type": "application/json"}, "body"),
        ("NaN is not JSON", {"data": b'{"name": NaN}', "content_type": "application/json"}, "body"),
        ("empty body", {"data": b"", "content_type": "application/json"}, "body"),
        ("array instead of object", {"json": [GOOD]}, "body"),
        ("unknown field", {"json": {**GOOD, "shoe_size": 42}}, "shoe_size"),
        ("unknown nested field", {"json": {**GOOD, "phones": [{"number": "+861", "ext": "1"}]}},
         "phones[0].ext"),
        ("wrong type", {"json": {**GOOD, "emails": "not-a-list"}}, "emails"),
        ("wrong nested type", {"json": {**GOOD, "phones": [{"number": 13800138000}]}}, "phones[0].number"),
        ("map value not a string", {"json": {**GOOD, "social": {"wechat": 1}}}, "social.wechat"),
        ("null", {"json": {**GOOD, "title": None}}, "title"),
        ("server-owned id", {"json": {**GOOD, "id": "c-1"}}, "id"),
        ("server-owned version", {"json": {**GOOD, "version": 9}}, "version"),
        ("server-owned merged_into_id", {"json": {**GOOD, "merged_into_id": "c-2"}}, "merged_into_id"),
    ],
)
def test_bad_create_body_is_400_naming_the_field_and_nothing_is_written(client, auth, fake, case, kwargs, field):
    resp = client.post("/api/v1/contacts", headers=auth, **kwargs)
    assert resp.status_code == 400, (case, resp.get_json())
    assert field in fields_of(resp), (case, resp.get_json())
    assert fake.writes == []


def test_read_only_fields_say_so(client, auth, fake):
    resp = client.post("/api/v1/contacts", headers=auth, json={**GOOD, "created_at": "2025-01-01T00:00:00Z"})
    assert resp.get_json()["errors"] == [{"field": "created_at", "message": "is read-only; the server sets it"}]


def test_every_bad_field_is_reported_at_once(client, auth, fake):
    resp = client.post("/api/v1/contacts", headers=auth,
                       json={"name": 1, "tags": ["ok", 2], "level": True, "colour": "red"})
    assert sorted(fields_of(resp)) == ["colour", "level", "name", "tags[1]"]


def test_bad_timestamp_in_an_interaction_names_it(client, auth, fake):
    resp = client.post("/api/v1/contacts/c-1/interactions", headers=auth,
                       json={"kind": "call", "occurred_at": "yesterday"})
    assert resp.status_code == 400 and fields_of(resp) == ["occurred_at"]
    assert fake.writes == []


def test_int32_out_of_range_names_the_field(client, auth, fake):
    resp = client.post("/api/v1/contacts/c-1/interactions", headers=auth,
                       json={"kind": "call", "duration_seconds": 2**40})
    assert fields_of(resp) == ["duration_seconds"] and fake.writes == []


def test_body_over_max_body_bytes_is_413(client, auth, fake, settings):
    big = {**GOOD, "title": "x" * (settings.max_body_bytes + 1)}
    resp = client.post("/api/v1/contacts", headers=auth, json=big)
    assert resp.status_code == 413
    fields_of(resp)
    assert fake.writes == []


def test_non_json_content_type_is_415(client, auth, fake):
    resp = client.post("/api/v1/contacts", headers=auth, data="name=x",
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415 and fake.writes == []


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/api/v1/contacts?page_size=0", "page_size"),
        ("/api/v1/contacts?page_size=201", "page_size"),
        ("/api/v1/contacts?page_size=ten", "page_size"),
        ("/api/v1/contacts?created_after=2025-13-01", "created_after"),
        ("/api/v1/contacts?updated_since=yesterday", "updated_since"),
        ("/api/v1/contacts?colour=red", "colour"),
        ("/api/v1/contacts?region=north&region=south", "region"),
        ("/api/v1/accounts?account_id=a-1", "account_id"),
        ("/api/v1/reports/customers?from_day=2025-02-30", "from_day"),
        ("/api/v1/reports/customers?from_day=2025-02-01&to_day=2025-01-01", "to_day"),
    ],
)
def test_bad_query_parameter_is_400_naming_it(client, auth, fake, backend, url, param):
    resp = client.get(url, headers=auth)
    assert resp.status_code == 400
    assert fields_of(resp) == [param]
    assert fake.calls == [] and backend.reporting.calls == []


def test_bad_allow_duplicate_value_is_400(client, auth, fake):
    resp = client.post("/api/v1/contacts?allow_duplicate=maybe", headers=auth, json=GOOD)
    assert fields_of(resp) == ["allow_duplicate"] and fake.writes == []


@pytest.mark.parametrize("if_match", ["1", "W/\"1\"", '"abc"', '"1", "2"', '"0"'])
def test_malformed_if_match_is_400_and_nothing_changes(client, auth, fake, if_match):
    created = client.post("/api/v1/contacts", headers=auth, json=GOOD).get_json()
    fake.calls.clear()
    url = f"/api/v1/contacts/{created['id']}"
    patch = client.patch(url, headers={**auth, "If-Match": if_match}, json={"title": "CEO"})
    delete = client.delete(url, headers={**auth, "If-Match": if_match})
    assert patch.status_code == delete.status_code == 400
    assert fields_of(patch) == fields_of(delete) == ["If-Match"]
    assert fake.writes == []


def test_empty_patch_is_400(client, auth, fake):
    resp = client.patch("/api/v1/contacts/c-1", headers=auth, json={})
    assert fields_of(resp) == ["body"] and fake.writes == []


def test_idempotency_key_over_200_chars_is_400(client, auth, fake):
    resp = client.post("/api/v1/contacts", headers={**auth, "Idempotency-Key": "k" * 201}, json=GOOD)
    assert resp.status_code == 400 and fields_of(resp) == ["Idempotency-Key"]
    assert fake.writes == []
    ok = client.post("/api/v1/contacts", headers={**auth, "Idempotency-Key": "k" * 200}, json=GOOD)
    assert ok.status_code == 201


def test_merge_needs_at_least_one_id(client, auth, fake):
    assert fields_of(client.post("/api/v1/contacts/c-1/merge", headers=auth, json={})) == ["merged_ids"]
    assert fields_of(client.post("/api/v1/contacts/c-1/merge", headers=auth,
                                 json={"merged_ids": []})) == ["merged_ids"]
    assert fake.writes == []


def test_service_side_validation_names_the_field_from_trailers(client, auth, fake):
    resp = client.post("/api/v1/contacts", headers=auth,
                       json={**GOOD, "phones": [{"number": "+8613800138000"}, {"number": "12-34"}]})
    assert resp.status_code == 400
    assert resp.get_json()["errors"] == [
        {"field": "phones[1].number", "message": "'12-34' is not a phone number"}
    ]
