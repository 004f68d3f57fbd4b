"""WeChat callbacks through the whole suite: how fast the gateway answers the platform (it wants
"success" within 5 s, or it retries) and how long until the message is a ticket an agent sees.

    .venv/bin/python bench/wechat_bench.py [--messages 200]

Each message comes from a new follower (a contact lookup and a create in contacts, a new ticket),
pushed by the simulator (sign, encrypt, POST) one after another; figures are wall-clock."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_devtools.devrun import Suite  # noqa: E402
from crm_devtools.users import DEMO_USERS  # noqa: E402
from crmkit.auth import mint_token  # noqa: E402

SECRET = "bench-secret-for-shuniu-crm-0123456789abcdef"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        suite = Suite(Path(tmp), free_ports=True, jwt_secret=SECRET,
                      extra_env={"RATE_LIMIT_RPS": "100000", "RATE_LIMIT_BURST": "100000"}).start()
        try:
            admin = {"Authorization": f"Bearer {mint_token(DEMO_USERS['admin'], SECRET)}"}
            answered, visible = [], []
            for _ in range(args.messages):
                openid = f"o{uuid.uuid4().hex[:27]}"
                started = time.perf_counter()
                pushed = requests.post(f"{suite.wechat_url}/sim/push", timeout=30, json={
                    "account": "demo", "from_user": openid, "content": "S-200 多少钱？"}).json()
                answered.append(time.perf_counter() - started)  # the simulator's round trip to the gateway
                assert pushed["status"] == 200, pushed
                ref = f"demo:{openid}"
                while True:
                    items = requests.get(f"{suite.gateway_url}/api/v1/tickets", params={"channel": "wechat"},
                                         headers=admin, timeout=30).json()["items"]
                    if any(t["external_ref"] == ref for t in items):
                        break
                    time.sleep(0.01)
                visible.append(time.perf_counter() - started)
        finally:
            suite.stop()
    for name, values in (("callback answered (sign + encrypt + gateway + support commit)", answered),
                         ("message → ticket listed (contacts lookup + create, ticket)", visible)):
        print(f"{name}: n={len(values)} p50={statistics.median(values) * 1000:.1f} ms "
              f"p95={pct(values, 95) * 1000:.1f} ms p99={pct(values, 99) * 1000:.1f} ms max={max(values) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
