"""Operator endpoints outside the API: liveness, readiness, each backend's health, Prometheus metrics."""
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
    """Readiness: this worker answers, so the gateway can serve (its settings were checked and its
    route table built before it took traffic). It asks no backend: every gateway pod shares the
    same backends, so gating readiness on them would take all pods out of the Service at once
    when one backend is down, and with them every route that still works. A route of a backend
    that is down answers 503 on its own; /backendz tells operators which backend that is."""
    return json_response({"status": "ready"})


def backendz() -> Response:
    """For operators and dashboards (not a probe): each backend's gRPC health within a short
    deadline; 503 naming the ones not serving."""
    st = state()
    backends = st.backends.health(st.settings.readiness_timeout)
    down = sorted(name for name, status in backends.items() if status != "SERVING")
    if not down:
        return json_response({"status": "ok", "backends": backends})
    raise Problem(
        503, "backend-unavailable", "Backend unavailable", f"backend not serving: {', '.join(down)}",
        errors=[FieldError(name, backends[name]) for name in down],
        extra={"backends": backends},
    )


def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several workers (granian's or gunicorn's): each writes its own files, named by its pid,
        # and a scrape adds them up. A worker that died and was replaced leaves its files, so
        # counters keep their totals; the gateway has no live-summed gauges that would need
        # mark_process_dead (crm_gateway.server.prepare_metrics_dir clears files at start).
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def register(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    app.add_url_rule("/backendz", "backendz", backendz, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
