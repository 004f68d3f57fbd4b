"""The test OIDC provider is strict where a real one is (PKCE S256, one-time codes, registered URIs),
and the gateway's JWKS mode (crmkit.auth.TokenVerifier, as JWT_JWKS_URL / JWT_ISSUER / JWT_AUDIENCE
configure it in deploy/) reads its access tokens as the user and roles it names."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from crmkit.auth import TokenVerifier
from crmkit.config import AuthSettings
from crmkit.errors import Unauthenticated
from tests.oidc_provider import OidcProvider, OidcUser, s256

CONSOLE = "http://127.0.0.1:1"
REP = OidcUser("rep", "pw-rep", {"sub": "rep.north.1", "name": "王磊", "roles": ["rep"], "team": "north-sales",
                                 "region": "north"})


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    p = OidcProvider([REP], "shuniu-console", [f"{CONSOLE}/auth/callback"], [f"{CONSOLE}/"], "shuniu-crm",
                     allowed_origins=[CONSOLE]).start()
    yield p
    p.stop()


def authorize(client, verifier: str, **extra: str):  # type: ignore[no-untyped-def]
    params = {"client_id": "shuniu-console", "redirect_uri": f"{CONSOLE}/auth/callback", "response_type": "code",
              "scope": "openid profile", "code_challenge": s256(verifier), "code_challenge_method": "S256",
              "state": "st-1", "nonce": "n-1", **extra}
    return client.post("/authorize", data={**params, "username": "rep", "password": "pw-rep"})


def code_of(answer) -> str:  # type: ignore[no-untyped-def]
    assert answer.status_code == 302, answer.get_data(as_text=True)
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(client, code: str, verifier: str):  # type: ignore[no-untyped-def]
    return client.post("/token", data={"grant_type": "authorization_code", "code": code, "client_id": "shuniu-console",
                                       "redirect_uri": f"{CONSOLE}/auth/callback", "code_verifier": verifier},
                       headers={"Origin": CONSOLE})


def test_a_code_is_traded_only_with_its_verifier_and_only_once(provider: OidcProvider) -> None:
    client = provider.app.test_client()
    verifier = secrets.token_urlsafe(48)
    code = code_of(authorize(client, verifier))
    wrong = exchange(client, code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_grant"
    code = code_of(authorize(client, verifier))
    good = exchange(client, code, verifier)
    assert good.status_code == 200 and good.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert {"access_token", "id_token"} <= set(good.get_json())
    assert exchange(client, code, verifier).status_code == 400  # used
    plain = client.get("/authorize", query_string={"client_id": "shuniu-console", "response_type": "code",
                                                   "redirect_uri": f"{CONSOLE}/auth/callback", "scope": "openid",
                                                   "code_challenge": verifier, "code_challenge_method": "plain"})
    assert plain.status_code == 400 and "S256" in plain.get_data(as_text=True)
    elsewhere = authorize(client, verifier, redirect_uri="http://evil.example/cb")
    assert elsewhere.status_code == 400 and "Location" not in elsewhere.headers
    bad_password = client.post("/authorize", data={"client_id": "shuniu-console", "response_type": "code",
                                                   "redirect_uri": f"{CONSOLE}/auth/callback", "scope": "openid",
                                                   "code_challenge": s256(verifier), "code_challenge_method": "S256",
                                                   "username": "rep", "password": "nope"})
    assert bad_password.status_code == 401 and "Wrong user name" in bad_password.get_data(as_text=True)


def test_the_gateways_jwks_mode_reads_the_provider_token_as_the_user_and_roles(provider: OidcProvider) -> None:
    client = provider.app.test_client()
    verifier = secrets.token_urlsafe(48)
    tokens = exchange(client, code_of(authorize(client, verifier)), verifier).get_json()
    settings = AuthSettings(None, provider.jwks_url, provider.issuer, "shuniu-crm")
    principal = TokenVerifier(settings).verify(tokens["access_token"])
    assert (principal.user_id, principal.roles, principal.team, principal.region, principal.name) == (
        "rep.north.1", ("rep",), "north-sales", "north", "王磊")
    with pytest.raises(Unauthenticated, match="(?i)audience"):  # the ID token is the console's, not the API's
        TokenVerifier(settings).verify(tokens["id_token"])
    with pytest.raises(Unauthenticated, match="(?i)issuer"):
        TokenVerifier(AuthSettings(None, provider.jwks_url, "https://other.example", "shuniu-crm")).verify(
            tokens["access_token"])
    # roles as one space-separated string (what some providers put in a custom claim) read the same
    spaced = OidcProvider([OidcUser("m", "x", {"sub": "manager.north", "roles": "manager rep"})], "c", [], [], "shuniu-crm")
    spaced_settings = AuthSettings(None, spaced.start().jwks_url, spaced.issuer, "shuniu-crm")
    try:
        assert TokenVerifier(spaced_settings).verify(spaced.token_for("m")).roles == ("manager", "rep")
    finally:
        spaced.stop()
