"""Operator endpoints outside the API: liveness, readiness, Prometheus metrics."""
from __future__ import annotations

import os

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from crm_gateway.problems import FieldError, Problem
from crm_gateway.routing import json_response, state


def healthz() -> Response:
    """Liveness: the process answers. Never touches a backend, so a backend outage does not get
    healthy gateway pods restarted."""
    return json_response({"status": "ok"})


def readyz() -> Response:
    """Readiness: every backend answers its gRPC health check within a short deadline."""
    st = state()
    backends = st.backends.health(st.settings.readiness_timeout)
    down = sorted(name for name, status in backends.items() if status != "SERVING")
    if not down:
        return json_response({"status": "ready", "backends": backends})
    raise Problem(
        503, "not-ready", "Not ready", f"backend not serving: {', '.join(down)}",
        errors=[FieldError(name, backends[name]) for name in down],
        extra={"backends": backends},
    )


def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several gunicorn workers: each writes its own files; add them up at scrape time.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def register(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
