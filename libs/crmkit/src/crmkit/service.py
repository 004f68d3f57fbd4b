"""The composition root every service process runs: settings → logs → database → outbox relay
and consumers on an event-loop thread → gRPC server → metrics → wait for SIGTERM → drain."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from crmkit import logs, metrics
from crmkit.auth import TokenVerifier
from crmkit.bus import LoopThread
from crmkit.config import ServiceSettings
from crmkit.consumer import EventConsumer, Handler
from crmkit.db import Database
from crmkit.grpc_server import GrpcServer, install_signal_handlers
from crmkit.migrations import upgrade
from crmkit.outbox import OutboxRelay

log = logs.get("crmkit.service")

Registration = Callable[[grpc.Server], None]


@dataclass
class ServiceSpec:
    name: str
    migrations: Path
    service_names: Sequence[str]
    # Builds the servicers for this process; returns gRPC registrations.
    build: Callable[[Database, ServiceSettings], Sequence[Registration]]
    # Producers whose streams this service consumes, and the handler for their events.
    consumes: Sequence[str] = ()
    handler: Callable[[Database, ServiceSettings], Handler] | None = None
    produces: bool = True
    extra_workers: Sequence[Callable[[Database, ServiceSettings, LoopThread], Callable[[], None]]] = (
        field(default_factory=tuple)
    )


def run(spec: ServiceSpec, settings: ServiceSettings | None = None) -> None:
    settings = settings or ServiceSettings.from_env(spec.name)
    logs.configure(spec.name, settings.log_level)
    if os.environ.get("RUN_MIGRATIONS", "").lower() in ("1", "true", "yes"):
        upgrade(settings.database_url, spec.migrations)
    db = Database(settings.database_url)
    loop = LoopThread(f"{spec.name}-events").start()
    stoppers: list[Callable[[], None]] = []
    if spec.produces:
        relay = OutboxRelay(db, nats_url=settings.nats_url, service=spec.name,
                            batch_size=settings.relay_batch)
        loop.submit(relay.run())
        stoppers.append(relay.stop)
    if spec.consumes and spec.handler is not None:
        consumer = EventConsumer(
            db, settings.nats_url, spec.name, spec.consumes, spec.handler(db, settings),
            max_deliveries=settings.consumer_max_deliveries,
        )
        loop.submit(consumer.run())
        stoppers.append(consumer.stop)
    for worker in spec.extra_workers:
        stoppers.append(worker(db, settings, loop))
    server = GrpcServer(
        service=spec.name,
        port=settings.grpc_port,
        verifier=TokenVerifier(settings.auth),
        registrations=spec.build(db, settings),
        service_names=spec.service_names,
    ).start()
    metrics.serve_metrics(settings.metrics_port)
    log.info("serving", extra={"fields": {"grpc_port": server.port, "metrics_port": settings.metrics_port}})

    def stop() -> None:
        server.drain()
        for stopper in stoppers:
            stopper()

    install_signal_handlers(stop)
    server.wait()
    loop.stop(timeout=3.0)
    db.dispose()
    log.info("stopped")
