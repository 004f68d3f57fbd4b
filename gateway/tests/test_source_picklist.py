"""`source` is one picklist for contacts, accounts and leads (proto/crm/common/v1/picklists.proto):
the document lists its keys on every input that takes one, and the gateway refuses anything else,
naming the field and the keys, before any service is called."""
from __future__ import annotations

from crmkit import picklists


def test_every_input_with_a_source_lists_the_shared_keys(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("ContactInput", "AccountInput", "LeadInput"):
        listed = [key for key in schemas[name]["properties"]["source"]["enum"] if key]
        assert listed == list(picklists.SOURCES), name


def test_an_unknown_source_is_refused_naming_the_keys_and_nothing_is_written(client, auth, fake):
    resp = client.post("/api/v1/contacts", json={"name": "李雷", "source": "Website"}, headers=auth)
    assert resp.status_code == 400
    [error] = resp.get_json()["errors"]
    assert error["field"] == "source" and "website, web_form, trade_show" in error["message"]
    assert not fake.writes
