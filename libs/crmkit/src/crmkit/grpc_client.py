"""Calling another service: every call has a deadline, and only idempotent calls (reads, or
writes carrying an idempotency key) are retried, with backoff, on UNAVAILABLE."""
from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import grpc

from crmkit.config import TlsSettings
from crmkit.grpc_server import IDEMPOTENCY_KEY
from crmkit.tls import channel_credentials

RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)
RETRY_WAIT_SECONDS = 1.5  # how long one retry waits for a reconnecting channel


def open_channel(addr: str, tls: TlsSettings | None = None) -> grpc.Channel:
    """A channel to another service: TLS when GRPC_TLS_CA_FILE is set (crmkit.tls), else plaintext."""
    credentials = channel_credentials(TlsSettings.from_env() if tls is None else tls)
    options: list[tuple[str, Any]] = [
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.enable_retries", 0),  # retries are ours, so writes are never replayed blindly
            # Spread calls over every address the name resolves to (a headless Service in k8s).
            ("grpc.lb_policy_name", "round_robin"),
            # Reconnect quickly after a backend restarts (the default backoff starts at 1 s and
            # grows to 2 min, leaving a rolled pod unreachable long after it is up again).
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            # ≤ 1 s (+20 % jitter), so one retry's wait (RETRY_WAIT_SECONDS) outlasts a backoff
            ("grpc.max_reconnect_backoff_ms", 1000),
    ]
    if credentials is None:
        return grpc.insecure_channel(addr, options=options)
    return grpc.secure_channel(addr, credentials, options=options)


class ServiceClient:
    def __init__(self, stub: Any, *, timeout: float = 5.0, attempts: int = 3) -> None:
        self.stub = stub
        self.timeout = timeout
        self.attempts = attempts

    def call(
        self,
        method: str,
        request: Any,
        *,
        metadata: Sequence[tuple[str, str]] = (),
        timeout: float | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        rpc = getattr(self.stub, method)
        if idempotent is None:
            idempotent = method.startswith(("Get", "List", "Find")) or any(
                k == IDEMPOTENCY_KEY for k, _ in metadata
            )
        deadline = time.monotonic() + (timeout or self.timeout)
        attempt = 0
        unavailable: grpc.RpcError | None = None
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            # A retry waits (briefly) for the channel to reconnect: after a backend restart the
            # channel may still be in reconnect backoff and would fail again at once.
            retrying = unavailable is not None
            budget = min(remaining, RETRY_WAIT_SECONDS) if retrying else remaining
            try:
                return rpc(request, timeout=max(budget, 0.001), metadata=metadata, wait_for_ready=retrying)
            except grpc.RpcError as exc:
                error, code = exc, exc.code()
                if unavailable is not None and code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    # it was unreachable a moment ago and never came back
                    error, code = unavailable, grpc.StatusCode.UNAVAILABLE
                # A write without an idempotency key is retried only when it never left this
                # process: the channel was still reconnecting (a backend just restarted).
                never_sent = attempt == 1 and code == grpc.StatusCode.UNAVAILABLE and _never_sent(exc)
                retry = (idempotent or never_sent) and code in RETRYABLE and attempt < self.attempts \
                    and remaining > 0.05
                if not retry:
                    raise error from None
                unavailable = error
                time.sleep(min(0.05 * 2**attempt * (0.5 + random.random()), remaining / 4))


def _never_sent(exc: grpc.RpcError) -> bool:
    """gRPC's fail-fast answer while no connection is up (round_robin: "connections to all backends
    failing", pick_first: "failed to connect to all addresses"): the call was refused before
    anything was written to a server."""
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    return "connections to all backends failing" in details or "failed to connect to all addresses" in details


class GrpcPort:
    """Base of a service's adapter for another service: dials on first use, so nothing connects at
    start-up and a dependency that is down does not stop this service from starting."""

    stub: Any = None  # the generated <Service>Stub class, set by the subclass

    def __init__(self, addr: str, timeout: float = 5.0) -> None:
        self.addr = addr
        self.timeout = timeout
        self._client: ServiceClient | None = None

    @property
    def client(self) -> ServiceClient:
        if self._client is None:
            self._client = ServiceClient(self.stub(open_channel(self.addr)), timeout=self.timeout)
        return self._client
