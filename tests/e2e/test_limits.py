"""The hardening a client meets through the gateway: a custom-field key in Chinese named in the
problem (it crosses gRPC percent-encoded), the documented maxima answered 400 naming the field,
and a page token nobody issued answered 400, on every service behind the gateway."""
from __future__ import annotations

import uuid

import pytest

from crmkit import limits
from tests.e2e.conftest import new_contact

pytestmark = pytest.mark.e2e

HUGE_TOKEN = "czk5OTk5OTk5OTk5OTk5OTk5OTk"


def _fields(r) -> list[str]:
    assert r.headers["Content-Type"].startswith("application/problem+json"), (r.status_code, r.text)
    return [e["field"] for e in r.json().get("errors", [])]


@pytest.mark.parametrize("collection", ["/contacts", "/accounts"])
def test_a_custom_field_key_in_chinese_is_named_as_written(api, collection):
    r = api("rep.north.1").post(collection, json={"name": f"键-{uuid.uuid4().hex[:6]}", "custom_fields": {"键": 1}})
    assert r.status_code == 400, r.text  # was 500: a non-ASCII gRPC trailer
    assert "custom_fields.键" in _fields(r)


def test_more_phones_than_documented_is_400_naming_phones(api):
    marker = f"phones-{uuid.uuid4().hex[:6]}"
    phones = [{"raw": f"+86 139{i:08d}"} for i in range(limits.MAX_PHONES + 1)]
    r = api("rep.north.1").post("/contacts", json=new_contact(marker, phones=phones))
    assert r.status_code == 400 and any(f.startswith("phones") for f in _fields(r)), r.text


@pytest.mark.parametrize("path", ["/contacts", "/accounts", "/leads", "/opportunities", "/tickets", "/campaigns"])
def test_a_huge_page_token_is_400_naming_page_token(api, path):
    r = api("manager.north").get(path, params={"page_token": HUGE_TOKEN})
    assert r.status_code == 400, (path, r.status_code, r.text)
    assert "page_token" in _fields(r)
