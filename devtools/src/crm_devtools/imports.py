"""`python -m crm_devtools.imports upload FILE [--entity ENTITY] ...` against the gateway: uploads
a CSV or xlsx file of contacts, accounts, leads, products or tickets as an import job, then
follows it with a progress bar (rows done, accepted, merged, rejected, rate, ETA) and saves the
report (the rejected rows, and the rows kept with a remark) when it has any.

    python -m crm_devtools.imports upload customers.csv --mapping mapping.json --source old-crm
    python -m crm_devtools.imports upload customers.xlsx --dry-run --user rep.north.1
    python -m crm_devtools.imports upload leads.csv --entity lead --on-duplicate merge
    python -m crm_devtools.imports upload tickets.xlsx --entity ticket --user agent.support
    python -m crm_devtools.imports status JOB_ID
    python -m crm_devtools.imports report JOB_ID -o report.csv

The token: --token, else CRM_TOKEN, else one minted for --user with the `make run` secret."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import requests

from crm_devtools.secret import read_secret
from crm_devtools.users import DEMO_USERS
from crmkit.auth import mint_token

REPO = Path(__file__).resolve().parents[3]
MEDIA = {".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _token(args: argparse.Namespace) -> str:
    token: str = args.token or os.environ.get("CRM_TOKEN", "")
    if token:
        return token
    secret = read_secret(REPO / "var")
    if secret is None:
        raise SystemExit("no token: pass --token or set CRM_TOKEN (or start `make run` once for its secret)")
    return mint_token(DEMO_USERS[args.user], secret)


def bar(job: dict[str, Any], width: int = 30) -> str:
    """One line of progress, e.g. `[#########.....]  3000/10000 ok 2990 merged 0 rejected 10 1500/s ETA 5s`."""
    total, done = int(job.get("rows_total", 0)), int(job.get("rows_done", 0))
    filled = width * done // total if total else (width if job.get("status") == "done" else 0)
    rate, eta = float(job.get("rows_per_second", 0)), float(job.get("eta_seconds", 0))
    return (f"[{'#' * filled}{'.' * (width - filled)}] {done:>9}/{total:<9} {job.get('status', ''):<9} "
            f"ok {int(job.get('accepted', 0))} merged {int(job.get('merged', 0))} "
            f"rejected {int(job.get('rejected', 0))} {rate:,.0f}/s ETA {eta:,.0f}s")


def follow(http: requests.Session, base: str, job_id: str, out: TextIO | None = None,
           interval: float = 0.5) -> dict[str, Any]:
    out = out or sys.stderr  # looked up per call: a default bound at import misses a redirected stderr
    while True:
        r = http.get(f"{base}/imports/{job_id}", timeout=30)
        r.raise_for_status()
        job: dict[str, Any] = r.json()
        out.write("\r" + bar(job))
        out.flush()
        if job["status"] in ("done", "failed"):
            out.write("\n")
            return job
        time.sleep(interval)


def _fail(r: requests.Response) -> int:
    print(f"{r.status_code}: {r.text}", file=sys.stderr)
    return 1


def _connection(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """Where and as whom: before the command, or after it (`upload FILE --user rep.north.1`, as the
    README writes it); after it, an option given overrides and one left out keeps the first's value."""
    def default(value: str) -> str:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--gateway", default=default(os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080")))
    parser.add_argument("--token", default=default(""))
    parser.add_argument("--user", default=default("admin"), choices=sorted(DEMO_USERS),
                        help="mint a token for this demo user")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m crm_devtools.imports", description="Imports of contacts, accounts, leads, products and tickets.")
    _connection(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upload", help="upload a file and follow the job")
    up.add_argument("file", type=Path)
    up.add_argument("--entity", default="contact", choices=("contact", "account", "lead", "product", "ticket"))
    up.add_argument("--mapping", type=Path, help="JSON: {\"columns\": {column: field}, \"values\": ...}")
    up.add_argument("--source", default="", help="where the file comes from: its mapping is remembered")
    up.add_argument("--dry-run", action="store_true", help="report every problem; write nothing")
    up.add_argument("--on-duplicate", default="flag", choices=("flag", "merge", "create"))
    up.add_argument("--report", type=Path, help="save the report here (default: FILE.report.csv)")
    up.add_argument("--no-wait", action="store_true")
    st = sub.add_parser("status", help="one job's progress")
    st.add_argument("job_id")
    rp = sub.add_parser("report", help="save a job's rejected rows (CSV)")
    rp.add_argument("job_id")
    rp.add_argument("-o", "--output", type=Path, required=True)
    ls = sub.add_parser("list", help="my import jobs, newest first")
    ls.add_argument("--entity", choices=("contact", "account", "lead", "product", "ticket"))
    ls.add_argument("--status", choices=("uploading", "queued", "running", "done", "failed"))
    ls.add_argument("--limit", type=int, default=20, help="how many (at most 200)")
    for command in (up, st, rp, ls):
        _connection(command, defaults=False)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    base = args.gateway.rstrip("/") + "/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {_token(args)}"
    if args.command == "status":
        r = http.get(f"{base}/imports/{args.job_id}", timeout=30)
        if not r.ok:
            return _fail(r)
        print(json.dumps(r.json(), ensure_ascii=False, indent=2))
        return 0
    if args.command == "report":
        return _save_report(http, base, args.job_id, args.output)
    if args.command == "list":
        return _list(http, base, args)
    params = {"entity": args.entity, "file_name": args.file.name, "on_duplicate": args.on_duplicate,
              "dry_run": "true" if args.dry_run else "false"}
    if args.source:
        params["source"] = args.source
    if args.mapping:
        params["mapping"] = json.dumps(json.loads(args.mapping.read_text(encoding="utf-8")), ensure_ascii=False)
    media = MEDIA.get(args.file.suffix.lower(), "application/octet-stream")
    with args.file.open("rb") as body:  # a file object: sent with its Content-Length, not held in memory
        r = http.post(f"{base}/imports", params=params, data=body, headers={"Content-Type": media}, timeout=600)
    if r.status_code not in (200, 202):
        return _fail(r)
    job = r.json()
    print(f"import {job['id']}" + (" (this file was imported before: that job)" if job.get("reused") else ""),
          file=sys.stderr)
    if args.no_wait:
        print(job["id"])
        return 0
    job = follow(http, base, job["id"])
    applied = [f"{column} → {field}" for column, field in (job.get("columns") or {}).items() if field]
    if applied:
        print(f"columns: {', '.join(applied)}", file=sys.stderr)
    if job.get("unmapped_columns"):
        print(f"columns not imported: {', '.join(job['unmapped_columns'])}", file=sys.stderr)
    if job["status"] == "failed":
        print(f"failed: {job.get('error', '')}", file=sys.stderr)
        return 1
    if int(job.get("rejected", 0)) or int(job.get("warnings", 0)):
        _save_report(http, base, job["id"], args.report or args.file.with_suffix(".report.csv"))
    return 0


def _list(http: requests.Session, base: str, args: argparse.Namespace) -> int:
    params = {"page_size": str(args.limit), **{k: getattr(args, k) for k in ("entity", "status") if getattr(args, k)}}
    r = http.get(f"{base}/imports", params=params, timeout=30)
    if not r.ok:
        return _fail(r)
    for job in r.json().get("items", []):
        print("\t".join([job["id"], job.get("entity", ""), job.get("file_name", ""), job.get("status", ""),
                         f"{job.get('rows_done', 0)}/{job.get('rows_total', 0)}",
                         f"accepted {job.get('accepted', 0)}", f"merged {job.get('merged', 0)}",
                         f"rejected {job.get('rejected', 0)}",
                         job.get("created_at", "")]))
    return 0


def _save_report(http: requests.Session, base: str, job_id: str, output: Path) -> int:
    r = http.get(f"{base}/imports/{job_id}/report", timeout=600)
    if not r.ok:
        return _fail(r)
    output.write_bytes(r.content)
    print(f"report (rejected rows with every reason, kept rows with every remark): {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
