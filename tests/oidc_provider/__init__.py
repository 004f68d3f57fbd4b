"""A small but real OpenID Connect provider for tests: what the console's production sign-in and the
gateway's JWKS mode meet in a real deployment (Keycloak, Authing, Azure AD ...), on a loopback port.

- discovery (`/.well-known/openid-configuration`) and the signing key set (`/jwks`);
- authorization code flow for a public client with PKCE: `/authorize` requires
  `code_challenge_method=S256`, shows a login page (user name + password), and redirects back to a
  registered `redirect_uri` with a one-time code; `/token` trades it only with the `code_verifier`
  whose SHA-256 is the challenge, for the same client and redirect URI, within a minute;
- RS256 ID token (audience: the client, the nonce sent) and access token (audience: the API's,
  `JWT_AUDIENCE`), both carrying the user's `sub`, `name`, `roles`, `team` and `region` claims, as the
  gateway and the services read them (crmkit.auth.TokenVerifier);
- single sign-on while its session cookie lives, and `/logout` (end_session_endpoint) that ends it
  and sends the browser to a registered `post_logout_redirect_uri`;
- CORS on discovery, keys and token (the browser calls them from the console's origin).

`OidcProvider(...).start()` serves it from a thread; `token_for(user)` issues an access token
directly, as a client-credentials grant would (the services' SERVICE_TOKEN_FILE)."""
from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, redirect, request
from werkzeug.serving import BaseWSGIServer, make_server

from crmkit.testing import free_port

CODE_TTL_SECONDS = 60
TOKEN_TTL_SECONDS = 3600
SESSION_COOKIE = "op_session"


@dataclass(frozen=True)
class OidcUser:
    username: str
    password: str
    claims: Mapping[str, Any]  # sub, name, roles, team, region


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    username: str
    nonce: str
    scope: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass
