"""The transport floor under each HTTP server: bench/ping_app.py's /ping (a bare Flask route)
and /hop (the same plus one gRPC call to bench/idle_grpc_server.py, the least any proxied read
can cost), with the gateway's server settings (crm_gateway/server.py), all servers in one run,
their runs interleaved so that load from elsewhere on the machine lands on each alike.

    .venv/bin/python bench/floor.py                                # gunicorn and granian, defaults
    .venv/bin/python bench/floor.py --configs granian:4,granian:8,granian:16 --runs 3 --seconds 5

The CPU per request is read from /proc: the server (its main process and workers) and, for
/hop, the idle gRPC server."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from procs import cpu_seconds, tree_cpu  # noqa: E402
from wrk import WrkResult, run_wrk  # noqa: E402

from crm_gateway.server import ServerSettings  # noqa: E402
from crmkit.testing import free_port, port_open, wait_for  # noqa: E402

BENCH = Path(__file__).resolve().parent
CONNECTIONS = 16


@dataclass
class Floor:
    server: str
    workers: int
    threads: int
    pings: list[WrkResult] = field(default_factory=list)
    hops: list[WrkResult] = field(default_factory=list)
    ping_cpu: float = 0.0  # seconds, over all ping runs
    hop_server_cpu: float = 0.0
    hop_idle_cpu: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.server} {self.workers}×{self.threads}"

    @property
    def ping(self) -> WrkResult:
        return median_run(self.pings)

    @property
    def hop(self) -> WrkResult:
        return median_run(self.hops)

    def ping_cpu_us(self) -> float:
        return self.ping_cpu / max(1, sum(r.requests for r in self.pings)) * 1e6

    def hop_cpu_us(self) -> dict[str, float]:
        """CPU per /hop request: the HTTP server's and the idle gRPC server's, in µs."""
        n = max(1, sum(r.requests for r in self.hops))
        return {"server": self.hop_server_cpu / n * 1e6, "idle gRPC server": self.hop_idle_cpu / n * 1e6}

    def as_dict(self) -> dict[str, object]:
        return {"server": self.server, "workers": self.workers, "threads": self.threads,
                "ping": self.ping.__dict__, "hop": self.hop.__dict__, "ping_cpu_us": self.ping_cpu_us(),
                "hop_cpu_us": self.hop_cpu_us(), "hop_cpu_total_us": sum(self.hop_cpu_us().values())}


def median_run(runs: list[WrkResult]) -> WrkResult:
    """The run with the median throughput (its own latencies, not a mix of runs)."""
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def _start(server: str, threads: int | None, port: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Floor]:
    env = dict(env, GATEWAY_SERVER=server, GATEWAY_PORT=str(port), LOG_LEVEL="WARNING")
    if threads:
        env["GATEWAY_THREADS"] = str(threads)
    settings = ServerSettings.from_env(env)
    proc = subprocess.Popen([sys.executable, "-m", "crm_gateway.server", "--working-dir", str(BENCH), "ping_app:app"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, Floor(server, settings.workers, settings.threads)


def measure_floors(configs: list[tuple[str, int | None]], runs: int, seconds: int) -> list[Floor]:
    """One ping app per (server, threads or None for the default), one idle gRPC server."""
    hop_port = free_port()
    idle = subprocess.Popen([sys.executable, str(BENCH / "idle_grpc_server.py"), str(hop_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started: list[tuple[subprocess.Popen[bytes], Floor, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HOP_ADDR=f"127.0.0.1:{hop_port}", PROMETHEUS_MULTIPROC_DIR=tmp)
        try:
            for server, threads in configs:
                port = free_port()
                proc, floor = _start(server, threads, port, env)
                started.append((proc, floor, port))
            wait_for(lambda: port_open(hop_port) and all(port_open(p) for _, _, p in started), 30,
                     what="ping apps and idle gRPC server")
            for _, _, port in started:  # every worker's gRPC channel open before anything is timed
                for path in ("/ping", "/hop"):
                    run_wrk(f"http://127.0.0.1:{port}{path}", connections=CONNECTIONS, seconds=1)
            for _ in range(runs):
                for proc, floor, port in started:
                    before = tree_cpu(proc.pid)
                    floor.pings.append(run_wrk(f"http://127.0.0.1:{port}/ping", connections=CONNECTIONS,
                                               seconds=seconds))
                    floor.ping_cpu += tree_cpu(proc.pid) - before
                    before, idle_before = tree_cpu(proc.pid), cpu_seconds(idle.pid)
                    floor.hops.append(run_wrk(f"http://127.0.0.1:{port}/hop", connections=CONNECTIONS,
                                              seconds=seconds))
                    floor.hop_server_cpu += tree_cpu(proc.pid) - before
                    floor.hop_idle_cpu += cpu_seconds(idle.pid) - idle_before
        finally:
            for proc, _, _ in started:
                proc.terminate()
            for proc, _, _ in started:
                proc.wait(30)
            idle.terminate()
            idle.wait(10)
    return [floor for _, floor, _ in started]


def report_floors(floors: list[Floor], runs: int) -> None:
    width = 24
    print(f"Transport floor: bench/ping_app.py, wrk {CONNECTIONS} connections, median of {runs} runs")
    print(f"  {'':<34}" + "".join(f"{f.label:>{width}}" for f in floors))

    def line(name: str, cells: list[str]) -> None:
        print(f"  {name:<34}" + "".join(f"{c:>{width}}" for c in cells))

    line("/ping req/s  p50/p99 ms", [f"{f.ping.rps:,.0f}  {f.ping.p50_ms:.1f}/{f.ping.p99_ms:.1f}" for f in floors])
    line("/hop req/s  p50/p99 ms (the floor)", [f"{f.hop.rps:,.0f}  {f.hop.p50_ms:.1f}/{f.hop.p99_ms:.1f}" for f in floors])
    line("/ping CPU per request (µs)", [f"{f.ping_cpu_us():,.0f}" for f in floors])
    line("/hop CPU: server + idle gRPC (µs)", [
        f"{c['server']:,.0f} + {c['idle gRPC server']:,.0f} = {sum(c.values()):,.0f}"
        for c in (f.hop_cpu_us() for f in floors)])
    base = floors[0]
    line(f"/hop vs {base.label}", [f"{f.hop.rps / base.hop.rps:.2f}x" for f in floors])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="gunicorn,granian",
                        help="server[:threads], comma-separated (threads: the server's default when omitted)")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", "10")))
    args = parser.parse_args(argv)
    configs: list[tuple[str, int | None]] = []
    for item in args.configs.split(","):
        server, _, threads = item.strip().partition(":")
        configs.append((server, int(threads) if threads else None))
    started = time.perf_counter()
    report_floors(measure_floors(configs, max(1, args.runs), args.seconds), max(1, args.runs))
    print(f"(whole run {time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
