"""gunicorn settings for the gateway: `GATEWAY_SERVER=gunicorn python -m crm_gateway` uses this
file (the default server is granian, crm_gateway/server.py; gunicorn stays for comparison).

Worker class: gthread. Every API request is a blocking gRPC call that waits on the network most
of the time, and grpcio releases the GIL while it waits, so threads overlap those waits while
the Python work (routing, JSON, protobuf) keeps the core busy. `sync` workers would hold one
request per process (two in flight on a 2-core box, so throughput = 2 / backend latency), and
gevent needs grpcio's experimental gevent mode. One process per core (GATEWAY_WORKERS, default
2) because the GIL caps each process at one core; a few threads each (GATEWAY_THREADS, default
8) are enough to hide backend latency without piling up GIL contention.

Apps load in each worker (no preload_app), so gRPC channels are created after the fork."""
from __future__ import annotations

import glob
import json
import logging
import os
import sys
from typing import Any

from gunicorn import glogging, util

from crmkit import logs
from crmkit.logs import JsonFormatter

bind = f"0.0.0.0:{os.environ.get('GATEWAY_PORT', '8080')}"
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GATEWAY_THREADS", "8"))
keepalive = 75  # longer than typical load-balancer idle timeouts (60 s), so they close first
timeout = 30
graceful_timeout = 20  # SIGTERM: stop accepting, finish in-flight requests, then exit
accesslog = None  # per-route RED metrics instead of a line per request (cheaper hot path)
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logs.configure("gateway", loglevel)


class JsonLogger(glogging.Logger):
    """gunicorn's own messages (boot, worker exits, timeouts) as the app's JSON lines on stdout.
    (A logconfig_dict would also switch on per-request access logging.)"""

    def setup(self, cfg: object) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sys.stdout)
            handler.setFormatter(JsonFormatter())


logger_class = JsonLogger


def _write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own refusals (a bad request line, e.g. raw UTF-8 in it; a bad header) as
    problem+json, the shape of every other error the gateway answers, instead of an HTML page."""
    from crm_gateway.problems import Problem

    if mesg.startswith("Invalid Request Line"):  # gunicorn quotes the line back, undecoded
        mesg = "the request line is not valid HTTP/1.1: percent-encode any character outside ASCII"
    problem = Problem(status_int, reason.lower().replace(" ", "-"), reason, mesg)
    body = json.dumps(problem.body(), ensure_ascii=False).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = _write_problem  # the one place gunicorn writes its HTML error page
proc_name = "crm-gateway"
# The heartbeat file on tmpfs: on an overlay or disk filesystem its fchmod can stall a worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No gunicornc control socket: Kubernetes manages the process, and the default path
# ($HOME/.gunicorn/gunicorn.ctl) would be shared by every gunicorn on the host.
control_socket_disable = True


def on_starting(server: object) -> None:
    # Counters from a previous run would otherwise be added to this one.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.remove(stale)


def child_exit(server: object, worker: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
