"""What the gateway does for the web console (console/): serve its built files at / (same origin
as the API, so no CORS), its runtime config at /console/config.json, and — only when
DEV_SIGN_IN_USERS_FILE names a file of demo users (`make run` writes one) — the dev sign-in
routes, where the gateway mints the token for a user picked from that list.

Production leaves both unset: the console image serves the files, the OIDC provider issues the
tokens, and /api/v1/dev/* does not exist (404)."""
from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask, Response, send_from_directory
from werkzeug.routing import PathConverter

from crm_gateway.console_settings import ConsoleSettings
from crm_gateway.problems import invalid_field
from crm_gateway.routing import API, Call, Route, json_response, state
from crmkit.auth import Principal, mint_token

DEV_TOKEN_TTL_SECONDS = 12 * 3600


class ConsolePath(PathConverter):
    """Any path but the API's and the operator endpoints': an unknown /api/v1/... stays the API's
    404 (or 405), never the console's page."""

    regex = r"(?!(?:api|healthz|readyz|backendz|metrics)(?:/|$))[^/].*?"


def _user_json(p: Principal) -> dict[str, Any]:
    return {"user_id": p.user_id, "name": p.name, "roles": list(p.roles), "team": p.team, "region": p.region}


def list_dev_users(c: Call) -> Response:
    return json_response({"items": [_user_json(u) for u in state().settings.console.dev_users]})


def dev_sign_in(c: Call) -> Response:
    st = state()
    wanted = c.body["user_id"]
    user = next((u for u in st.settings.console.dev_users if u.user_id == wanted), None)
    if user is None:
        raise invalid_field("user_id", "not a demo user of this gateway (GET /api/v1/dev/users lists them)")
    secret = st.settings.auth.jwt_secret or ""  # checked at start: dev users need the HS256 secret
    token = mint_token(user, secret, DEV_TOKEN_TTL_SECONDS)
    return json_response({"access_token": token, "token_type": "Bearer", "expires_in": DEV_TOKEN_TTL_SECONDS,
                          "user": _user_json(user)})


DEV_USER = {
    "type": "object",
    "properties": {
        "user_id": {"type": "string"}, "name": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "team": {"type": "string"}, "region": {"type": "string"},
    },
    "required": ["user_id", "name", "roles", "team", "region"],
    "additionalProperties": False,
}
SIGN_IN_INPUT = {
    "type": "object",
    "properties": {"user_id": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000]*$"}},
    "required": ["user_id"],
    "additionalProperties": False,
}
DEV_ROUTES: list[Route] = [
    Route("GET", f"{API}/dev/users", list_dev_users, "listDevUsers",
          "Demo users to sign in as (only where DEV_SIGN_IN_USERS_FILE is set: make run)", "dev",
          response={"type": "object", "properties": {"items": {"type": "array", "items": DEV_USER}},
                    "required": ["items"], "additionalProperties": False},
          public=True),
    Route("POST", f"{API}/dev/sign-in", dev_sign_in, "devSignIn",
          "A bearer token for a demo user, minted by this gateway (only where DEV_SIGN_IN_USERS_FILE is set)",
          "dev", body=SIGN_IN_INPUT,
          response={"type": "object", "properties": {
              "access_token": {"type": "string"}, "token_type": {"type": "string"},
              "expires_in": {"type": "integer"}, "user": DEV_USER},
              "required": ["access_token", "token_type", "expires_in", "user"], "additionalProperties": False},
          public=True),
]


def routes_for(settings: ConsoleSettings) -> list[Route]:
    return list(DEV_ROUTES) if settings.dev_users else []


def runtime_config(settings: ConsoleSettings) -> dict[str, Any]:
    """What the console reads at start: one build serves every environment."""
    if settings.dev_users:
        return {"sign_in": "dev"}
    return {"sign_in": "oidc", "oidc": dict(settings.oidc)}


def register(app: Flask, settings: ConsoleSettings) -> None:
    """Serve the built console at / with the single-page fallback (index.html for its own
    paths); nothing when CONSOLE_DIST is unset."""
    if not settings.dist:
        return
    dist = os.path.abspath(settings.dist)
    config = json.dumps(runtime_config(settings))

    def console_config() -> Response:
        return Response(config, mimetype="application/json", headers={"Cache-Control": "no-cache"})

    def console_file(path: str = "") -> Response:
        if path and os.path.isfile(os.path.join(dist, path)) and ".." not in path.split("/"):
            response = send_from_directory(dist, path)
            if path.startswith("assets/"):  # content-hashed names: cache for good
                response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            return response
        response = send_from_directory(dist, "index.html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    app.url_map.converters["console_path"] = ConsolePath
    app.add_url_rule("/console/config.json", "console_config", console_config, methods=["GET"])
    app.add_url_rule("/", "console_index", console_file, methods=["GET"])
    app.add_url_rule("/<console_path:path>", "console_file", console_file, methods=["GET"])
