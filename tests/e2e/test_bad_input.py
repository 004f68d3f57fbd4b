"""Bad input gets a 4xx problem+json naming the field, and nothing is written."""
from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import new_contact

pytestmark = pytest.mark.e2e


def _problem_fields(r) -> list[str]:
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == r.status_code and body["title"]
    return [e["field"] for e in body.get("errors", [])]


def _nothing_named(rep, marker: str) -> bool:
    r = rep.get("/contacts", params={"q": marker})
    assert r.status_code == 200
    return r.json()["items"] == []


@pytest.mark.parametrize(
    ("case", "send", "status", "field"),
    [
        ("malformed json", lambda m: {"data": b'{"name": "' + m.encode() + b'",'}, 400, "body"),
        ("unknown field", lambda m: {"json": {"name": m, "shoe_size": 42}}, 400, "shoe_size"),
        ("wrong type", lambda m: {"json": {"name": m, "emails": "not-a-list"}}, 400, "emails"),
        ("invalid phone", lambda m: {"json": new_contact(m, phones=[{"raw": "12-34"}])}, 400, "phones[0].number"),
        ("invalid email", lambda m: {"json": new_contact(m, emails=[{"address": "no-at-sign"}])}, 400,
         "emails[0].address"),
        ("bad level", lambda m: {"json": new_contact(m, level="platinum")}, 400, "level"),
    ],
)
def test_bad_contact_input_is_refused_naming_the_field(api, case, send, status, field):
    rep = api("rep.north.1")
    marker = f"bad-{uuid.uuid4().hex[:8]}"
    kwargs = send(marker)
    headers = {"Content-Type": "application/json"}
    r = rep.post("/contacts", headers=headers, **kwargs)
    assert r.status_code == status, (case, r.text)
    assert any(f == field or f.startswith(field) for f in _problem_fields(r)), (case, r.json())
    assert _nothing_named(rep, marker), f"{case}: something was written"


def test_oversized_body_is_refused_with_413(api):
    rep = api("rep.north.1")
    marker = f"big-{uuid.uuid4().hex[:8]}"
    r = rep.post("/contacts", json=new_contact(marker, title="x" * (2 * 1024 * 1024)))
    assert r.status_code == 413
    _problem_fields(r)
    assert _nothing_named(rep, marker)


def test_missing_token_is_401_problem(suite):
    import requests

    r = requests.get(f"{suite.gateway_url}/api/v1/contacts", timeout=5)
    assert r.status_code == 401
    assert "Bearer" in r.headers.get("WWW-Authenticate", "")
