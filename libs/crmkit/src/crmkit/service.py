"""The composition root every service process runs: settings → logs → database → outbox relay
and consumers on an event-loop thread → gRPC server → metrics → wait for SIGTERM → drain."""
from __future__ import annotations

import concurrent.futures
import os
import threading
import time
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
from crmkit.outbox import OutboxRelay, Published

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
    # The event types the handler acts on (None: all); the rest are acked without a transaction.
    wants: Callable[[str], bool] | None = None
    # A read model of the service's own events, fed by its outbox relay once they are published.
    on_published: Callable[[Database, ServiceSettings], Callable[[Published], None]] | None = None
    produces: bool = True
    extra_workers: Sequence[Callable[[Database, ServiceSettings, LoopThread], Callable[[], None]]] = (
        field(default_factory=tuple)
    )


class ServiceRuntime:
    """One service's moving parts; `run` drives it as a process, tests drive it in-process."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.db = Database(settings.database_url)
        self.loop = LoopThread(f"{spec.name}-events")
        self.relay: OutboxRelay | None = None
        self.consumer: EventConsumer | None = None
        self._stoppers: list[Callable[[], None]] = []  # relay and consumer
        self._worker_stoppers: list[Callable[[], None]] = []
        self._tasks: list[concurrent.futures.Future[None]] = []
        self.server: GrpcServer | None = None

    def start(self) -> ServiceRuntime:
        spec, settings = self.spec, self.settings
        self.loop.start()
        if spec.produces:
            self.relay = OutboxRelay(
                self.db, nats_url=settings.nats_url, service=spec.name, batch_size=settings.relay_batch,
                on_published=spec.on_published(self.db, settings) if spec.on_published else None,
            )
            self._tasks.append(self.loop.submit(self.relay.run()))
            self._stoppers.append(self.relay.stop)
        if spec.consumes and spec.handler is not None:
            self.consumer = EventConsumer(
                self.db, settings.nats_url, spec.name, spec.consumes, spec.handler(self.db, settings),
                max_deliveries=settings.consumer_max_deliveries, batch=settings.consumer_batch,
                wants=spec.wants,
            )
            self._tasks.append(self.loop.submit(self.consumer.run()))
            self._stoppers.append(self.consumer.stop)
        for worker in spec.extra_workers:
            self._worker_stoppers.append(worker(self.db, settings, self.loop))
        self.server = GrpcServer(
            service=spec.name,
            port=settings.grpc_port,
            verifier=TokenVerifier(settings.auth),
            registrations=spec.build(self.db, settings),
            service_names=spec.service_names,
            max_workers=settings.grpc_workers,
        ).start()
        return self

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.drain(grace=5.0)
        for stopper in self._stoppers:
            stopper()
        # Let the relay and consumers finish their batch (a consumer acks what it fetched) and close
        # their connections; a message fetched but never acked would wait out ack_wait (30 s) before
        # the next consumer instance could have it.
        concurrent.futures.wait(self._tasks, timeout=10.0)
        # Extra workers stop after the relay: its last batch may still feed a read model they own.
        for stopper in self._worker_stoppers:
            stopper()
        time.sleep(0.2)  # extra workers only get their stop signal
        self.loop.stop(timeout=3.0)
        self.db.dispose()


def run(spec: ServiceSpec, settings: ServiceSettings | None = None) -> None:
    settings = settings or ServiceSettings.from_env(spec.name)
    logs.configure(spec.name, settings.log_level)
    # Handlers first: a SIGTERM that arrives while we start still gets a clean drain.
    stop_requested = threading.Event()
    install_signal_handlers(stop_requested.set)
    if os.environ.get("RUN_MIGRATIONS", "").lower() in ("1", "true", "yes"):
        upgrade(settings.database_url, spec.migrations)
    runtime = ServiceRuntime(spec, settings).start()
    metrics.serve_metrics(settings.metrics_port)
    log.info("serving", extra={"fields": {"grpc_port": runtime.server.port,  # type: ignore[union-attr]
                                          "metrics_port": settings.metrics_port}})
    stop_requested.wait()
    runtime.stop()
    log.info("stopped")
