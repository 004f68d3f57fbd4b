"""The gateway's rows of `make bench`: what is seeded, what each wrk run sends, and the CPU each
process of the suite spends per request.

Reads go to realistic records: each seeded contact has three phones, three emails, two
addresses, five tags, four custom fields, social handles and preferences (about 2 KB of JSON), as
a CRM's contacts do, not a name and one email. Creates send what a form would send."""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
from procs import cpu_of, wait_quiet  # noqa: E402
from sales_bench import CONTACT_BODY, LEAD_BODY  # noqa: E402
from wrk import WrkResult, auth_script, run_wrk  # noqa: E402

from crm_devtools.devrun import Suite  # noqa: E402
from crmkit.testing import wait_for  # noqa: E402

CONNECTIONS = 16
CUSTOM_FIELDS = [
    {"entity": "contact", "key": "annual_budget", "label": "年度预算 Annual budget", "type": "number"},
    {"entity": "contact", "key": "contract_end", "label": "合同到期 Contract end", "type": "date"},
    {"entity": "contact", "key": "wechat_group", "label": "微信群 WeChat group", "type": "text"},
    {"entity": "contact", "key": "tier", "label": "客户等级 Tier", "type": "choice", "choices": ["A", "B", "C"]},
]
TICKET_BODY = ('{"subject":"压测工单 Bench ticket %d","description":"发票金额与合同不符，请核对。%d",'
               '"priority":"normal","type":"question","contact_id":"%s","tags":["bench"]}')


def realistic_contact(i: int) -> dict[str, Any]:
    return {
        "name": f"基准客户 Bench {i}", "title": "采购总监 Procurement director",
        "company_name": f"华东精密制造有限公司 Precision Mfg {i % 37}", "industry": "manufacturing",
        "source": "website", "level": "regular", "region": "north", "language": "zh-CN",
        "phones": [{"raw": f"+86 139 {i // 10000:04d} {i % 10000:04d}", "kind": "mobile"},
                   {"raw": f"+86 21 6{i % 1000:03d} {i % 10000:04d}", "kind": "work"},
                   {"raw": f"+86 21 5{i % 1000:03d} {i % 10000:04d}", "kind": "fax"}],
        "emails": [{"address": f"seed{i}@bench.example", "kind": "work"},
                   {"address": f"seed{i}.personal@mail.example", "kind": "personal"},
                   {"address": f"purchasing{i}@bench.example", "kind": "other"}],
        "addresses": [
            {"kind": "office", "country": "CN", "province": "上海市", "city": "上海市", "district": "浦东新区",
             "street": f"张江高科技园区碧波路 {i % 900 + 1} 号", "postal_code": "201203"},
            {"kind": "shipping", "country": "CN", "province": "江苏省", "city": "苏州市", "district": "工业园区",
             "street": f"星湖街 {i % 300 + 1} 号 3 号仓", "postal_code": "215021"}],
        "tags": ["bench", "key-account", "华东", "manufacturing", f"cohort-{i % 12}"],
        "social": {"wechat": f"bench_wx_{i}", "linkedin": f"in/bench-{i}"},
        "preferences": {"preferred_channel": "wechat", "contact_hours": "09:00-18:00"},
        "custom_fields": {"annual_budget": 250000 + i, "contract_end": "2027-06-30",
                          "wechat_group": f"华东采购群 {i % 9}", "tier": "ABC"[i % 3]},
    }


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def seed(base: str, token: str, admin_token: str, count: int) -> list[str]:
    """The custom-field definitions (an admin's), then `count` realistic contacts (the rep's own,
    so the rep sees them in lists and search)."""
    admin = _session(admin_token)
    for definition in CUSTOM_FIELDS:
        admin.post(f"{base}/api/v1/custom-fields", json=definition, timeout=10).raise_for_status()
    rep = _session(token)
    ids = []
    for i in range(count):
        r = rep.post(f"{base}/api/v1/contacts", json=realistic_contact(i), timeout=10)
        if r.status_code != 201:
            raise RuntimeError(f"seeding contact {i}: {r.status_code} {r.text}")
        ids.append(r.json()["id"])
    # search reads the index the outbox relay feeds, committed about once a second
    wait_for(lambda: rep.get(f"{base}/api/v1/search/customers", params={"q": f"Bench {count - 1}"},
                             timeout=10).json().get("total", 0) > 0, 30, interval=0.5, what="seeded contacts searchable")
    return ids


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    url: str
    script: str
    kind: str  # get | list | search | create: which target applies


