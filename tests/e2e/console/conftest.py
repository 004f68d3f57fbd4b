"""Browser tests of the web console: Playwright (Python) driving Debian's chromium against the
shared end-to-end suite (tests/e2e/conftest.py), which serves the built console at / with the
dev sign-in of the demo users. The console is built (npm ci + vite build, when stale) before the
suite starts, as soon as one of these tests is selected.

`console` is a page helper: sign in through the picker, switch language, check accessibility with
axe-core (serious and critical violations fail the test), save screenshots for review under
var/screenshots/<name>-<language>.png."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_devtools.console import CONSOLE, ConsoleBuildError, build_console
from crm_devtools.devrun import Suite

CHROMIUM = "/usr/bin/chromium"
# Debian's build, headless, and nothing phoning home (no update checks, sync or field trials).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = CONSOLE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
LANGUAGE_BUTTON = {"zh-CN": "中文", "en": "English"}
BLOCKING = ("serious", "critical")


BUILD_FAILURE: list[str] = []  # why the console could not be built, for the tests to report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    if any(Path(str(item.fspath)).is_relative_to(here) for item in items):
        try:
            build_console(say=lambda line: None)
        except ConsoleBuildError as exc:  # every other test of the session still runs
            BUILD_FAILURE.append(str(exc))


# Package scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, and later tests of the session (asyncio.run in the integration tests) would find it.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Console:
    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def sign_in(self, user: str) -> None:
        """Through the picker, as a person would: the gateway mints the token."""
        from playwright.sync_api import expect

        self.goto("/sign-in")
        self.page.locator(f"button[data-user='{user}']").click()
        expect(self.page.get_by_test_id("current-user")).to_be_visible()

    @property
    def language(self) -> str:
        return str(self.page.evaluate("document.documentElement.lang"))

    def set_language(self, lang: str) -> None:
        from playwright.sync_api import expect

        self.page.get_by_text(LANGUAGE_BUTTON[lang], exact=True).click()
        expect(self.page.locator(f"html[lang='{lang}']")).to_have_count(1)

    def check_a11y(self, name: str) -> None:
        """axe-core over the page as it is; serious or critical violations fail, named."""
        # A toast fading in or out is half-transparent for a moment (its text then fails contrast):
        # check the page once the transient notices are gone (antd shows them ~3 s).
        from playwright.sync_api import expect

        expect(self.page.locator(".ant-message-notice")).to_have_count(0, timeout=15_000)
        # Likewise a list reloading (antd dims it to half opacity under its spinner) and an element
        # mid-transition (a form error fading in): check the page as it settles, not a frame of it.
        expect(self.page.locator(".ant-spin-blur")).to_have_count(0, timeout=15_000)
        self.page.wait_for_function(
            "() => document.getAnimations().every(a => a.playState !== 'running'"
            " || (a.effect && a.effect.getTiming().iterations === Infinity))", timeout=15_000)
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
        blocking = [
            {"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [(n["target"], n.get("failureSummary", "")[:300]) for n in v["nodes"][:5]]}
            for v in result["violations"] if v["impact"] in BLOCKING
        ]
        assert blocking == [], f"{name} ({self.language}): " + json.dumps(blocking, ensure_ascii=False, indent=1)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{self.language}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def console(browser: Any, suite: Suite) -> Iterator[Console]:
    """A fresh browser context (no session) in Chinese, the console's default for zh browsers."""
    if BUILD_FAILURE:
        pytest.fail(BUILD_FAILURE[0])
    if suite.console_dist is None:
        pytest.fail("the suite serves no console: build it (make console-build)")
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1360, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield Console(page, suite.gateway_url)
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
