"""Console benchmark (`make bench`, or `.venv/bin/python bench/console_bench.py`): the production
bundle's initial JavaScript gzipped (what a browser must fetch before anything shows), and on
loopback against the suite in Debian's chromium: the time from navigation to the first meaningful
screen (a signed-in rep's customer list with its rows), and from typing a query to its results
on screen (search as you type, debounce included). First-screen figures are medians of
BENCH_CONSOLE_RUNS.

    .venv/bin/python bench/console_bench.py                       # a few customers (make bench)
    .venv/bin/python bench/console_bench.py --customers 1000000   # the issue's figure (~15 min)
    .venv/bin/python bench/console_bench.py --customers 1000000 --keep /tmp/search1m
                                            # seeded and indexed once, reused by later runs

With --customers N (BENCH_CONSOLE_CUSTOMERS) contacts' database is seeded in bulk before the
suite starts (bench/console_seed.py: a shortcut past the API, no events), the service rebuilds
its search index from it at start, and the rep owns every --rep-every-th of them. Then, for a
two-character Chinese query and a Latin prefix, each BENCH_CONSOLE_SEARCHES distinct queries:
keystroke → results on screen in the browser, and where the time goes: the search engine alone
(the service's query on its index, opened read-only by this process), the API alone (HTTP
through the gateway), the request as the browser timed it, and the renderer's main-thread work
(script, style, layout: the DevTools protocol's Performance metrics) from keystroke to results.
--keep DIR keeps the seeded suite's data for the next run; --dist DIR times a console built
elsewhere (an older one, for a before/after against the same suite)."""
from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))

from console_seed import seed_database  # noqa: E402
from search_bench import CITIES, CN_INDUSTRY, CN_WORDS, EN_LAST, PINYIN  # noqa: E402

from crm_devtools.console import build_console  # noqa: E402
from crm_devtools.devrun import Suite  # noqa: E402
from crm_devtools.users import DEMO_USERS  # noqa: E402
from crmkit.auth import Principal, mint_token  # noqa: E402
from crmkit.testing import wait_for  # noqa: E402

RUNS = max(1, int(os.environ.get("BENCH_CONSOLE_RUNS", "5")))
SEARCHES = max(2, int(os.environ.get("BENCH_CONSOLE_SEARCHES", "20")))
TARGET_INITIAL_KB = 300.0
TARGET_SEARCH_MS = 150.0
PAGE_SIZE = 20  # the page of hits of console/src/screens/customers/useCustomerSearch.ts
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SECRET = "bench-console-secret-0123456789-0123456789"
REP = DEMO_USERS["rep.north.1"]
SEARCH_PATH = "/api/v1/search/customers"


def initial_js(dist: Path) -> tuple[int, int, list[str]]:
    """Raw and gzipped bytes of the scripts index.html loads before the app runs (the entry and
    its modulepreloads; lazily loaded screens are not in it)."""
    html = (dist / "index.html").read_text()
    names = re.findall(r'<script[^>]+src="/([^"]+\.js)"', html) + re.findall(r'rel="modulepreload"[^>]+href="/([^"]+)"', html)
    raw = [(dist / n).read_bytes() for n in names]
    return sum(map(len, raw)), sum(len(gzip.compress(b, 6)) for b in raw), names


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def rare_pair(rng: random.Random) -> str:
    return "".join(chr(rng.randint(0x5A00, 0x9F00)) for _ in range(2))


def seed(base: str, token: str, n: int) -> list[str]:
    """n customers of the rep created through the API, each with its own two-character Chinese
    query; returns the queries once each finds its customer."""
    rng = random.Random(7)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    made = []
    for i in range(n):
        q = rare_pair(rng)
        r = http.post(f"{base}/api/v1/contacts", timeout=10, json={
            "name": f"{q}{uuid.uuid4().hex[:4]}", "company_name": "北京小米科技有限责任公司", "source": "website",
            "level": "vip", "emails": [{"address": f"bench{i}.{uuid.uuid4().hex[:6]}@bench.example"}]})
        r.raise_for_status()
        made.append((q, r.json()["id"]))
    for q, cid in made:
        wait_for(lambda q=q, cid=cid: any(h["id"] == cid for h in http.get(
            f"{base}{SEARCH_PATH}", params={"q": q}, timeout=10).json()["items"]), 60, what="the search index")
    return [q for q, _ in made]


