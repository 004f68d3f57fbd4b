"""Where a request kind's CPU goes inside each process of the suite: the suite as `make bench`
starts it, seeded the same way, then one row's load (wrk) while every thread of every service is
profiled in CPU time (yappi, switched on and off by bench/profiling/sitecustomize.py).

    .venv/bin/python bench/profile_suite.py create_contact --procs contacts,marketing --seconds 10

Prints the CPU per request of each process (from /proc, as the bench's table: the profiler's own
cost included, so higher than `make bench`'s), then per process named the functions with the
most CPU, inclusive and own, as a share of that process's profiled CPU. The .pstat files are kept
under var/profiles/ with `--keep` (`python -m pstats FILE`, snakeviz, ...)."""
from __future__ import annotations

import argparse
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gateway_load import CONNECTIONS, rows, seed, suite_pids  # noqa: E402
from procs import cpu_of, wait_quiet  # noqa: E402
from wrk import run_wrk  # noqa: E402

from crm_devtools.devrun import REPO, Suite  # noqa: E402
from crm_devtools.users import DEMO_USERS  # noqa: E402
from crmkit.auth import mint_token  # noqa: E402

PROFILING = Path(__file__).parent / "profiling"


def _where(func: tuple[str, int, str]) -> str:
    path, line, name = func
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path}:{line})"


def summarize(files: list[Path], top: int) -> str:
    stats = pstats.Stats(*map(str, files))
    table = stats.stats  # type: ignore[attr-defined]  # {func: (cc, nc, tottime, cumtime, callers)}
    # Shares of the profiled CPU: the own times (C calls count in their caller's) add up to it.
    total = sum(v[2] for v in table.values())
    out = [f"  {total:.2f} s CPU profiled in {len(files)} process(es); inclusive shares can pass 100 %"
           " where a function sits on the stack of several threads (a thread's loop)"]
    for title, column in (("inclusive", 3), ("own", 2)):
        out.append(f"  -- {title}")
        ranked = sorted(table.items(), key=lambda kv: -kv[1][column])[:top]
        out += [f"  {v[column] / max(total, 1e-9):6.1%} {v[1]:>8} calls  {_where(f)}" for f, v in ranked]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("row", help="get | list | search | create_contact | create_lead | create_ticket")
    parser.add_argument("--procs", default="gateway,contacts", help="processes to print (suite names)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the .pstat files under var/profiles/")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        profiles = Path(tmp) / "profiles"
        profiles.mkdir()
        os.environ["CRM_PROFILE_DIR"] = str(profiles)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROFILING), os.environ.get("PYTHONPATH")]))
        suite = Suite(Path(tmp), free_ports=True, jwt_secret="bench-secret-0123456789-0123456789",
                      extra_env={"RATE_LIMIT_RPS": "1000000", "RATE_LIMIT_BURST": "1000000", "LOG_LEVEL": "WARNING"})
        suite.start()
        try:
            token = mint_token(DEMO_USERS["rep.north.1"], suite.jwt_secret)
            admin = mint_token(DEMO_USERS["admin"], suite.jwt_secret)
            ids = seed(suite.gateway_url, token, admin, 200)
            row = next(r for r in rows(suite.gateway_url, token, ids) if r.key == args.row)
            pids = suite_pids(suite)
            run_wrk(row.url, connections=CONNECTIONS, seconds=1, script=row.script)

            def sample() -> dict[str, float]:
                return cpu_of(pids)

            wait_quiet(sample)
            before = sample()
            switch = profiles / "on"
            switch.touch()
            time.sleep(0.5)  # every watch thread has seen it
            result = run_wrk(row.url, connections=CONNECTIONS, seconds=args.seconds, script=row.script)
            wait_quiet(sample)
            after = sample()
            switch.unlink()
            time.sleep(3)  # the profiles are saved
        finally:
            suite.stop()
        n = max(1, result.requests - result.errors)
        print(f"{row.name}: {result.rps:,.0f} req/s under py-spy, {n} requests")
        for name in sorted(after, key=lambda k: before.get(k, 0.0) - after[k]):
            print(f"  {name:<12} {(after[name] - before.get(name, 0.0)) / n * 1e6:8,.0f} µs CPU per request")
        for name in args.procs.split(","):
            files = sorted(profiles.glob(f"{name}-*.pstat"))
            print(f"\n== {name}")
            print(summarize(files, args.top) if files else "  (no profile)")
            if args.keep:
                keep = REPO / "var" / "profiles"
                keep.mkdir(parents=True, exist_ok=True)
                for f in files:
                    (keep / f"{args.row}-{f.name}").write_bytes(f.read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
