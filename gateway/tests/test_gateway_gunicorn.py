"""`python -m crm_gateway` as operators run it: gunicorn with several workers, over real HTTP."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(backend, tmp_path_factory) -> Iterator[str]:
    port = _free_port()
    env = dict(
        os.environ,
        CONTACTS_SERVICE_ADDR=backend.contacts_addr,
        REPORTING_SERVICE_ADDR=backend.reporting_addr,
        JWT_SECRET="gateway-test-secret-0123456789abcdef",
        GATEWAY_PORT=str(port),
        GATEWAY_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path_factory.mktemp("prom")),
        MAX_BODY_BYTES=str(64 * 1024),
        LOG_LEVEL="WARNING",
    )
    proc = subprocess.Popen([sys.executable, "-m", "crm_gateway"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "gateway did not start"
        time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(20)


def test_a_refused_oversized_body_still_gets_its_413(served, auth, fake):
    session = requests.Session()
    for _ in range(3):  # a keep-alive connection stays usable after each refusal
        resp = session.post(f"{served}/api/v1/contacts", headers=auth,
                            json={"name": "x", "title": "x" * (512 * 1024)}, timeout=10)
        assert resp.status_code == 413
        assert resp.headers["Content-Type"] == "application/problem+json"
    assert fake.writes == []


def test_metrics_add_up_across_workers(served):
    for _ in range(20):
        requests.get(f"{served}/healthz", headers={"Connection": "close"}, timeout=5)
    text = requests.get(f"{served}/metrics", timeout=5).text
    match = re.search(r'crm_http_requests_total\{method="GET",route="/healthz",status="200"\} (\d+)', text)
    assert match is not None and float(match.group(1)) >= 20


def test_missing_setting_stops_the_launcher_with_its_name():
    env = {k: v for k, v in os.environ.items() if k not in ("CONTACTS_SERVICE_ADDR",)}
    env.update(REPORTING_SERVICE_ADDR="127.0.0.1:1", JWT_SECRET="s" * 32)
    done = subprocess.run([sys.executable, "-m", "crm_gateway"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert "CONTACTS_SERVICE_ADDR" in done.stderr
