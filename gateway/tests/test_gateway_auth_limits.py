"""Bearer tokens are checked by the gateway before any backend call; clients are rate limited."""
from __future__ import annotations

import pytest


def assert_401(resp) -> None:
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not.a.jwt"},
    ],
    ids=["missing", "basic", "empty", "garbage"],
)
def test_missing_or_malformed_token_is_401_and_no_backend_call(client, fake, headers):
    assert_401(client.get("/api/v1/contacts", headers=headers))
    assert_401(client.post("/api/v1/contacts", headers=headers, json={"name": "x"}))
    assert fake.calls == []


def test_token_signed_with_another_secret_is_401(client, fake, mint):
    resp = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {mint(secret='other-secret')}"})
    assert_401(resp)
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert fake.calls == []


def test_expired_token_is_401_saying_so(client, fake, mint):
    resp = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {mint(ttl=-120)}"})
    assert_401(resp)
    assert "expired" in resp.get_json()["detail"]
    assert fake.calls == []


def test_unknown_api_path_also_needs_a_token(client):
    assert_401(client.get("/api/v1/nothing-here"))


def test_public_endpoints_need_no_token(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_the_token_is_forwarded_to_the_backend(client, fake, token):
    client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"})
    assert fake.last("ListContacts").metadata["authorization"] == f"Bearer {token}"


def test_over_the_limit_is_429_with_retry_after(make_client, settings, fake, mint):
    client = make_client(settings, rate_limit_rps=0.5, rate_limit_burst=3)
    headers = {"Authorization": f"Bearer {mint('rep.north.1')}"}
    statuses = [client.get("/api/v1/contacts", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/v1/contacts", headers=headers)
    assert limited.mimetype == "application/problem+json"
    assert limited.headers["Retry-After"] == "2"  # one token per 2 s
    assert len(fake.calls) == 3
    # the limit is per client: another user still gets through
    other = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {mint('rep.north.2')}"})
    assert other.status_code == 200


def test_requests_without_a_valid_token_are_limited_by_address(make_client, settings):
    client = make_client(settings, rate_limit_rps=0.5, rate_limit_burst=2)
    statuses = [client.get("/api/v1/contacts", headers={"Authorization": "Bearer junk"}).status_code
                for _ in range(3)]
    assert statuses == [401, 401, 429]