def rows(base: str, token: str, ids: list[str]) -> list[Row]:
    get = auth_script(token, paths=[f"/api/v1/contacts/{i}" for i in ids])
    page = auth_script(token, paths=["/api/v1/contacts?page_size=10",
                                     "/api/v1/contacts?page_size=10&tag=key-account",
                                     "/api/v1/contacts?page_size=10&region=north"])
    search = auth_script(token, paths=[f"/api/v1/search/customers?q={q}&limit=10" for q in (
        "%E5%9F%BA%E5%87%86", "Bench", "seed1", "139%200000", "Precision", "%E5%8D%8E%E4%B8%9C")])
    ticket = TICKET_BODY.replace("%s", ids[0])
    return [
        Row("get", "GET /contacts/{id}", f"{base}/api/v1/contacts/{ids[0]}", get, "get"),
        Row("list", "GET /contacts (a page of 10)", f"{base}/api/v1/contacts", page, "list"),
        Row("search", "GET /search/customers (10 hits)", f"{base}/api/v1/search/customers", search, "search"),
        Row("create_contact", "POST /contacts", f"{base}/api/v1/contacts?allow_duplicate=true",
            auth_script(token, method="POST", body_template=CONTACT_BODY), "create"),
        Row("create_lead", "POST /leads", f"{base}/api/v1/leads",
            auth_script(token, method="POST", body_template=LEAD_BODY), "create"),
        Row("create_ticket", "POST /tickets", f"{base}/api/v1/tickets",
            auth_script(token, method="POST", body_template=ticket), "create"),
    ]


def suite_pids(suite: Suite) -> dict[str, int]:
    pids = {name: p.proc.pid for name, p in suite.procs.items() if p.proc is not None}
    if suite.nats.proc is not None:
        pids["nats-server"] = suite.nats.proc.pid
    return pids


def measured(suite: Suite, row: Row, runs: int, seconds: int) -> tuple[WrkResult, list[WrkResult], dict[str, float]]:
    """The median of `runs` runs, every run, and the CPU per request (µs) of each process (with its
    children: the gateway's workers) from the first run until the suite is quiet again, so the
    work an event causes later (relays, consumers) counts with the write that caused it."""
    pids = suite_pids(suite)

    def sample() -> dict[str, float]:
        return cpu_of(pids)

    run_wrk(row.url, connections=CONNECTIONS, seconds=1, script=row.script)  # warm every worker's channels
    wait_quiet(sample)
    before = sample()
    done = [run_wrk(row.url, connections=CONNECTIONS, seconds=seconds, script=row.script) for _ in range(runs)]
    wait_quiet(sample)
    after = sample()
    n = max(1, sum(r.requests - r.errors for r in done))
    per_request = {name: (after[name] - before.get(name, 0.0)) / n * 1e6 for name in after}
    return sorted(done, key=lambda r: r.rps)[len(done) // 2], done, per_request


def measure_rows(suite: Suite, token: str, admin_token: str, runs: int, seconds: int,
                 progress: Callable[[str], None] = print) -> dict[str, Any]:
    ids = seed(suite.gateway_url, token, admin_token, 200)
    out: dict[str, Any] = {}
    for row in rows(suite.gateway_url, token, ids):
        progress(f"  ... {row.name}")
        median, done, cpu = measured(suite, row, runs, seconds)
        out[row.key] = {"name": row.name, "kind": row.kind, "median": median, "runs": done, "cpu_us": cpu}
    return out
