"""Token verification as the gateway and every service do it: HS256 locally, RS256 + JWKS from
an OIDC provider in production (served here by a real local HTTP server)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from crm_devtools.users import DEMO_USERS
from crmkit.auth import Principal, TokenVerifier, mint_token
from crmkit.config import AuthSettings, ConfigError
from crmkit.errors import Unauthenticated

SECRET = "unit-test-secret-0123456789-0123456789"


def hs_verifier() -> TokenVerifier:
    return TokenVerifier(AuthSettings(SECRET, None, None, None))


def test_demo_token_round_trips_to_its_principal():
    principal = hs_verifier().verify(mint_token(DEMO_USERS["manager.north"], SECRET))
    assert principal == Principal("manager.north", ("manager",), "north-sales", "north", principal.name)
    assert principal.is_manager and not principal.is_admin


@pytest.mark.parametrize("token", [
    mint_token(DEMO_USERS["rep.north.1"], "another-secret-0123456789-0123456789"),
    mint_token(DEMO_USERS["rep.north.1"], SECRET, ttl_seconds=-120),
    "not.a.jwt",
])
def test_forged_expired_or_garbled_tokens_are_refused(token):
    with pytest.raises(Unauthenticated):
        hs_verifier().verify(token)


def test_settings_without_any_key_fail_fast_naming_the_variables():
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        AuthSettings.from_env({})


@pytest.fixture
def jwks_server():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def _rs_token(key: object, **claims: object) -> str:
    now = int(time.time())
    payload = {"sub": "oidc-user", "roles": ["rep"], "region": "south", "iat": now, "exp": now + 600,
               "iss": "https://idp.example", "aud": "shuniu"}
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


def test_rs256_token_from_the_oidc_provider_is_verified_with_its_jwks(jwks_server):
    key, url = jwks_server
    verifier = TokenVerifier(AuthSettings(None, url, "https://idp.example", "shuniu"))
    principal = verifier.verify(_rs_token(key))
    assert principal.user_id == "oidc-user" and principal.region == "south"
    with pytest.raises(Unauthenticated):
        verifier.verify(_rs_token(key, aud="someone-else"))
    with pytest.raises(Unauthenticated):  # an HS256 token must not pass where RS256 is expected
        verifier.verify(mint_token(DEMO_USERS["admin"], SECRET))
