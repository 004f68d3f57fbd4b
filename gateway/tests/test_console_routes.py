"""The console beside the API: dev sign-in exists only where DEV_SIGN_IN_USERS_FILE enables it
(make run), the console's files are served at / with its runtime config, and unknown API paths
stay the API's problem+json 404. Also: the committed console/openapi.json is the current document."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import jwt
import pytest
from flask.testing import FlaskClient

from crm_devtools import openapi_dump
from crm_gateway.console import runtime_config
from crm_gateway.console_settings import ConsoleSettings, write_users_file
from crm_gateway.settings import GatewaySettings
from crmkit.auth import Principal
from crmkit.config import AuthSettings, ConfigError

USERS = [Principal("rep.north.1", ("rep",), "north-sales", "north", "张伟 Zhang Wei"),
         Principal("dpo.hq", ("dpo", "legal"), "hq", "", "数据保护官 DPO")]
BASE_ENV = {"CONTACTS_SERVICE_ADDR": "127.0.0.1:1", "REPORTING_SERVICE_ADDR": "127.0.0.1:2",
            "JWT_SECRET": "console-test-secret-0123456789abcdef"}


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    return write_users_file(tmp_path / "dev-users.json", USERS)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text("<!doctype html><title>console</title>")
    (d / "assets" / "index-abc.js").write_text("console.log(1)")
    return d


def _console(settings: GatewaySettings, users_file: Path | None = None, dist: Path | None = None) -> GatewaySettings:
    env = {"DEV_SIGN_IN_USERS_FILE": str(users_file or ""), "CONSOLE_DIST": str(dist or "")}
    return replace(settings, console=ConsoleSettings.from_env(env, settings.auth))


def test_dev_sign_in_is_404_when_not_enabled_as_in_production(
        make_client: Callable[..., FlaskClient], settings: GatewaySettings, auth: dict[str, str]) -> None:
    client = make_client(settings)
    assert client.get("/api/v1/dev/users", headers=auth).status_code == 404
    r = client.post("/api/v1/dev/sign-in", json={"user_id": "rep.north.1"}, headers=auth)
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    assert client.post("/api/v1/dev/sign-in", json={"user_id": "rep.north.1"}).status_code == 401  # no token minted
    assert "/api/v1/dev/users" not in client.get("/api/v1/openapi.json").get_json()["paths"]
    assert GatewaySettings.from_env(BASE_ENV).console.dev_users == ()  # off by default


def test_dev_sign_in_lists_the_demo_users_and_mints_their_token(
        make_client: Callable[..., FlaskClient], settings: GatewaySettings, users_file: Path) -> None:
    client = make_client(_console(settings, users_file))
    listed = client.get("/api/v1/dev/users")
    assert listed.status_code == 200
    assert [u["user_id"] for u in listed.get_json()["items"]] == ["rep.north.1", "dpo.hq"]
    assert listed.get_json()["items"][1]["roles"] == ["dpo", "legal"]
    signed = client.post("/api/v1/dev/sign-in", json={"user_id": "rep.north.1"})
    assert signed.status_code == 200
    claims = jwt.decode(signed.get_json()["access_token"], settings.auth.jwt_secret, algorithms=["HS256"])
    assert (claims["sub"], claims["roles"], claims["region"]) == ("rep.north.1", ["rep"], "north")
    assert "/api/v1/dev/sign-in" in client.get("/api/v1/openapi.json").get_json()["paths"]


def test_dev_sign_in_names_the_field_of_an_unknown_user(
        make_client: Callable[..., FlaskClient], settings: GatewaySettings, users_file: Path) -> None:
    client = make_client(_console(settings, users_file))
    for body in ({"user_id": "mallory"}, {}, {"user_id": "rep.north.1", "roles": ["admin"]}):
        r = client.post("/api/v1/dev/sign-in", json=body)
        assert r.status_code == 400, body
        assert r.get_json()["errors"][0]["field"] in ("user_id", "roles"), r.get_json()


def test_dev_sign_in_refuses_to_start_beside_an_oidc_provider(users_file: Path) -> None:
    oidc = AuthSettings(jwt_secret=None, jwks_url="https://idp.example/jwks", issuer=None, audience=None)
    with pytest.raises(ConfigError, match="DEV_SIGN_IN_USERS_FILE"):
        ConsoleSettings.from_env({"DEV_SIGN_IN_USERS_FILE": str(users_file)}, oidc)
    with pytest.raises(ConfigError, match="DEV_SIGN_IN_USERS_FILE"):
        ConsoleSettings.from_env({"DEV_SIGN_IN_USERS_FILE": str(users_file.parent / "missing.json")},
                                 GatewaySettings.from_env(BASE_ENV).auth)


def test_the_console_is_served_at_root_with_its_config_and_single_page_fallback(
        make_client: Callable[..., FlaskClient], settings: GatewaySettings, users_file: Path, dist: Path,
        auth: dict[str, str]) -> None:
    client = make_client(_console(settings, users_file, dist))
    for path in ("/", "/customers", "/customers/abc-123"):
        page = client.get(path)
        assert page.status_code == 200 and b"<title>console</title>" in page.data, path
        assert page.headers["Cache-Control"] == "no-cache"
    asset = client.get("/assets/index-abc.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["Cache-Control"]
    assert client.get("/console/config.json").get_json() == {"sign_in": "dev"}
    # the API's own paths stay the API's: problem+json 404s and 405s, never the console's page
    missing = client.get("/api/v1/no-such-thing", headers=auth)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert client.post("/api/v1/no-such-thing", json={}, headers=auth).status_code == 404
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/../../etc/passwd").data.startswith(b"<!doctype html>")  # never a file outside dist


def test_production_config_names_the_oidc_provider(dist: Path) -> None:
    env = {**BASE_ENV, "CONSOLE_DIST": str(dist), "CONSOLE_OIDC_AUTHORITY": "https://idp.example/realms/crm",
           "CONSOLE_OIDC_CLIENT_ID": "shuniu-console"}
    assert runtime_config(GatewaySettings.from_env(env).console) == {
        "sign_in": "oidc", "oidc": {"authority": "https://idp.example/realms/crm", "client_id": "shuniu-console"}}
    with pytest.raises(ConfigError, match="CONSOLE_DIST"):
        GatewaySettings.from_env({**BASE_ENV, "CONSOLE_DIST": str(dist / "nope")})


def test_the_committed_console_openapi_document_is_current() -> None:
    committed = json.loads(openapi_dump.DEFAULT_OUT.read_text(encoding="utf-8"))
    assert committed == json.loads(openapi_dump.render(openapi_dump.document())), \
        "console/openapi.json is stale: run `make console-api` (and commit src/api/schema.d.ts)"
