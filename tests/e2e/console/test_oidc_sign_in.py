"""Production sign-in, end to end: the whole suite in JWKS mode (no JWT_SECRET anywhere; the gateway
and every service check RS256 tokens against a real OIDC provider's keys, as deploy/ configures
them) and the console told by /console/config.json to sign in at that provider. A rep opens the
console, signs in on the provider's login page (authorization code + PKCE S256), lands on the
console as themself, sees their customer (the API called with the provider's token), and signs
out, which ends the provider's session too."""
from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from crm_devtools.devrun import Suite
from crm_devtools.users import DEMO_USERS
from crmkit.auth import SYSTEM
from crmkit.testing import wait_for
from tests.e2e.conftest import new_contact
from tests.e2e.console.conftest import Console
from tests.oidc_provider import OidcProvider, OidcUser

pytestmark = pytest.mark.e2e

CLIENT_ID = "shuniu-console"
AUDIENCE = "shuniu-crm"
REP = DEMO_USERS["rep.north.1"]
PASSWORD = secrets.token_urlsafe(12)


def stored_token(page: Page) -> str | None:
    """The console's token, read once the page has settled: the sign-in and sign-out redirects
    may still be landing when an assertion on the old page already passed."""
    for _ in range(50):
        try:
            page.wait_for_load_state("load")
            return page.evaluate("sessionStorage.getItem('shuniu.token')")
        except PlaywrightError as exc:
            if "Execution context was destroyed" not in str(exc):
                raise
            page.wait_for_timeout(100)
    raise AssertionError("the page kept navigating")


def claims_of(user: Any) -> dict[str, Any]:
    return {"sub": user.user_id, "name": user.name, "roles": list(user.roles), "team": user.team,
            "region": user.region}


@pytest.fixture(scope="module")
def oidc_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Suite, OidcProvider]]:
    var = Path(tmp_path_factory.mktemp("oidc-suite"))
    suite = Suite(var, free_ports=True, jwt_secret="unused-because-JWT_SECRET-is-emptied-below-0123456789")
    base = suite.gateway_url
    provider = OidcProvider(
        [OidcUser("wang.lei", PASSWORD, claims_of(REP)), OidcUser("system", secrets.token_urlsafe(12), claims_of(SYSTEM))],
        CLIENT_ID, [f"{base}/auth/callback"], [f"{base}/"], AUDIENCE, allowed_origins=[base]).start()
    # The services' own calls carry a token from the provider too (a client-credentials sidecar's file).
    service_token = var / "service-token"
    service_token.write_text(provider.token_for("system"))
    suite.extra_env.update({
        "JWT_SECRET": "", "JWT_JWKS_URL": provider.jwks_url, "JWT_ISSUER": provider.issuer, "JWT_AUDIENCE": AUDIENCE,
        "SERVICE_TOKEN_FILE": str(service_token), "DEV_SIGN_IN_USERS_FILE": "",
        "MARKETING_TOKEN_SECRET": secrets.token_urlsafe(32), "PRIVACY_SUPPRESSION_KEY": secrets.token_urlsafe(32),
        "CONSOLE_OIDC_AUTHORITY": provider.issuer, "CONSOLE_OIDC_CLIENT_ID": CLIENT_ID,
        "CONSOLE_OIDC_SCOPE": "openid profile",
        "RATE_LIMIT_RPS": "100000", "RATE_LIMIT_BURST": "100000",
    })
    suite.start()
    yield suite, provider
    suite.stop()
    provider.stop()


def claims_in(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_a_rep_signs_in_at_the_provider_uses_the_console_and_signs_out(browser: Any, oidc_suite: Any) -> None:
    suite, provider = oidc_suite
    base = suite.gateway_url
    assert requests.get(f"{base}/console/config.json", timeout=5).json() == {
        "sign_in": "oidc", "oidc": {"authority": provider.issuer, "client_id": CLIENT_ID, "scope": "openid profile"}}
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {provider.token_for('wang.lei')}"
    assert api.get(f"{base}/api/v1/dev/users", timeout=5).status_code == 404  # no demo picker here
    name = f"欧德{secrets.token_hex(3)}"
    created = api.post(f"{base}/api/v1/contacts", json=new_contact(name), timeout=10)
    assert created.status_code == 201, created.text  # gateway and contacts take the provider's RS256 token
    assert api.get(f"{base}/api/v1/contacts", timeout=10, headers={"Authorization": "Bearer forged.x.y"}).status_code == 401

    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1360, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    console = Console(page, base)
    try:
        console.goto("/customers")
        sign_in = page.get_by_role("button", name="使用组织账号登录")
        expect(sign_in).to_be_visible()
        console.check_a11y("sign-in-oidc")  # the sign-in page has no language switch: the browser's language
        console.screenshot("sign-in-oidc")

        page.get_by_role("button", name="使用组织账号登录").click()
        expect(page.get_by_role("heading", name="Sign in to the test identity provider")).to_be_visible()
        assert page.url.startswith(f"{provider.issuer}/authorize?")
        page.get_by_label("User name").fill("wang.lei")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
        page.get_by_label("User name").fill("wang.lei")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        # back on the console, where the rep asked to go, as themself
        expect(page.get_by_test_id("current-user")).to_contain_text(REP.name)
        expect(page).to_have_url(f"{base}/customers")
        token = stored_token(page)
        assert token is not None
        claims = claims_in(token)
        assert (claims["iss"], claims["aud"], claims["sub"], claims["roles"]) == (
            provider.issuer, AUDIENCE, REP.user_id, list(REP.roles))
        assert ("token", "wang.lei") in provider.log and ("pkce-refused", "wang.lei") not in provider.log
        # the console's calls carry that token: the rep's own customer is listed
        expect(page.get_by_text(name).first).to_be_visible()
        for lang in ("zh-CN", "en"):
            console.set_language(lang)
            console.check_a11y("customers-oidc")
            console.screenshot("customers-oidc")
        console.set_language("zh-CN")

        page.get_by_role("button", name="退出登录").click()
        # ended at the provider, with the ID token as the hint, and back on the console
        wait_for(lambda: ("logout-hint", "wang.lei") in provider.log, what="the provider's session ended")
        expect(page).to_have_url(re.compile("^" + re.escape(base) + "/"))
        expect(page.get_by_role("button", name="使用组织账号登录")).to_be_visible()
        assert stored_token(page) is None
        # the provider's session is over: signing in again asks for the password, no silent single sign-on
        page.get_by_role("button", name="使用组织账号登录").click()
        expect(page.get_by_role("heading", name="Sign in to the test identity provider")).to_be_visible()
        assert ("sso", "wang.lei") not in provider.log
    finally:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
