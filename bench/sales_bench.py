"""Sales benchmark (issue 3): lead creation and opportunity stage-change throughput through the
gateway (HTTP, wrk) and straight over gRPC, as ratios of the gateway's create-contact measured in
the same run (target: sales writes at least as fast as create-contact), and the forecast p50/p99
over 100k opportunities (target: p99 <= 100 ms).

    .venv/bin/python bench/sales_bench.py                 # starts its own suite; about a minute
    .venv/bin/python bench/sales_bench.py --seconds 10 --opportunities 100000

The suite (nats-server, every service, the gateway) runs as processes on free ports over SQLite
in a temporary directory. The 100k opportunities are seeded straight into the sales database
through the store layer (seeding through the API would dominate the run); the forecast is then
asked over gRPC and through the gateway, one call at a time."""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import requests

ROOT = Path(__file__).resolve().parents[1]
for extra in ("gen/python", "libs/crmkit/src", "services/sales/src"):
    sys.path.insert(0, str(ROOT / extra))
sys.path.insert(0, str(ROOT / "bench"))

from wrk import WrkResult, auth_script, run_wrk  # noqa: E402

from crm.common.v1.types_pb2 import Money  # noqa: E402
from crm.sales.v1 import sales_pb2 as pb  # noqa: E402
from crm.sales.v1.sales_pb2_grpc import SalesServiceStub  # noqa: E402

TARGET_WRITE_RATIO = 1.0  # sales writes vs create-contact through the gateway
TARGET_FORECAST_P99_MS = 100.0
CONNECTIONS = 16
WRK_THREADS = 2
GRPC_WORKERS = 8
STAGE_OPPS = 600  # per wrk run, each moved forward, back, forward...
QUARTERS = (("2026-01-01", "2026-03-31"), ("2026-04-01", "2026-06-30"), ("2026-07-01", "2026-09-30"),
            ("2026-10-01", "2026-12-31"))
CONTACT_BODY = ('{"name":"压测客户 Load %d","emails":[{"address":"load%d@bench.example"}],'
                '"source":"website","level":"prospect","tags":["bench"]}')
LEAD_BODY = '{"name":"压测线索 %d","company":"基准制造 %d","industry":"manufacturing","region":"north"}'


def stage_script(token: str, ids: list[str]) -> str:
    """wrk Lua: each wrk thread walks its own share of the opportunities, moving each to
    needs_confirmed, then back to first_contact on the next pass, and so on, so that every
    request is a valid stage change and no two in flight touch the same opportunity. (wrk has been
    seen to build one request per run that it never sends; the next pass over that opportunity
    is then refused once, after which it is back in step: expect about one error per run.)"""
    quoted = ",".join(f'"{i}"' for i in ids)
    return f"""
local token = "Bearer {token}"
local ids = {{{quoted}}}
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
request = function()
  local per = math.floor(#ids / {WRK_THREADS})
  local i = (n % per) * {WRK_THREADS} + tid + 1
  local stage = (math.floor(n / per) % 2 == 0) and "needs_confirmed" or "first_contact"
  n = n + 1
  local headers = {{["Authorization"] = token, ["Content-Type"] = "application/json"}}
  return wrk.format("POST", "/api/v1/opportunities/" .. ids[i] .. "/stage", headers, '{{"stage":"' .. stage .. '"}}')
end
"""


