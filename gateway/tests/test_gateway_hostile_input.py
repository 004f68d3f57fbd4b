"""Input an attacker sends gets a 400 problem+json naming the field, before any backend call, on
every route including the unauthenticated public ones, and leaves no traceback in the log."""
from __future__ import annotations

import logging

import pytest

from crm.support.v1 import support_pb2 as spb


@pytest.fixture
def support_backend(recorder):
    return recorder(spb)


@pytest.fixture
def gw(make_client, settings, support_backend):
    return make_client(settings, optional_addrs={"support": support_backend.address}, max_body_bytes=64 * 1024)


def _problem(resp, field: str) -> str:
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    fields = [e["field"] for e in resp.get_json()["errors"]]
    assert field in fields, fields
    return resp.get_json()["detail"]


@pytest.mark.parametrize("route", ["/api/v1/public/tickets", "/api/v1/contacts", "/api/v1/inbound/chat"])
@pytest.mark.parametrize("doc", ["[" * 1000, '{"a":' * 1000, '{"name":' + "[" * 100 + "]" * 100 + "}"],
                         ids=["arrays", "objects", "in-a-field"])
def test_deeply_nested_json_is_400_not_a_server_error(gw, auth, fake, support_backend, caplog, route, doc):
    with caplog.at_level(logging.WARNING):
        resp = gw.post(route, data=doc, content_type="application/json", headers=auth)
    assert "nested deeper" in _problem(resp, "body")
    assert not fake.calls and not support_backend.calls
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_inbound_email_as_json_refuses_deep_nesting_too(gw, auth, support_backend):
    resp = gw.post("/api/v1/inbound/email", data="[" * 5000, content_type="application/json", headers=auth)
    _problem(resp, "body")
    assert not support_backend.calls


def test_nesting_inside_strings_does_not_count(gw, auth, fake):
    resp = gw.post("/api/v1/contacts", json={"name": "[" * 90 + "{" * 90}, headers=auth)
    assert resp.status_code == 201


@pytest.mark.parametrize("body, field", [
    ({"name": "张\x00伟"}, "name"),
    ({"name": "x", "phones": [{"raw": "138\x000013"}]}, "phones[0].raw"),
    ({"name": "x", "custom_fields": {"k": "v\x00"}}, "custom_fields.k"),
    ({"name": "x", "custom_fields": {"k\x00": "v"}}, "custom_fields"),
])
def test_nul_in_any_json_string_is_400_naming_the_field(gw, auth, fake, body, field):
    assert "NUL" in _problem(gw.post("/api/v1/contacts", json=body, headers=auth), field)
    assert not fake.calls


def test_nul_in_a_query_parameter_is_400_naming_it(gw, auth, fake, support_backend):
    _problem(gw.get("/api/v1/search/customers", query_string={"q": "华\x00为"}, headers=auth), "q")
    _problem(gw.get("/api/v1/contacts", query_string={"q": "\x00"}, headers=auth), "q")
    _problem(gw.get("/api/v1/public/kb/search", query_string={"q": "a\x00"}), "q")
    _problem(gw.get("/api/v1/contacts/a%00b", headers=auth), "id")
    assert not fake.calls and not support_backend.calls


def test_nul_in_a_form_post_is_400_naming_the_field(gw, support_backend):
    resp = gw.post("/api/v1/public/csat/tok/answer", data={"rating": "5", "comment": "好\x00"})
    _problem(resp, "comment")
    assert not support_backend.calls


@pytest.mark.parametrize("messages, field", [
    ([{}], "messages[0].text"),
    ([{"author": "customer", "text": "   "}], "messages[0].text"),
    ([], "messages"),
])
def test_a_chat_without_message_text_is_400_naming_it(gw, auth, support_backend, messages, field):
    resp = gw.post("/api/v1/inbound/chat", json={"conversation_id": "c-1", "messages": messages}, headers=auth)
    _problem(resp, field)
    assert not support_backend.calls


def test_a_chat_with_text_reaches_support(gw, auth, support_backend):
    resp = gw.post("/api/v1/inbound/chat", json={"conversation_id": "c-1", "messages": [{"text": "你好"}]},
                   headers=auth)
    assert resp.status_code in (200, 201)
    assert support_backend.calls[-1].request.messages[0].text == "你好"


def test_lists_and_texts_have_documented_maxima_enforced_naming_the_field(gw, auth, fake):
    from crmkit import limits

    doc = gw.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    contact = doc["ContactInput"]["properties"]
    assert contact["phones"]["maxItems"] == limits.MAX_PHONES
    assert contact["name"]["maxLength"] == limits.MAX_NAME
    assert contact["tags"]["maxItems"] == limits.MAX_TAGS
    assert contact["custom_fields"]["maxProperties"] == limits.MAX_CUSTOM_FIELDS
    assert doc["LeadImport"]["properties"]["csv"]["maxLength"] == limits.MAX_IMPORT_CSV
    phones = [{"raw": f"+86 139 0000 {i:04d}"} for i in range(limits.MAX_PHONES + 1)]
    detail = _problem(gw.post("/api/v1/contacts", json={"name": "x", "phones": phones}, headers=auth), "phones")
    assert f"at most {limits.MAX_PHONES}" in detail
    _problem(gw.post("/api/v1/contacts", json={"name": "x" * (limits.MAX_NAME + 1)}, headers=auth), "name")
    fields = {f"k{i}": i for i in range(limits.MAX_CUSTOM_FIELDS + 1)}
    _problem(gw.post("/api/v1/contacts", json={"name": "x", "custom_fields": fields}, headers=auth), "custom_fields")
    _problem(gw.post("/api/v1/contacts", json={"name": "x", "custom_fields": {"k" * 65: 1}}, headers=auth),
             "custom_fields." + "k" * 65)
    assert not fake.calls
