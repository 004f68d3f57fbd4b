"""Prometheus series shared by every process. Names are stable: dashboards and alerts use them."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

GRPC_REQUESTS = Counter(
    "crm_grpc_requests_total", "gRPC calls handled", ["service", "method", "code"]
)
GRPC_DURATION = Histogram(
    "crm_grpc_request_duration_seconds", "gRPC call duration", ["service", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests handled", ["route", "method", "status"]
)
HTTP_DURATION = Histogram(
    "crm_http_request_duration_seconds", "HTTP request duration", ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_BACKLOG = Gauge(
    "crm_outbox_backlog", "Outbox rows not yet acknowledged by JetStream", ["service"],
    multiprocess_mode="max",
)
OUTBOX_OLDEST_AGE = Gauge(
    "crm_outbox_oldest_age_seconds", "Age of the oldest outbox row not yet published (0 when none waits): "
    "events are late by this much", ["service"], multiprocess_mode="max",
)
EVENTS_PUBLISHED = Counter(
    "crm_events_published_total", "Events acknowledged by JetStream", ["service", "event_type"]
)
PUBLISH_FAILURES = Counter(
    "crm_outbox_publish_failures_total", "Failed publish attempts (retried)", ["service"]
)
EVENTS_CONSUMED = Counter(
    "crm_events_consumed_total", "Events applied by a consumer", ["service", "consumer", "event_type"]
)
EVENTS_DUPLICATE = Counter(
    "crm_events_duplicate_total", "Redelivered events skipped by the inbox", ["service", "consumer"]
)
EVENTS_FAILED = Counter(
    "crm_events_failed_total", "Event handling failures (will be redelivered)", ["service", "consumer"]
)
EVENTS_DEAD_LETTERED = Counter(
    "crm_events_dead_lettered_total", "Poison events parked in the dead-letter table",
    ["service", "consumer"],
)
CONSUMER_LAG = Gauge(
    "crm_consumer_lag", "Messages in the stream not yet delivered to the consumer",
    ["service", "consumer"], multiprocess_mode="max",
)


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Expose /metrics on its own port (0 disables it, e.g. in tests), bound to `host` (BIND_HOST)."""
    if port:
        start_http_server(port, addr=host.strip("[]"))