def scale_queries(per_kind: int) -> dict[str, list[str]]:
    """Distinct queries per kind, each finding many of a million customers (bench/search_bench.py's
    words): a company or city word of two characters, and the first three letters of a surname."""
    chinese = [w for w in dict.fromkeys(CN_WORDS + CN_INDUSTRY + CITIES) if len(w) == 2]
    latin = list(dict.fromkeys(w[:3].capitalize() for w in EN_LAST + PINYIN if len(w) >= 3))
    rng = random.Random(3)
    rng.shuffle(chinese)
    rng.shuffle(latin)
    return {"two-char Chinese (华为)": chinese[:per_kind], "Latin prefix (Zha)": latin[:per_kind]}


class Api:
    """The search as the console asks it, from Python: the API alone, no browser."""

    def __init__(self, base: str, token: str) -> None:
        self.url = f"{base}{SEARCH_PATH}"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def search(self, q: str) -> tuple[float, dict[str, Any]]:
        t0 = time.perf_counter()
        params: dict[str, str | int] = {"q": q, "kind": "contact", "limit": PAGE_SIZE, "offset": 0,
                                        "highlight": "false"}  # as the console asks
        r = self.http.get(self.url, params=params, timeout=30)
        elapsed = (time.perf_counter() - t0) * 1000
        r.raise_for_status()
        return elapsed, r.json()


def engine_timer(var: Path, rep: Principal) -> Callable[[str], float] | None:
    """The service's own query on its index, run in this process (tantivy readers need no lock:
    the service keeps writing it meanwhile). None when the index is not the embedded one."""
    from crm_contacts.rules.search_docs import SCHEMA, search_query
    from crmkit.search.embedded import EmbeddedSearchIndex

    root = var / "search"
    if not (root / SCHEMA.name / "CURRENT").exists():
        return None
    index = EmbeddedSearchIndex(SCHEMA, root, refresh_interval=None)
    index.ensure()

    def timed(q: str) -> float:
        query = search_query(rep, q, "contact", PAGE_SIZE, 0, highlight=False)  # as the console asks
        assert query is not None
        t0 = time.perf_counter()
        index.search(query)
        return (time.perf_counter() - t0) * 1000

    return timed


# The keystroke: the input event the search box gets (its timeStamp, on performance.now()'s clock;
# Playwright's own round trips before it are no part of what a rep waits for). Results on screen:
# the search's total is shown (search mode, answer in) and the first row is the API's first hit.
# The list shown before the query may hold the same name: the total is what tells the two apart
# (it renders in the same commit as the hits).
WATCH = """(name) => {
  window.__typed = new Promise((done) => document.addEventListener('input', (e) => done(e.timeStamp),
    { capture: true, once: true }));
  window.__seen = new Promise((done) => {
    const hit = () => {
      const first = document.querySelector('tbody tr.ant-table-row a');
      return document.querySelector('[data-testid=search-total]') !== null && first !== null && first.textContent === name;
    };
    const obs = new MutationObserver(() => { if (hit()) { obs.disconnect(); done(performance.now()); } });
    obs.observe(document.body, { subtree: true, childList: true, characterData: true });
  }); }"""


# The search request as the browser timed it: when it was sent, when its answer was in.
REQUEST_TIMES = """() => { const calls = performance.getEntriesByType('resource')
  .filter((e) => e.name.includes('/api/v1/search/customers'));
  const last = calls[calls.length - 1]; return last ? [last.startTime, last.responseEnd] : [-1, -1]; }"""


