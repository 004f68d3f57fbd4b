"""Console benchmark (`make bench`, or `.venv/bin/python bench/console_bench.py`): the production
bundle's initial JavaScript gzipped (what a browser must fetch before anything shows), and on
loopback against the suite in Debian's chromium: the time from navigation to the first meaningful
screen (a signed-in rep's customer list with its rows), and from typing a query to its results
on screen (search as you type, debounce included). Figures are medians of BENCH_CONSOLE_RUNS."""
from __future__ import annotations

import gzip
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from crm_devtools.console import build_console
from crm_devtools.devrun import Suite
from crm_devtools.users import DEMO_USERS
from crmkit.auth import mint_token
from crmkit.testing import wait_for

RUNS = max(1, int(os.environ.get("BENCH_CONSOLE_RUNS", "5")))
TARGET_INITIAL_KB = 300.0
TARGET_SEARCH_MS = 150.0
SEARCH_DELAY_MS = 50  # the debounce of console/src/screens/customers/CustomerList.tsx
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SECRET = "bench-console-secret-0123456789-0123456789"


def initial_js(dist: Path) -> tuple[int, int, list[str]]:
    """Raw and gzipped bytes of the scripts index.html loads before the app runs (the entry and
    its modulepreloads; lazily loaded screens are not in it)."""
    html = (dist / "index.html").read_text()
    names = re.findall(r'<script[^>]+src="/([^"]+\.js)"', html) + re.findall(r'rel="modulepreload"[^>]+href="/([^"]+)"', html)
    raw = [(dist / n).read_bytes() for n in names]
    return sum(map(len, raw)), sum(len(gzip.compress(b, 6)) for b in raw), names


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rare_pair(rng: random.Random) -> str:
    return "".join(chr(rng.randint(0x5A00, 0x9F00)) for _ in range(2))


def seed(base: str, token: str, n: int) -> list[dict[str, str]]:
    """n customers of rep.north.1, each with its own two-character Chinese query."""
    rng = random.Random(7)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    made = []
    for i in range(n):
        q = rare_pair(rng)
        name = f"{q}{uuid.uuid4().hex[:4]}"
        r = http.post(f"{base}/api/v1/contacts", timeout=10, json={
            "name": name, "company_name": "北京小米科技有限责任公司", "source": "website", "level": "vip",
            "emails": [{"address": f"bench{i}.{uuid.uuid4().hex[:6]}@bench.example"}]})
        r.raise_for_status()
        made.append({"q": q, "name": name, "id": r.json()["id"]})
    for c in made:
        wait_for(lambda c=c: any(h["id"] == c["id"] for h in http.get(
            f"{base}/api/v1/search/customers", params={"q": c["q"]}, timeout=10).json()["items"]), 60,
            what="the search index")
    return made


WATCH = """(name) => { window.__seen = new Promise((done) => {
  const hit = () => [...document.querySelectorAll('tbody tr a')].some((a) => a.textContent === name);
  const obs = new MutationObserver(() => { if (hit()) { obs.disconnect(); done(performance.now()); } });
  obs.observe(document.body, { subtree: true, childList: true, characterData: true });
}); }"""


API_TIME = """() => { const calls = performance.getEntriesByType('resource')
  .filter((e) => e.name.includes('/api/v1/search/customers'));
  const last = calls[calls.length - 1]; return last ? last.responseEnd - last.startTime : -1; }"""


def measure(base: str, token: str, customers: list[dict[str, str]]) -> tuple[list[float], list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    first_screen, search, api = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for i in range(RUNS):
            context = browser.new_context(locale="zh-CN")  # a cold cache each run
            context.add_init_script(f"sessionStorage.setItem('shuniu.token', {token!r})")
            page = context.new_page()
            started = time.perf_counter()
            page.goto(f"{base}/customers")
            page.wait_for_selector("tbody tr.ant-table-row a")
            first_screen.append((time.perf_counter() - started) * 1000)
            c = customers[i % len(customers)]
            page.evaluate(WATCH, c["name"])
            t0 = page.evaluate("performance.now()")
            page.get_by_label("搜索客户").fill(c["q"])
            search.append(float(page.evaluate("window.__seen")) - float(t0))
            api.append(float(page.evaluate(API_TIME)))
            context.close()
        browser.close()
    return first_screen, search, api


def main() -> int:
    dist = build_console(say=lambda line: print(line, flush=True))
    raw, gz, names = initial_js(dist)
    print("Console")
    print(f"  initial JS ({len(names)} files)            {raw / 1024:>8.1f} KB raw {gz / 1024:>8.1f} KB gzipped"
          f"   <= {TARGET_INITIAL_KB:.0f} KB {verdict(gz / 1024 <= TARGET_INITIAL_KB)}")
    if not Path(CHROMIUM).exists():
        print(f"  {CHROMIUM} missing (make system-deps): no browser timings")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        suite = Suite(Path(tmp), free_ports=True, jwt_secret=SECRET, console_dist=dist,
                      extra_env={"RATE_LIMIT_RPS": "100000", "RATE_LIMIT_BURST": "100000", "LOG_LEVEL": "WARNING"})
        suite.start()
        try:
            token = mint_token(DEMO_USERS["rep.north.1"], SECRET)
            customers = seed(suite.gateway_url, token, 5)
            first, search, api = measure(suite.gateway_url, token, customers)
        finally:
            suite.stop()
    print(f"  first meaningful screen (customer list)  p50 {statistics.median(first):>6.0f} ms  max {max(first):>6.0f} ms"
          f"   cold cache, loopback, {RUNS} runs")
    print(f"  search as you type → results on screen   p50 {statistics.median(search):>6.0f} ms  max {max(search):>6.0f} ms"
          f"   <= {TARGET_SEARCH_MS:.0f} ms {verdict(statistics.median(search) <= TARGET_SEARCH_MS)}"
          f" (a small index here; bench/search_bench.py measures the engine at 1M)")
    print(f"    of which the API's answer               p50 {statistics.median(api):>6.0f} ms"
          f"   (the rest: {SEARCH_DELAY_MS} ms debounce, rendering)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