class OidcProvider:
    users: list[OidcUser]
    client_id: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    audience: str
    allowed_origins: list[str] = field(default_factory=list)
    port: int = 0
    # What happened, for the tests to assert on: ("login", user), ("token", user), ("logout", user) ...
    log: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self._grants: dict[str, _Grant] = {}
        self._sessions: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self.app = self._build()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    # -- tokens
    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def _user(self, username: str) -> OidcUser:
        return next(u for u in self.users if u.username == username)

    def token_for(self, username: str, *, audience: str | None = None, ttl: int = TOKEN_TTL_SECONDS) -> str:
        """An access token for the API, as the token endpoint issues it."""
        now = int(time.time())
        return self._sign({**self._user(username).claims, "iss": self.issuer, "aud": audience or self.audience,
                           "iat": now, "exp": now + ttl, "azp": self.client_id, "scope": "openid profile"})

    def _id_token(self, username: str, nonce: str) -> str:
        now = int(time.time())
        claims = {**self._user(username).claims, "iss": self.issuer, "aud": self.client_id, "iat": now,
                  "exp": now + TOKEN_TTL_SECONDS, "auth_time": now}
        if nonce:
            claims["nonce"] = nonce
        return self._sign(claims)

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()

        def whole(n: int) -> str:
            return _b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                          "n": whole(numbers.n), "e": whole(numbers.e)}]}

    # -- the HTTP side
    def _build(self) -> Flask:
        app = Flask("oidc-test-provider")

        def cors(response: Response) -> Response:
            origin = request.headers.get("Origin", "")
            if origin in self.allowed_origins:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
                response.headers["Access-Control-Allow-Methods"] = "GET, POST"
                response.headers["Vary"] = "Origin"
            return response

        def json_answer(body: Any, status: int = 200) -> Response:
            response = Response(json.dumps(body), status=status, mimetype="application/json",
                                headers={"Cache-Control": "no-store"})
            return cors(response)

        def oauth_error(error: str, description: str, status: int = 400) -> Response:
            return json_answer({"error": error, "error_description": description}, status)

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Response:
            base = self.issuer
            return json_answer({
                "issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks", "end_session_endpoint": f"{base}/logout",
                "response_types_supported": ["code"], "grant_types_supported": ["authorization_code"],
                "code_challenge_methods_supported": ["S256"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "profile"],
                "token_endpoint_auth_methods_supported": ["none"],
                "claims_supported": ["sub", "name", "roles", "team", "region"],
            })

        @app.get("/jwks")
        def keys() -> Response:
            return json_answer(self.jwks())

        @app.route("/token", methods=["OPTIONS"])
        @app.route("/.well-known/openid-configuration", methods=["OPTIONS"])
        @app.route("/jwks", methods=["OPTIONS"])
        def preflight() -> Response:
            return cors(Response(status=204))

        def authorize_problem() -> str | None:
            q = request.values
            if q.get("client_id") != self.client_id:
                return "unknown client_id"
            if q.get("redirect_uri") not in self.redirect_uris:
                return "redirect_uri is not registered for this client"
            if q.get("response_type") != "code":
                return "response_type must be code"
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return "PKCE with code_challenge_method=S256 is required"
            if "openid" not in q.get("scope", "").split():
                return "scope must include openid"
            return None

        def login_page(error: str = "", status: int = 200) -> Response:
            hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                             for k, v in request.values.items() if k not in ("username", "password"))
            alert = f'<p role="alert" id="error">{html.escape(error)}</p>' if error else ""
            body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test identity provider'
                    f'</title></head><body><main><h1>Sign in to the test identity provider</h1>{alert}'
                    f'<form method="post" action="/authorize">{hidden}'
                    f'<p><label for="username">User name</label> <input id="username" name="username" '
                    f'autocomplete="username"></p><p><label for="password">Password</label> '
                    f'<input id="password" name="password" type="password" autocomplete="current-password"></p>'
                    f'<button type="submit">Sign in</button></form></main></body></html>')
            return Response(body, status=status, mimetype="text/html")

        def back_with_code(username: str) -> Response:
            q = request.values
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._grants[code] = _Grant(q["client_id"], q["redirect_uri"], q["code_challenge"], username,
                                            q.get("nonce", ""), q.get("scope", ""), time.time() + CODE_TTL_SECONDS)
            params = {"code": code, **({"state": q["state"]} if q.get("state") else {})}
            return redirect(f"{q['redirect_uri']}?{urlencode(params)}", 302)

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Response:
            problem = authorize_problem()
            if problem:  # never redirect to an unchecked URI: say it here
                return Response(html.escape(problem), status=400, mimetype="text/plain")
            session_user = self._sessions.get(request.cookies.get(SESSION_COOKIE, ""))
            if request.method == "GET":
                if session_user and request.values.get("prompt") != "login":
                    self.log.append(("sso", session_user))
                    return back_with_code(session_user)
                return login_page()
            username, password = request.form.get("username", ""), request.form.get("password", "")
            user = next((u for u in self.users if u.username == username and u.password == password), None)
            if user is None:
                self.log.append(("login-refused", username))
                return login_page("Wrong user name or password", 401)
            self.log.append(("login", username))
            sid = secrets.token_urlsafe(16)
            self._sessions[sid] = username
            response = back_with_code(username)
            response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax")
            return response

        @app.post("/token")
        def token() -> Response:
            f = request.form
            if f.get("grant_type") != "authorization_code":
                return oauth_error("unsupported_grant_type", "only authorization_code")
            with self._lock:
                grant = self._grants.pop(f.get("code", ""), None)  # one use, whatever happens next
            if grant is None or grant.expires < time.time():
                return oauth_error("invalid_grant", "unknown, used or expired code")
            if f.get("client_id") != grant.client_id or f.get("redirect_uri") != grant.redirect_uri:
                return oauth_error("invalid_grant", "client_id or redirect_uri differ from the authorization's")
            verifier = f.get("code_verifier", "")
            if not (43 <= len(verifier) <= 128) or not secrets.compare_digest(s256(verifier), grant.challenge):
                self.log.append(("pkce-refused", grant.username))
                return oauth_error("invalid_grant", "code_verifier does not match the code_challenge (S256)")
            self.log.append(("token", grant.username))
            return json_answer({"access_token": self.token_for(grant.username), "token_type": "Bearer",
                                "expires_in": TOKEN_TTL_SECONDS, "scope": grant.scope,
                                "id_token": self._id_token(grant.username, grant.nonce)})

        @app.get("/logout")
        def logout() -> Response:
            target = request.args.get("post_logout_redirect_uri", "")
            if target and target not in self.post_logout_redirect_uris:
                return Response("post_logout_redirect_uri is not registered", status=400, mimetype="text/plain")
            user = self._sessions.pop(request.cookies.get(SESSION_COOKIE, ""), "")
            hint = request.args.get("id_token_hint", "")
            if hint:  # an ID token this provider issued to this client, or the request is refused
                try:
                    jwt.decode(hint, self._key.public_key(), algorithms=["RS256"], audience=self.client_id,
                               issuer=self.issuer, options={"verify_exp": False})
                except jwt.PyJWTError as exc:
                    return Response(f"id_token_hint: {exc}", status=400, mimetype="text/plain")
                self.log.append(("logout-hint", user))
            self.log.append(("logout", user))
            response = redirect(target, 302) if target else Response("Signed out", mimetype="text/plain")
            response.delete_cookie(SESSION_COOKIE)
            return response

        return app

    def start(self) -> OidcProvider:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, name="oidc-provider", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