def grpc_throughput(n: int, fn: Callable[[int], Any]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(GRPC_WORKERS) as pool:
        list(pool.map(fn, range(n)))
    return n / (time.perf_counter() - start)


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def seed_opportunities(database_url: str, n: int, seed: int = 11) -> None:
    from crm_sales.rules import pipeline
    from crm_sales.store import records
    from crmkit.db import Database

    rnd = random.Random(seed)
    stages = list(pipeline.DEFAULT_PIPELINE.stages)
    owners = [f"rep.{i}" for i in range(200)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    db = Database(database_url)
    try:
        for chunk in range(0, n, 5000):
            batch = []
            for _ in range(min(5000, n - chunk)):
                stage, o = rnd.choice(stages), rnd.randrange(len(owners))
                opp = pb.Opportunity(
                    id=str(uuid.uuid4()), name="seeded", pipeline_id="default", owner_id=owners[o],
                    team=f"team-{o % 10}", region="north", version=1,
                    amount=Money(currency_code="CNY", amount=f"{rnd.randrange(1_000, 2_000_000)}.{rnd.randrange(100):02d}"),
                    expected_close_date=(start + timedelta(days=rnd.randrange(365))).strftime("%Y-%m-%d"))
                opp.created_at.FromDatetime(start)
                opp.updated_at.FromDatetime(start)
                pipeline.enter_stage(opp, stage, start, owners[o])
                batch.append(opp)
            with db.unit_of_work() as uow:
                records.insert_many(uow.session, batch)
                uow.commit()
    finally:
        db.dispose()


def http_warmup(session: requests.Session, method: str, url: str, bodies: list[Any]) -> None:
    for body in bodies:
        session.request(method, url, json=body, timeout=10).raise_for_status()


def measure(suite: Any, seconds: int, rounds: int, opportunities: int, forecast_calls: int) -> dict[str, Any]:
    from crm_devtools.users import DEMO_USERS
    from crmkit.auth import mint_token

    base = suite.gateway_url
    rep = mint_token(DEMO_USERS["rep.north.1"], suite.jwt_secret)
    admin = mint_token(DEMO_USERS["admin"], suite.jwt_secret)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {rep}"
    stub = SalesServiceStub(grpc.insecure_channel(f"127.0.0.1:{suite.ports['sales'][0]}"))
    rep_md = [("authorization", f"Bearer {rep}")]
    admin_md = [("authorization", f"Bearer {admin}")]
    out: dict[str, Any] = {}

    # every worker's channels open before anything is timed
    http_warmup(http, "POST", f"{base}/api/v1/contacts?allow_duplicate=true",
                [{"name": f"warm {i}", "source": "website"} for i in range(20)])
    http_warmup(http, "POST", f"{base}/api/v1/leads", [{"name": f"warm {i}"} for i in range(20)])

    def wrk(path: str, script: str) -> WrkResult:
        return run_wrk(f"{base}{path}", connections=CONNECTIONS, threads=WRK_THREADS, seconds=seconds, script=script)

    def new_opp(i: int) -> str:  # contact set: needs_confirmed wants one
        request = pb.CreateOpportunityRequest(opportunity=pb.Opportunity(
            name=f"商机 {i}", contact_id="bench-contact", amount=Money(currency_code="CNY", amount="1000")))
        return str(stub.CreateOpportunity(request, metadata=rep_md, timeout=10).id)

    def fresh_opps(n: int) -> list[str]:
        with ThreadPoolExecutor(GRPC_WORKERS) as pool:
            return list(pool.map(new_opp, range(n)))

    warm = fresh_opps(1)[0]
    http_warmup(http, "POST", f"{base}/api/v1/opportunities/{warm}/stage",
                [{"stage": "needs_confirmed"}, {"stage": "first_contact"}])
    # Rounds of contact / lead / stage back to back, so that load from elsewhere on the machine
    # lands on all three alike; each round toggles a fresh set of opportunities.
    for name in ("gw_create_contact", "gw_create_lead", "gw_stage_change"):
        out[name] = []
    for _ in range(rounds):
        ids = fresh_opps(STAGE_OPPS)
        out["gw_create_contact"].append(wrk("/api/v1/contacts?allow_duplicate=true",
                                            auth_script(rep, method="POST", body_template=CONTACT_BODY)))
        out["gw_create_lead"].append(wrk("/api/v1/leads", auth_script(rep, method="POST", body_template=LEAD_BODY)))
        out["gw_stage_change"].append(wrk("/api/v1/opportunities/stage", stage_script(rep, ids)))

    # the same writes over gRPC, no gateway in between
    def grpc_lead(i: int) -> None:
        stub.CreateLead(pb.CreateLeadRequest(lead=pb.Lead(name=f"线索 {i}", company=f"公司 {i}",
                                                          industry="manufacturing")), metadata=rep_md, timeout=10)

    out["grpc_create_lead_rps"] = grpc_throughput(1500, grpc_lead)
    grpc_ids = fresh_opps(600)
    out["grpc_stage_change_rps"] = grpc_throughput(len(grpc_ids), lambda i: stub.ChangeStage(
        pb.ChangeStageRequest(id=grpc_ids[i], stage="needs_confirmed"), metadata=rep_md, timeout=10))

    if opportunities:
        t0 = time.perf_counter()
        seed_opportunities(suite.database_url("sales"), opportunities)
        out["seed_s"] = time.perf_counter() - t0
        latencies = []
        for i in range(forecast_calls):
            start, end = QUARTERS[i % 4]
            t = time.perf_counter()
            stub.GetForecast(pb.ForecastRequest(period_start=start, period_end=end, group_by="owner"),
                             metadata=admin_md, timeout=10)
            latencies.append((time.perf_counter() - t) * 1000)
        out["grpc_forecast_ms"] = percentiles(latencies)
        gateway_admin = requests.Session()
        gateway_admin.headers["Authorization"] = f"Bearer {admin}"
        latencies = []
        for i in range(max(1, forecast_calls // 2)):
            start, end = QUARTERS[i % 4]
            t = time.perf_counter()
            resp = gateway_admin.get(f"{base}/api/v1/sales/forecast", timeout=10, params={
                "period_start": start, "period_end": end, "group_by": "owner"})
            latencies.append((time.perf_counter() - t) * 1000)
            resp.raise_for_status()
        out["gw_forecast_ms"] = percentiles(latencies)
        out["forecast_rows"] = len(resp.json()["rows"])
        t = time.perf_counter()
        stub.GetForecast(pb.ForecastRequest(period_start="2026-01-01", period_end="2026-12-31", group_by="team"),
                         metadata=admin_md, timeout=30)
        out["forecast_full_year_ms"] = (time.perf_counter() - t) * 1000
    return out


def row(name: str, value: str, ratio: str = "", target: str = "") -> None:
    print(f"  {name:<46} {value:>18} {ratio:>12}   {target}")


def merged(runs: list[WrkResult]) -> WrkResult:
    return WrkResult(statistics.mean(r.rps for r in runs), statistics.median(r.p50_ms for r in runs),
                     statistics.median(r.p99_ms for r in runs), sum(r.errors for r in runs),
                     sum(r.requests for r in runs))


def report(f: dict[str, Any], seconds: int, opportunities: int) -> None:
    runs = f["gw_create_contact"]
    contact = merged(runs)
    print(f"sales benchmark — {len(runs)} rounds of wrk {CONNECTIONS} connections × {seconds}s per gateway "
          f"figure (mean req/s, median p50/p99; ratio: median of the per-round ratios), gRPC with {GRPC_WORKERS} threads")
    row("", "req/s  p50/p99 ms", "vs contact", "target")
    row("gateway POST /contacts (reference)", f"{contact.rps:,.0f}  {contact.p50_ms:.1f}/{contact.p99_ms:.1f}", "1.00x")
    for key, name in (("gw_create_lead", "gateway POST /leads"),
                      ("gw_stage_change", "gateway POST /opportunities/{id}/stage")):
        r = merged(f[key])
        ratio = round(statistics.median(x.rps / c.rps for x, c in zip(f[key], runs, strict=True)), 2)
        row(name, f"{r.rps:,.0f}  {r.p50_ms:.1f}/{r.p99_ms:.1f}", f"{ratio:.2f}x",
            f">= {TARGET_WRITE_RATIO:.2f}x {'met' if ratio >= TARGET_WRITE_RATIO else 'MISSED'}")
    row("gRPC CreateLead (no gateway)", f"{f['grpc_create_lead_rps']:,.0f}", f"{f['grpc_create_lead_rps'] / contact.rps:.2f}x")
    row("gRPC ChangeStage (no gateway)", f"{f['grpc_stage_change_rps']:,.0f}",
        f"{f['grpc_stage_change_rps'] / contact.rps:.2f}x")
    errors = {k: f"{merged(f[k]).errors}/{merged(f[k]).requests}"
              for k in ("gw_create_contact", "gw_create_lead", "gw_stage_change")}
    print(f"  (non-2xx or socket errors / requests: {errors})")
    print("  (wrk, the gateway and every service share this machine's cores: compare within one run, not across runs)")
    if "grpc_forecast_ms" in f:
        print(f"\nforecast over {opportunities:,} opportunities (one quarter, by owner: "
              f"{f['forecast_rows']} rows; seeded in {f['seed_s']:.1f}s)")
        row("", "p50/p99 ms", "p99/target", "target")
        for key, name in (("grpc_forecast_ms", "gRPC GetForecast"), ("gw_forecast_ms", "gateway GET /sales/forecast")):
            p50, p99 = f[key]
            row(name, f"{p50:.1f}/{p99:.1f}", f"{p99 / TARGET_FORECAST_P99_MS:.2f}",
                f"p99 <= {TARGET_FORECAST_P99_MS:.0f} ms {'met' if p99 <= TARGET_FORECAST_P99_MS else 'MISSED'}")
        row("gRPC GetForecast, whole year by team", f"{f['forecast_full_year_ms']:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=4, help="wrk duration per gateway figure and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--opportunities", type=int, default=100_000, help="seeded for the forecast (0: skip)")
    parser.add_argument("--forecast-calls", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)

    from crm_devtools.devrun import Suite

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        suite = Suite(Path(tmp), free_ports=True, jwt_secret="bench-secret-0123456789-0123456789",
                      extra_env={"RATE_LIMIT_RPS": "1000000", "RATE_LIMIT_BURST": "1000000", "LOG_LEVEL": "WARNING"})
        suite.start()
        try:
            figures = measure(suite, args.seconds, args.rounds, args.opportunities, args.forecast_calls)
        finally:
            suite.stop()
    report(figures, args.seconds, args.opportunities)
    print(f"\n(whole run {time.perf_counter() - started:.0f}s)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=lambda o: o.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