def browse(base: str, token: str, work: Callable[[Any], None]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            work((browser, base, token))
        finally:
            browser.close()


def first_screens(browser: Any, base: str, token: str) -> list[float]:
    out = []
    for _ in range(RUNS):
        context = browser.new_context(locale="zh-CN")  # a cold cache each run
        context.add_init_script(f"sessionStorage.setItem('shuniu.token', {token!r})")
        page = context.new_page()
        started = time.perf_counter()
        page.goto(f"{base}/customers")
        page.wait_for_selector("tbody tr.ant-table-row a")
        out.append((time.perf_counter() - started) * 1000)
        context.close()
    return out


# The renderer's main thread, busy (seconds since the page opened), from the DevTools protocol: its
# work per search is what a loaded machine stretches, whatever the other processes do meanwhile.
MAIN_THREAD = {"TaskDuration": "main thread busy (CPU), of which", "ScriptDuration": "  script",
               "RecalcStyleDuration": "  style recalculation", "LayoutDuration": "  layout"}


def main_thread(cdp: Any) -> dict[str, float]:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {name: float(metrics.get(name, 0.0)) for name in MAIN_THREAD}


def searches(browser: Any, base: str, token: str, queries: list[str], api: Api,
             engine: Callable[[str], float] | None) -> dict[str, list[float]]:
    """Per query: the engine alone, the API alone (which also names the first row to wait for),
    then the keystroke in the browser, on one signed-in page (a rep searching one customer after
    another); between two queries the box is cleared and the list comes back."""
    out: dict[str, list[float]] = {"screen": [], "browser_api": [], "api": [], "engine": [], "total": [],
                                   "to_request": [], "to_rows": [], **{name: [] for name in MAIN_THREAD}}
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(f"sessionStorage.setItem('shuniu.token', {token!r})")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(f"{base}/customers")
    page.wait_for_selector("tbody tr.ant-table-row a")
    box = page.get_by_label("搜索客户")
    for q in queries:
        if engine is not None:
            out["engine"].append(engine(q))
        api_ms, answer = api.search(q)
        out["api"].append(api_ms)
        out["total"].append(float(answer["total"]))
        if not answer["items"]:
            raise RuntimeError(f"the query {q!r} finds nothing for the rep: no result to wait for")
        page.evaluate(WATCH, answer["items"][0]["name"])
        before = main_thread(cdp)
        box.fill(q)
        t0 = float(page.evaluate("window.__typed"))
        seen = float(page.evaluate("window.__seen"))
        after = main_thread(cdp)
        for name in MAIN_THREAD:
            out[name].append((after[name] - before[name]) * 1000)
        sent, answered = (float(x) for x in page.evaluate(REQUEST_TIMES))
        out["screen"].append(seen - t0)
        out["browser_api"].append(answered - sent)
        out["to_request"].append(sent - t0)
        out["to_rows"].append(seen - answered)
        box.fill("")
        page.wait_for_selector("[data-testid=search-total]", state="detached")
        page.wait_for_selector("tbody tr.ant-table-row a")
        page.wait_for_function("!document.querySelector('[aria-busy=true]')")  # the list reloaded
    context.close()
    return out


def report_search(label: str, m: dict[str, list[float]]) -> None:
    screen = m["screen"]
    print(f"  {label:<26} keystroke → results on screen  p50 {statistics.median(screen):>6.0f} ms"
          f"  p95 {p95(screen):>6.0f} ms   <= {TARGET_SEARCH_MS:.0f} ms p50 {verdict(statistics.median(screen) <= TARGET_SEARCH_MS)},"
          f" p95 {verdict(p95(screen) <= TARGET_SEARCH_MS)}   ({len(screen)} queries, avg {statistics.mean(m['total']):,.0f} hits)")
    parts = [("keystroke → request sent", m["to_request"]),
             ("request → answer, as the browser timed it", m["browser_api"]),
             ("answer → its rows in the page (parse, render)", m["to_rows"]),
             ("  the same search, API alone (HTTP from Python)", m["api"]),
             ("  of which the search engine (in-process)", m["engine"])]
    parts += [(f"{label} from keystroke to results", m[name]) for name, label in MAIN_THREAD.items()]
    for name, values in parts:
        if values:
            print(f"    {name:<48} p50 {statistics.median(values):>6.1f} ms  p95 {p95(values):>6.1f} ms")


SEED_MARK = "console-seed.json"


def suite_dir(keep: str | None) -> contextlib.AbstractContextManager[str]:
    """The suite's data directory: a fresh temporary one, or --keep's, which outlives the run
    (databases and the search index with them) so the next run skips seeding and rebuilding."""
    if keep is None:
        return tempfile.TemporaryDirectory()
    Path(keep).mkdir(parents=True, exist_ok=True)
    return contextlib.nullcontext(keep)


def seeded_before(var: Path, customers: int, rep_every: int) -> bool:
    """Whether `var` holds a finished seed of this size (the mark is written after the last batch)."""
    mark = var / SEED_MARK
    if mark.exists():
        if json.loads(mark.read_text()) != {"customers": customers, "rep_every": rep_every}:
            raise SystemExit(f"{var} holds another seed ({mark.read_text().strip()}): use another --keep directory")
        return True
    if (var / "contacts.db").exists():
        raise SystemExit(f"{var} holds an unfinished seed (no {SEED_MARK}): remove it or use another --keep directory")
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=int(os.environ.get("BENCH_CONSOLE_CUSTOMERS", "0")),
                        help="contacts seeded in bulk before the suite starts (0: a few through the API)")
    parser.add_argument("--rep-every", type=int, default=10, help="the signed-in rep owns every n-th customer")
    parser.add_argument("--dist", metavar="DIR", help="time the console built in DIR (e.g. an older one) instead of building it")
    parser.add_argument("--keep", metavar="DIR", default=os.environ.get("BENCH_CONSOLE_KEEP"),
                        help="keep the suite's data (seeded database, search index) in DIR and reuse it next time")
    args = parser.parse_args()
    if args.keep and not args.customers:
        parser.error("--keep needs --customers (a seed worth keeping)")

    dist = Path(args.dist) if args.dist else build_console(say=lambda line: print(line, flush=True))
    raw, gz, names = initial_js(dist)
    print("Console")
    print(f"  initial JS ({len(names)} files)            {raw / 1024:>8.1f} KB raw {gz / 1024:>8.1f} KB gzipped"
          f"   <= {TARGET_INITIAL_KB:.0f} KB {verdict(gz / 1024 <= TARGET_INITIAL_KB)}")
    if not Path(CHROMIUM).exists():
        print(f"  {CHROMIUM} missing (make system-deps): no browser timings")
        return 0
    token = mint_token(REP, SECRET)
    results: dict[str, dict[str, list[float]]] = {}
    first: list[float] = []
    with suite_dir(args.keep) as tmp:
        suite = Suite(Path(tmp), free_ports=True, jwt_secret=SECRET, console_dist=dist,
                      extra_env={"RATE_LIMIT_RPS": "100000", "RATE_LIMIT_BURST": "100000", "LOG_LEVEL": "WARNING"})
        if args.customers and seeded_before(Path(tmp), args.customers, args.rep_every):
            print(f"  reusing the seed of {args.customers:,} contacts and its index in {tmp}", flush=True)
        elif args.customers:
            suite.migrate("contacts")
            seconds = seed_database(suite.database_url("contacts"), args.customers, REP, args.rep_every,
                                    say=lambda line: print(line, flush=True))
            print(f"  seeded {args.customers:,} contacts in bulk in {seconds:.0f} s (the rep owns"
                  f" {len(range(0, args.customers, args.rep_every)):,}); load {load()}", flush=True)
            if args.keep:
                (Path(tmp) / SEED_MARK).write_text(json.dumps({"customers": args.customers, "rep_every": args.rep_every}))
        started = time.perf_counter()
        suite.start()
        try:
            api = Api(suite.gateway_url, token)
            if args.customers:
                # The service rebuilds its index from the seeded rows at start (atomic swap): one
                # seeded customer found means all of them are.
                wait_for(lambda: api.search("科技")[1]["total"] > 0, 3600, interval=2.0,
                         what="contacts' search index rebuilt from the seeded rows")
                print(f"  suite up and index rebuilt by contacts in {time.perf_counter() - started:.0f} s", flush=True)
                queries = scale_queries(SEARCHES)
            else:
                queries = {"two-char Chinese (rare)": seed(suite.gateway_url, token, RUNS)}
            engine = engine_timer(Path(tmp), REP)

            def work(handle: Any) -> None:
                browser = handle[0]
                first.extend(first_screens(browser, suite.gateway_url, token))
                for label, qs in queries.items():
                    results[label] = searches(browser, suite.gateway_url, token, qs, api, engine)

            browse(suite.gateway_url, token, work)
        finally:
            suite.stop()
    size = f"{args.customers:,} customers, the rep owns 1 in {args.rep_every}" if args.customers else "a few customers"
    print(f"  ({size}; loopback; load average {load()} on {os.cpu_count()} cores shared with others: noisy)")
    print(f"  first meaningful screen (customer list)  p50 {statistics.median(first):>6.0f} ms  max {max(first):>6.0f} ms"
          f"   cold cache, loopback, {RUNS} runs")
    for label, m in results.items():
        report_search(label, m)
    if not args.customers:
        print("  (a small index here: --customers 1000000 for the issue's figure; bench/search_bench.py times the engine at 1M)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
