"""`make bench`: one run on this machine, every figure printed next to its target (met / MISSED).

1. the transport floor under the old server (gunicorn gthread) and the new one (granian), side
   by side in the same run (bench/floor.py): a bare Flask ping, and the same route plus one gRPC
   call to a server that does no work, with the CPU each spends per request;
2. the suite as processes, the gateway on its server (GATEWAY_SERVER, default granian): GET of a
   realistic contact, a page of 10, a customer search, create contact / lead / ticket; each
   throughput as a share of that server's floor, p99 against p50, and the CPU every process
   spent per request (bench/gateway_load.py), creates against the floor's CPU per request;
3. event lag (create acknowledged → counted in reporting) at ~200 writes/s, and the outbox
   relay's rate (bench/events_bench.py);
4. resident memory of every process at rest;
5. the sales, search and marketing benches, and the contacts import through the job (bench/import_bench.py,
   BENCH_IMPORT_ROWS rows, default 20,000; `bench/import_bench.py --rows 1000000` for the issue's figure).

Settings (environment):
- BENCH_SECONDS (10): length of each wrk run;
- BENCH_RUNS (3): runs per figure; each throughput is the median run. On two cores shared with
  everything else a single run moves by a quarter; the CPU per request moves much less, and it
  says where the time goes;
- BENCH_SKIP: comma-separated parts to leave out: sales, search, marketing, console, import (the slow sub-benches),
  lag, relay, shredding (CPU per contact create with and without sealing, bench/shredding_bench.py),
  reporting (every report over BENCH_REPORTING_ROWS opportunities and contacts, default 100,000;
  `bench/reporting_bench.py --rows 1000000 [--pg]` for the issue's figure).
A quick look: `BENCH_RUNS=1 BENCH_SECONDS=5 BENCH_SKIP=search,sales,marketing` (about two minutes; the
sales bench adds about one and a half)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from events_bench import measure_event_lag, measure_relay  # noqa: E402
from floor import Floor, measure_floors, report_floors  # noqa: E402
from gateway_load import CONNECTIONS, measure_rows  # noqa: E402
from procs import children, rss_mb  # noqa: E402

from crm_devtools.devrun import REPO, Suite  # noqa: E402
from crm_devtools.users import DEMO_USERS  # noqa: E402
from crm_gateway.server import ServerSettings  # noqa: E402
from crmkit.auth import mint_token  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
RUNS = max(1, int(os.environ.get("BENCH_RUNS", "3")))
TARGETS = {"get": 0.85, "list": 0.60, "search": 0.60, "p99_over_p50": 2.5, "create_cpu_over_floor": 2.5,
           "lag_p99_ms": 50.0, "relay_eps": 1000.0, "rss_mb": 150.0}


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def row(name: str, *cells: str) -> None:
    print(f"  {name:<34}" + "".join(f"{c:>14}" for c in cells[:-1]) + f"   {cells[-1] if cells else ''}")


def report_gateway(rows: dict[str, Any], floor: Floor) -> None:
    floor_cpu = sum(floor.hop_cpu_us().values())
    print(f"\nGateway on {floor.label} (HTTP → gRPC → SQLite), median of {RUNS} runs; targets against the "
          f"{floor.server} floor: {floor.hop.rps:,.0f} req/s, {floor_cpu:,.0f} µs CPU per request")
    row("", "req/s", "p50/p99 ms", "of floor", "CPU/req µs", "× floor CPU", "targets")
    for r in rows.values():
        m = r["median"]
        share, spread = m.rps / floor.hop.rps, m.p99_ms / max(0.001, m.p50_ms)
        cpu = sum(r["cpu_us"].values())
        targets = [f"p99 {spread:.1f}x p50 (<= {TARGETS['p99_over_p50']}x {verdict(spread <= TARGETS['p99_over_p50'])})"]
        if r["kind"] in ("get", "list", "search"):
            goal = TARGETS[r["kind"]]
            targets.insert(0, f"of floor >= {goal:.0%} {verdict(share >= goal)}")
        else:
            goal = TARGETS["create_cpu_over_floor"]
            targets.insert(0, f"CPU <= {goal}x floor {verdict(cpu <= goal * floor_cpu)}")
        row(r["name"], f"{m.rps:,.0f}", f"{m.p50_ms:.1f}/{m.p99_ms:.1f}", f"{share:.0%}", f"{cpu:,.0f}",
            f"{cpu / floor_cpu:.1f}x", "; ".join(targets))
    errors = {k: f"{sum(x.errors for x in r['runs'])}/{sum(x.requests for x in r['runs'])}" for k, r in rows.items()}
    print(f"  (non-2xx or socket errors / requests: {errors})")

    print("\nCPU per request by process (µs; all threads and workers, from /proc; creates include the"
          " events they cause, until the suite is quiet)")
    names = sorted({n for r in rows.values() for n in r["cpu_us"]},
                   key=lambda n: -sum(r["cpu_us"].get(n, 0.0) for r in rows.values()))
    row("", *[k.replace("create_", "new ") for k in rows], "")
    for name in names:
        row(name, *[f"{r['cpu_us'].get(name, 0.0):,.0f}" for r in rows.values()], "")
    row("total", *[f"{sum(r['cpu_us'].values()):,.0f}" for r in rows.values()], "")
    row(f"the floor ({floor.label}, server + idle)", *[f"{floor_cpu:,.0f}" for _ in rows], "")


def main() -> int:
    skip = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
    started = time.perf_counter()
    gateway_server = ServerSettings.from_env()
    print(f"Shuniu CRM benchmarks — {os.cpu_count()} cores, wrk {CONNECTIONS} connections, {SECONDS}s × {RUNS} "
          f"runs each\n", flush=True)
    floors = measure_floors([("gunicorn", None), ("granian", None)], RUNS, SECONDS)
    report_floors(floors, RUNS)
    floor = next(f for f in floors if f.server == gateway_server.server)
    results: dict[str, Any] = {"floors": [f.as_dict() for f in floors], "gateway_server": floor.label,
                               "runs": RUNS, "seconds": SECONDS}
    with tempfile.TemporaryDirectory() as tmp:
        suite = Suite(Path(tmp), free_ports=True, jwt_secret="bench-secret-0123456789-0123456789",
                      extra_env={"RATE_LIMIT_RPS": "1000000", "RATE_LIMIT_BURST": "1000000", "LOG_LEVEL": "WARNING"})
        suite.start()
        try:
            token = mint_token(DEMO_USERS["rep.north.1"], suite.jwt_secret)
            admin = mint_token(DEMO_USERS["admin"], suite.jwt_secret)
            print("\nmeasuring the gateway ...", flush=True)
            gateway_rows = measure_rows(suite, token, admin, RUNS, SECONDS)
            lag = measure_event_lag(suite, token) if "lag" not in skip else None
            time.sleep(3)
            rss = {name: rss_mb(p.proc.pid) for name, p in suite.procs.items() if p.proc}
            gw = suite.procs["gateway"].proc
            gateway_workers = [rss_mb(c) for c in children(gw.pid)] if gw else []
            relay = measure_relay(suite.nats.url) if "relay" not in skip else None
        finally:
            suite.stop()

    report_gateway(gateway_rows, floor)
    print("\nEvents")
    if lag:
        lag50, lag99, lag_n = lag
        row("lag create → reporting p50/p99 (ms)", f"{lag50:.1f}/{lag99:.1f}",
            f"p99 <= {TARGETS['lag_p99_ms']:.0f} ms at 200 writes/s ({lag_n} writes) {verdict(lag99 <= TARGETS['lag_p99_ms'])}")
    if relay:
        relay_eps, sequential_eps = relay
        row("outbox relay, pipelined (events/s)", f"{relay_eps:,.0f}",
            f">= 1,000/s {verdict(relay_eps >= TARGETS['relay_eps'])}")
        row("one awaited publish at a time (events/s)", f"{sequential_eps:,.0f}",
            f"pipelining gain {relay_eps / sequential_eps:.1f}x")
    print("\nResident memory at rest (MB)")
    for name, value in rss.items():
        extra = f" + workers {', '.join(f'{w:.0f}' for w in gateway_workers)}" if name == "gateway" else ""
        row(name, f"{value:.0f}{extra}", f"< {TARGETS['rss_mb']:.0f} MB {verdict(value < TARGETS['rss_mb'])}")

    rows_out = {k: {"name": r["name"], "median": r["median"].__dict__, "runs": [x.__dict__ for x in r["runs"]],
                    "cpu_us": r["cpu_us"], "cpu_total_us": sum(r["cpu_us"].values())} for k, r in gateway_rows.items()}
    results.update(
        rows=rows_out, transport_floor_rps=floor.hop.rps, ceiling_rps=floor.ping.rps,
        get=rows_out["get"]["median"], create=rows_out["create_contact"]["median"],
        get_cpu_us=rows_out["get"]["cpu_us"], create_cpu_us=rows_out["create_contact"]["cpu_us"],
        lag_ms=list(lag[:2]) if lag else None, relay_eps=relay[0] if relay else None,
        sequential_eps=relay[1] if relay else None, rss_mb=rss, gateway_workers_rss_mb=gateway_workers,
    )
    out = REPO / "var" / "bench-results.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    for name, script, args in (("sales", "sales_bench.py", []), ("search", "search_bench.py",
                               ["--sizes", os.environ.get("BENCH_SEARCH_SIZES", "100000,1000000")]),
                               ("marketing", "marketing_bench.py", []), ("console", "console_bench.py", []),
                               ("import", "import_bench.py", ["--rows", os.environ.get("BENCH_IMPORT_ROWS", "20000")]),
                               ("shredding", "shredding_bench.py", []),
                               ("reporting", "reporting_bench.py",
                                ["--rows", os.environ.get("BENCH_REPORTING_ROWS", "100000")])):
        path = REPO / "bench" / script
        if name not in skip and path.exists():
            print(f"\n== {name} ==", flush=True)
            subprocess.run([sys.executable, str(path), *args], check=False)
    print(f"\nraw figures: {out}\n(whole run {time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
