"""The document states what the gateway enforces, and the gateway does what the document states:
header formats, page tokens, required and empty query values, statuses, static paths."""
from __future__ import annotations

import re

import pytest

from crmkit.paging import encode_cursor


@pytest.fixture
def doc(client):
    return client.get("/api/v1/openapi.json").get_json()


def _param(op, name):
    return next(p for p in op["parameters"] if p["name"] == name)


def test_the_document_names_its_server_and_license_and_every_operation_has_a_4xx(doc):
    assert doc["servers"] and doc["info"]["license"]["name"]
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert [(p, m) for p, m, op in ops if not any(s.startswith("4") for s in op["responses"])] == []
    assert all("404" in op["responses"] for _, _, op in ops)  # a record the request names may not exist
    create_quote = doc["paths"]["/api/v1/quotes"]["post"]["responses"]
    assert {"404", "409", "413", "415"} <= set(create_quote)


def test_header_formats_in_the_document_are_the_ones_enforced(client, auth, doc, fake):
    delete = doc["paths"]["/api/v1/contacts/{id}"]["delete"]
    key = _param(delete, "Idempotency-Key")["schema"]["pattern"]
    if_match = _param(delete, "If-Match")["schema"]["pattern"]
    for value in ('"3"', "*"):
        assert re.search(if_match, value)
    for value in ('"0"', "3", 'W/"3"', ""):
        assert not re.search(if_match, value)
        resp = client.delete("/api/v1/contacts/c-1", headers={**auth, "If-Match": value})
        assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "If-Match"
    assert re.search(key, "a" * 200) and not re.search(key, "a" * 201) and not re.search(key, "a b")
    resp = client.post("/api/v1/contacts", json={"name": "x"}, headers={**auth, "Idempotency-Key": "a b"})
    assert resp.status_code == 400 and not fake.writes


def test_an_unusable_request_id_is_replaced_as_documented(client, auth, doc):
    described = _param(doc["paths"]["/api/v1/contacts"]["get"], "X-Request-Id")
    assert "replaced" in described["description"] and "maxLength" not in described["schema"]
    resp = client.get("/api/v1/contacts", headers={**auth, "X-Request-Id": "x" * 129})
    assert resp.status_code == 200 and len(resp.headers["X-Request-Id"]) == 32
    assert client.get("/api/v1/contacts", headers={**auth, "X-Request-Id": "abc-1"}).headers["X-Request-Id"] == "abc-1"


def test_page_tokens_the_document_admits_are_exactly_the_issued_ones(client, auth, doc):
    pattern = _param(doc["paths"]["/api/v1/contacts"]["get"], "page_token")["schema"]["pattern"]
    for seq in (0, 7, 42, 12345, 10**15):
        assert re.search(pattern, encode_cursor(seq))
    assert not re.search(pattern, "czk5OTk5OTk5OTk5OTk5OTk5OTk")  # 20 digits: past BIGINT
    resp = client.get("/api/v1/contacts", query_string={"page_token": "not-ours"}, headers=auth)
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "page_token"


def test_required_and_empty_query_values(client, auth, doc):
    q = _param(doc["paths"]["/api/v1/search/customers"]["get"], "q")
    assert q["required"] is True
    for query in ({}, {"q": ""}, {"q": "   "}):
        resp = client.get("/api/v1/search/customers", query_string=query, headers=auth)
        assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "q", query
    for name in ("created_after", "status"):  # a date-time, an enum: empty is not "absent"
        path = "/api/v1/contacts" if name == "created_after" else "/api/v1/leads"
        resp = client.get(path, query_string={name: ""}, headers=auth)
        assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == name
    for name in ("region", "level"):  # free text, a picklist (the tenant's keys): empty is "not given"
        assert client.get("/api/v1/contacts", query_string={name: ""}, headers=auth).status_code == 200


def test_a_static_path_is_not_a_record_of_its_sibling_collection(client, auth, fake):
    resp = client.patch("/api/v1/contacts/duplicates", json={"name": "x"}, headers=auth)
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST"
    resp = client.options("/api/v1/contacts/duplicates", headers=auth)
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST"
    assert not fake.calls
