"""A large CSV export through the gateway: rows per second and the gateway's peak resident memory.

The gateway runs as it does in production (`python -m crm_gateway`, one worker here so one
process's memory is measured); sales is a gRPC server in this process that makes EXPORT_ROWS
opportunities (50,000 by default) on the fly, a page of 200 per call, so the figure is the
gateway's: paging through the list RPC, formatting the cells, streaming the CSV. The memory is
sampled every 50 ms while the file downloads: flat means the peak stays near the idle gateway's,
whatever the row count (compare EXPORT_ROWS=5000 with the default).

    .venv/bin/python bench/export_bench.py       # or EXPORT_ROWS=200000 EXPORT_FORMAT=xlsx"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
from procs import children, rss_mb  # noqa: E402

from crm.common.v1 import types_pb2 as common  # noqa: E402
from crm.sales.v1 import sales_pb2 as pb  # noqa: E402
from crm.sales.v1 import sales_pb2_grpc  # noqa: E402
from crmkit.auth import Principal, TokenVerifier, mint_token  # noqa: E402
from crmkit.config import AuthSettings  # noqa: E402
from crmkit.grpc_server import GrpcServer  # noqa: E402

SECRET = "export-bench-secret-0123456789abcdef"
ROWS = int(os.environ.get("EXPORT_ROWS", "50000"))
FORMAT = os.environ.get("EXPORT_FORMAT", "csv")


class GeneratedSales(sales_pb2_grpc.SalesServiceServicer):
    def ListOpportunities(self, request: Any, context: Any) -> Any:
        start = int(request.page.page_token or 0)
        end = min(start + (request.page.page_size or 50), ROWS)
        answer = pb.ListOpportunitiesResponse()
        for i in range(start, end):
            opp = answer.opportunities.add(
                id=f"opp-{i:08d}", name=f"华东区 智能制造升级项目 {i}", account_id=f"acc-{i % 997}",
                account_name="上海某某精密机械有限公司", stage="proposal", status="open", owner_id="rep.north.1",
                team="north-sales", region="north", expected_close_date="2026-09-30", probability=60,
                amount=common.Money(amount=f"{i % 100000}.50", currency_code="CNY"), competitors=["甲公司", "乙公司"],
                next_step="安排技术交流, 提交方案")
            opp.created_at.FromJsonString("2026-01-02T03:04:05Z")
        answer.page.next_page_token = str(end) if end < ROWS else ""
        return answer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    auth = AuthSettings(jwt_secret=SECRET, jwks_url=None, issuer=None, audience=None)
    sales = GrpcServer(service="sales", port=0, host="127.0.0.1", verifier=TokenVerifier(auth),
                       registrations=[lambda s: sales_pb2_grpc.add_SalesServiceServicer_to_server(GeneratedSales(), s)],
                       service_names=["crm.sales.v1.SalesService"], max_workers=4).start()
    addr, port = f"127.0.0.1:{sales.port}", free_port()
    env = {**os.environ, "JWT_SECRET": SECRET, "CONTACTS_SERVICE_ADDR": addr, "REPORTING_SERVICE_ADDR": addr,
           "SALES_SERVICE_ADDR": addr, "GATEWAY_PORT": str(port), "GATEWAY_WORKERS": "1", "LOG_LEVEL": "WARNING",
           "RATE_LIMIT_RPS": "0"}
    gateway = subprocess.Popen([sys.executable, "-m", "crm_gateway"], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the gateway did not start")
            time.sleep(0.2)
        token = mint_token(Principal("rep.north.1", ("rep",), "north-sales", "north"), SECRET)
        pids = lambda: [gateway.pid, *children(gateway.pid)]  # noqa: E731  (granian's worker is a child)
        idle = sum(rss_mb(p) for p in pids())
        peak = [idle]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], sum(rss_mb(p) for p in pids()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        size = lines = 0
        with requests.get(f"{base}/api/v1/opportunities/export", params={"format": FORMAT}, stream=True, timeout=600,
                          headers={"Authorization": f"Bearer {token}"}) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_content(256 * 1024):
                size += len(chunk)
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        rows = ROWS if FORMAT == "xlsx" else lines - 1
        print(f"export of {rows:,} opportunities as {FORMAT}: {seconds:.1f} s, {rows / seconds:,.0f} rows/s, "
              f"{size / 1e6:.1f} MB")
        print(f"  gateway RSS MB: idle {idle:.0f}, peak during the export {peak[0]:.0f} "
              f"(+{peak[0] - idle:.0f}; flat when it does not grow with EXPORT_ROWS)")
    finally:
        gateway.terminate()
        gateway.wait(20)
        sales.server.stop(0)


if __name__ == "__main__":
    main()
