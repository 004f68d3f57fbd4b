"""gunicorn settings for the gateway (`python -m crm_gateway` uses this file).

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
import os

bind = f"0.0.0.0:{os.environ.get('GATEWAY_PORT', '8080')}"
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GATEWAY_THREADS", "8"))
keepalive = 75  # longer than typical load-balancer idle timeouts (60 s), so they close first
timeout = 30
graceful_timeout = 20  # SIGTERM: stop accepting, finish in-flight requests, then exit
max_requests = 0
accesslog = None  # the app exports per-route metrics; JSON logs go to stdout
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
proc_name = "crm-gateway"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


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
