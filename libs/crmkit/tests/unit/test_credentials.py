"""ServiceCredentials: the bearer token a service presents when no user asked."""
from __future__ import annotations

import os
from pathlib import Path

import jwt

from crmkit.auth import SYSTEM, Principal, TokenVerifier
from crmkit.config import AuthSettings
from crmkit.credentials import ServiceCredentials

SECRET = "credentials-test-secret-0123456789abcdef"


def settings(secret: str | None = SECRET, token_file: Path | None = None) -> AuthSettings:
    return AuthSettings(secret, None, None, None, str(token_file) if token_file else None)


def test_a_minted_token_verifies_and_carries_the_system_principal():
    credentials = ServiceCredentials(settings())
    token = credentials.token()
    assert TokenVerifier(settings()).verify(token) == SYSTEM
    assert credentials.authorization() == f"Bearer {token}"
    assert credentials.token() == token, "a fresh token is reused, not minted per call"
    assert credentials.available


def test_a_given_principal_is_carried():
    web_form = Principal("web-form", ("marketing",), "web", "", "public web form")
    token = ServiceCredentials(settings(), principal=web_form).token()
    assert TokenVerifier(settings()).verify(token) == web_form


def test_the_token_is_renewed_a_minute_before_it_expires(monkeypatch):
    now = [1_900_000_000.0]
    monkeypatch.setattr("crmkit.credentials.time.time", lambda: now[0])
    credentials = ServiceCredentials(settings(), ttl_seconds=600)
    first = credentials.token()
    now[0] += 530  # 70 s left: still good
    assert credentials.token() == first
    now[0] += 20  # 50 s left: renew
    renewed = credentials.token()
    assert renewed != first
    claims = [jwt.decode(t, options={"verify_signature": False}) for t in (first, renewed)]
    assert claims[1]["exp"] - claims[0]["exp"] == 550


def test_a_token_file_wins_and_is_re_read_when_it_changes(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text("token-one\n")
    credentials = ServiceCredentials(settings(token_file=token_file))
    assert credentials.token() == "token-one"
    assert credentials.authorization() == "Bearer token-one"
    token_file.write_text("token-two\n")
    stat = token_file.stat()
    os.utime(token_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert credentials.token() == "token-two"


def test_without_a_secret_or_a_file_there_is_no_token():
    credentials = ServiceCredentials(settings(secret=None))
    assert not credentials.available
    assert credentials.token() == "" and credentials.authorization() == ""
