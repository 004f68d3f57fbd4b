"""gRPC clients for the backends, created lazily in each worker process.

gunicorn forks workers from a master; a gRPC channel must not cross a fork, so nothing connects
at import or app-creation time. The first request in a process opens the channel, and a fork
(e.g. a preloaded app) drops whatever the parent held."""
from __future__ import annotations

import importlib
import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm.contacts.v1 import contacts_pb2_grpc
from crm.reporting.v1 import reporting_pb2_grpc
from crm_gateway.problems import Problem
from crm_gateway.settings import GatewaySettings
from crmkit.grpc_client import ServiceClient, open_channel

STUBS: dict[str, Callable[[grpc.Channel], Any]] = {
    "contacts": contacts_pb2_grpc.ContactsServiceStub,
    "reporting": reporting_pb2_grpc.ReportingServiceStub,
}
# Other services' stubs, imported on first use so the gateway runs without their code built.
LAZY_STUBS: dict[str, tuple[str, str]] = {
    "sales": ("crm.sales.v1.sales_pb2_grpc", "SalesServiceStub"),
    "marketing": ("crm.marketing.v1.marketing_pb2_grpc", "MarketingServiceStub"),
    "support": ("crm.support.v1.support_pb2_grpc", "SupportServiceStub"),
    "privacy": ("crm.privacy.v1.privacy_pb2_grpc", "PrivacyServiceStub"),
    "webhooks": ("crm.webhooks.v1.webhooks_pb2_grpc", "WebhooksServiceStub"),
}


def stub_for(name: str) -> Callable[[grpc.Channel], Any]:
    if name in STUBS:
        return STUBS[name]
    module, attr = LAZY_STUBS[name]
    stub: Callable[[grpc.Channel], Any] = getattr(importlib.import_module(module), attr)
    return stub


def service_not_configured(name: str) -> Problem:
    return Problem(503, "service-unavailable", "Service unavailable",
                   f"the {name} service is not configured on this gateway ({name.upper()}_SERVICE_ADDR)")


class Backends:
    def __init__(self, settings: GatewaySettings) -> None:
        self.addresses = {
            "contacts": settings.contacts_addr,
            "reporting": settings.reporting_addr,
            **settings.optional_addrs,
        }
        self.timeout = settings.grpc_timeout
        self.tls = settings.tls
        self._channels: dict[str, grpc.Channel] = {}
        self._clients: dict[str, ServiceClient] = {}
        self._lock = threading.Lock()
        ref = weakref.ref(self)

        def forget_in_child() -> None:
            backends = ref()
            if backends is not None:
                backends._forget()

        os.register_at_fork(after_in_child=forget_in_child)

    @property
    def contacts(self) -> ServiceClient:
        return self._clients.get("contacts") or self._open("contacts")

    @property
    def reporting(self) -> ServiceClient:
        return self._clients.get("reporting") or self._open("reporting")

    def client(self, name: str) -> ServiceClient:
        """Any configured backend; UNAVAILABLE (→ 503) when that service is not deployed."""
        if name not in self.addresses:
            raise service_not_configured(name)
        return self._clients.get(name) or self._open(name)

    def _open(self, name: str) -> ServiceClient:
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                channel = open_channel(self.addresses[name], self.tls)
                self._channels[name] = channel
                client = self._clients[name] = ServiceClient(stub_for(name)(channel), timeout=self.timeout)
            return client

    def service_client(self, name: str, stub: Callable[[grpc.Channel], Any]) -> ServiceClient:
        """A client of another gRPC service the backend also serves (every service serves
        crm.common.v1.AuditLog), on the backend's one channel."""
        if name not in self.addresses:
            raise service_not_configured(name)
        key = f"{name}:{getattr(stub, '__name__', stub)}"
        client = self._clients.get(key)
        if client is None:
            channel = self._channel(name)
            with self._lock:
                client = self._clients.setdefault(key, ServiceClient(stub(channel), timeout=self.timeout))
        return client

    def _channel(self, name: str) -> grpc.Channel:
        self._clients.get(name) or self._open(name)
        return self._channels[name]

    def health(self, timeout: float) -> dict[str, str]:
        """gRPC health status of every backend, checked concurrently: name → SERVING, or the
        reason it is not (NOT_SERVING, UNAVAILABLE, DEADLINE_EXCEEDED, ...)."""
        request = health_pb2.HealthCheckRequest(service="")
        pending: dict[str, Future[Any]] = {
            name: self._health_stub(name).Check.future(request, timeout=timeout) for name in self.addresses
        }
        result: dict[str, str] = {}
        for name, call in pending.items():
            try:
                status = call.result().status
                result[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
            except grpc.RpcError as exc:
                result[name] = exc.code().name
        return result

    def _health_stub(self, name: str) -> Any:
        return health_pb2_grpc.HealthStub(self._channel(name))  # generated without types: Any

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels, self._clients = {}, {}

    def _forget(self) -> None:
        # After a fork the inherited channels belong to the parent: drop, never close, them.
        self._channels = {}
        self._clients = {}
        self._lock = threading.Lock()
