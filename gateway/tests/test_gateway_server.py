"""`python -m crm_gateway` as operators run it, under granian (the default) and gunicorn
(GATEWAY_SERVER=gunicorn): real processes with 2 workers on free ports, over real HTTP, in front
of the fake backends. Keep-alive, drain on SIGTERM, body limits (sized and chunked), metrics
added up over the workers, JSON logs, and a request line with raw UTF-8."""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests

from crm.contacts.v1 import contacts_pb2 as pb

SERVERS = ["granian", "gunicorn"]
LIMIT = 64 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    server: str
    base: str
    port: int
    proc: subprocess.Popen[bytes]
    metrics_dir: Path
    log: Path


def _start(server: str, tmp: Path, contacts_addr: str, reporting_addr: str) -> Served:
    port = _free_port()
    metrics_dir = tmp / "prom"
    log = tmp / "gateway.log"  # stdout: the server's and the app's log lines
    env = dict(
        os.environ,
        CONTACTS_SERVICE_ADDR=contacts_addr,
        REPORTING_SERVICE_ADDR=reporting_addr,
        JWT_SECRET="gateway-test-secret-0123456789abcdef",
        GATEWAY_SERVER=server,
        GATEWAY_PORT=str(port),
        GATEWAY_WORKERS="2",
        GATEWAY_THREADS="4",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        MAX_BODY_BYTES=str(LIMIT),
        RATE_LIMIT_RPS="100000",
        RATE_LIMIT_BURST="100000",
        LOG_LEVEL="INFO",
    )
    with log.open("wb") as out, (tmp / "stderr.log").open("wb") as err:
        # stderr (Python warnings, e.g. about the short test secret) is not the logs' channel
        proc = subprocess.Popen([sys.executable, "-m", "crm_gateway"], env=env, stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass   # gunicorn's master accepts before its workers have imported the app
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text() + (tmp / "stderr.log").read_text()
        time.sleep(0.1)
    return Served(server, base, port, proc, metrics_dir, log)


def _stop(served: Served) -> None:
    if served.proc.poll() is None:
        served.proc.terminate()
        served.proc.wait(30)


@pytest.fixture(scope="module", params=SERVERS)
def served(request: Any, backend: Any, tmp_path_factory: Any) -> Iterator[Served]:
    s = _start(request.param, tmp_path_factory.mktemp(request.param), backend.contacts_addr,
               backend.reporting_addr)
    yield s
    _stop(s)


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def _problem(resp: requests.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/problem+json"
    doc: dict[str, Any] = resp.json()
    assert doc["status"] == status
    return doc


def test_serves_api_calls_over_one_kept_alive_connection(served, auth, fake):
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    body = json.dumps({"name": "李娜 Li Na", "emails": [{"address": "li.na@example.cn"}]})
    conn.request("POST", "/api/v1/contacts", body, {**auth, "Content-Type": "application/json"})
    created = conn.getresponse()
    assert created.status == 201
    contact_id = json.loads(created.read())["id"]
    sock = conn.sock
    for _ in range(5):
        conn.request("GET", f"/api/v1/contacts/{contact_id}", headers=auth)
        got = conn.getresponse()
        assert got.status == 200 and json.loads(got.read())["name"] == "李娜 Li Na"
        assert conn.sock is sock  # not closed and reopened
    conn.close()


def test_an_oversized_body_gets_413_and_the_connection_stays_usable(served, auth, fake):
    session = requests.Session()
    for _ in range(3):
        resp = session.post(f"{served.base}/api/v1/contacts", headers=auth,
                            json={"name": "x", "title": "x" * (2 * LIMIT)}, timeout=10)
        _problem(resp, 413)
    assert session.get(f"{served.base}/healthz", timeout=5).status_code == 200
    assert fake.writes == []


def _chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i:i + size]


def test_an_oversized_chunked_body_gets_413_not_a_truncated_parse(served, auth, fake):
    body = json.dumps({"name": "x", "title": "x" * (2 * LIMIT)}).encode()
    resp = requests.post(f"{served.base}/api/v1/contacts", headers={**auth, "Content-Type": "application/json"},
                         data=_chunks(body), timeout=10)  # a generator body goes out chunked
    _problem(resp, 413)
    assert fake.writes == []


def test_a_chunked_body_within_the_limit_arrives_whole(served, auth, fake):
    title = "长" * (LIMIT // 8)  # 3 bytes each in UTF-8: several chunks, under the limit
    notes = {f"note_{i}": title[i:i + 1000] for i in range(0, len(title), 1000)}  # each within a field's maximum
    body = json.dumps({"name": "分块 Chunked", "custom_fields": notes}, ensure_ascii=False).encode()
    resp = requests.post(f"{served.base}/api/v1/contacts", headers={**auth, "Content-Type": "application/json"},
                         data=_chunks(body), timeout=10)
    assert resp.status_code == 201, resp.text
    sent = fake.last("CreateContact").request.custom_fields
    assert "".join(sent[f"note_{i}"] for i in range(0, len(title), 1000)) == title


@pytest.mark.parametrize("request_line", [
    "GET /api/v1/contacts/客户 HTTP/1.1", "GET /api/v1/contacts?region=华北 HTTP/1.1",
])
def test_raw_utf8_in_the_request_line_is_answered_in_problem_json_or_served(served, token, fake, request_line):
    head = f"{request_line}\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    answer = _raw(served.port, head.encode("utf-8"))
    status_line, _, rest = answer.partition(b"\r\n")
    status = int(status_line.split()[1])
    headers = rest.split(b"\r\n\r\n", 1)[0].lower()
    assert b"text/html" not in headers
    if status >= 400:
        assert b"content-type: application/problem+json" in headers, answer
    if served.server == "granian":  # accepted, and decoded as UTF-8 (werkzeug): the backend saw the real id
        assert status in (200, 404), answer
        if status == 404:
            assert fake.last("GetContact").request.id == "客户"
    else:  # gunicorn refuses any byte outside ASCII in the request line
        assert status == 400, answer


def test_metrics_add_up_across_both_workers(served):
    def healthz_count() -> float:
        text = requests.get(f"{served.base}/metrics", timeout=5).text
        match = re.search(r'crm_http_requests_total\{method="GET",route="/healthz",status="200"\} ([\d.]+)', text)
        return float(match.group(1)) if match else 0.0

    def pids() -> set[str]:  # each worker keeps its own files, named by its pid
        return {p.stem.rsplit("_", 1)[1] for p in served.metrics_dir.glob("counter_*.db")}

    def hit(_: int) -> None:
        for _ in range(10):  # a new connection each time, so both workers take some
            requests.get(f"{served.base}/healthz", headers={"Connection": "close"}, timeout=5)

    before, sent = healthz_count(), 0
    with futures.ThreadPoolExecutor(8) as pool:
        # which worker accepts a connection is the kernel's choice: go on until both have answered
        while sent == 0 or (len(pids()) < 2 and sent < 2000):
            list(pool.map(hit, range(8)))
            sent += 80
    assert len(pids()) == 2, pids()
    assert healthz_count() - before == sent


def test_the_server_logs_json_lines(served):
    lines = [line for line in served.log.read_text().splitlines() if line.strip()]
    assert lines, "the server logged nothing at INFO"
    entries = [json.loads(line) for line in lines]  # every line is JSON
    assert all(e["service"] == "gateway" for e in entries)


# -- drain on SIGTERM ---------------------------------------------------------------------


class SlowContacts:
    """A ContactsService whose GetContact takes `delay` seconds: a request in flight."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.unary_unary_rpc_method_handler(
            self.get, request_deserializer=pb.GetContactRequest.FromString,
            response_serializer=pb.Contact.SerializeToString)
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "crm.contacts.v1.ContactsService", {"GetContact": handler}),))
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def get(self, request: pb.GetContactRequest, context: grpc.ServicerContext) -> pb.Contact:
        time.sleep(self.delay)
        return pb.Contact(id=request.id, name="慢 Slow", version=1)


@pytest.mark.parametrize("server", SERVERS)
def test_sigterm_finishes_the_request_in_flight_refuses_new_ones_and_exits(server, backend, token, tmp_path):
    slow = SlowContacts(delay=2.0)
    served = _start(server, tmp_path, slow.address, backend.reporting_addr)
    try:
        answer: dict[str, Any] = {}

        def in_flight() -> None:
            resp = requests.get(f"{served.base}/api/v1/contacts/c-1", headers={"Authorization": f"Bearer {token}"},
                                timeout=15)
            answer.update(status=resp.status_code, body=resp.json())

        thread = threading.Thread(target=in_flight)
        thread.start()
        time.sleep(0.7)  # the request has reached the slow backend
        sent = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{served.base}/healthz", timeout=2)
        thread.join(15)
        assert answer == {"status": 200, "body": answer["body"]} and answer["body"]["id"] == "c-1"
        assert served.proc.wait(25) == 0
        assert time.monotonic() - sent < 22  # within the drain bound (crm_gateway.server.DRAIN_SECONDS)
    finally:
        _stop(served)
        slow.server.stop(0)


def test_an_unknown_server_stops_the_launcher_with_the_setting_name(backend):
    env = dict(os.environ, CONTACTS_SERVICE_ADDR=backend.contacts_addr, REPORTING_SERVICE_ADDR=backend.reporting_addr,
               JWT_SECRET="s" * 32, GATEWAY_SERVER="uwsgi")
    done = subprocess.run([sys.executable, "-m", "crm_gateway"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "GATEWAY_SERVER" in done.stderr


@pytest.mark.parametrize("when", ["serving", "loading the app"])
def test_granian_workers_do_not_outlive_a_killed_main_process(backend, tmp_path, when):
    port, log = _free_port(), tmp_path / "gateway.log"
    env = dict(os.environ, CONTACTS_SERVICE_ADDR=backend.contacts_addr, REPORTING_SERVICE_ADDR=backend.reporting_addr,
               JWT_SECRET="gateway-test-secret-0123456789abcdef", GATEWAY_SERVER="granian", GATEWAY_PORT=str(port),
               GATEWAY_WORKERS="2", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"), LOG_LEVEL="INFO")
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "crm_gateway"], env=env, stdout=out, stderr=subprocess.DEVNULL)

    def said(what: str) -> list[str]:
        return [m for line in log.read_text().splitlines() for m in re.findall(what, line)]

    # the main process logs each worker's pid as it forks it, and "Started worker-N" once it serves
    deadline = time.monotonic() + 30
    while len(said(r"Spawning worker-\d with PID: (\d+)")) < 2 or (
            when == "serving" and len(said(r"Started worker-(\d)")) < 2):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.01)
    workers = [int(pid) for pid in said(r"Spawning worker-\d with PID: (\d+)")]
    proc.kill()
    proc.wait(10)

    def running(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 25  # crm_gateway.server.DRAIN_SECONDS at most
    while any(running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = [w for w in workers if running(w)]
    for pid in leftover:  # don't leave a server behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not leftover
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
