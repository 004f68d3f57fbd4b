"""gRPC server bootstrap shared by every service: health and reflection, one interceptor for
request ids, auth, deadlines, metrics and domain-error mapping, and a graceful SIGTERM drain
(report NOT_SERVING, finish in-flight calls, exit)."""
from __future__ import annotations

import contextvars
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any, cast

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from crmkit import logs, metrics
from crmkit.auth import TokenVerifier, set_authorization, set_principal
from crmkit.config import TlsSettings
from crmkit.deadlines import reset_deadline, set_deadline
from crmkit.errors import ERROR_DETAILS_KEY, ERROR_FIELD_KEY, DomainError, encode_field
from crmkit.limits import refuse_nul
from crmkit.tls import server_credentials
from crmkit.token_cache import TokenCache

log = logs.get("crmkit.grpc")
PUBLIC_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
IDEMPOTENCY_KEY = "crm-idempotency-key"
CLIENT_ADDR = "crm-client-addr"  # the HTTP client's address, as the gateway saw it (for the audit log)

current_method: contextvars.ContextVar[str] = contextvars.ContextVar("method", default="")
idempotency_key: contextvars.ContextVar[str] = contextvars.ContextVar("idempotency_key", default="")
client_addr: contextvars.ContextVar[str] = contextvars.ContextVar("client_addr", default="")


class CrmInterceptor(grpc.ServerInterceptor):
    def __init__(self, service: str, verifier: TokenVerifier) -> None:
        self.service = service
        self.tokens = TokenCache(verifier)  # the same token arrives on every call of a client
        self._counters: dict[tuple[str, grpc.StatusCode], Any] = {}
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def _count(self, method: str, code: grpc.StatusCode) -> None:
        counter = self._counters.get((method, code))
        if counter is None:
            counter = self._counters[(method, code)] = metrics.GRPC_REQUESTS.labels(self.service, method, code.name)
        counter.inc()

    def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        method = details.method
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = continuation(details)
        if handler is None or handler.unary_unary is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        # A method's handler never changes, so it is wrapped once rather than on every call.
        wrapped = self._wrapped[method] = grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        return wrapped

    def _wrap(self, method: str, inner: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
        duration = metrics.GRPC_DURATION.labels(self.service, method)  # resolved once per method

        def wrapper(request: Any, context: grpc.ServicerContext) -> Any:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            # Only `-bin` keys carry bytes, and we read none of them.
            md = cast("dict[str, str]", dict(context.invocation_metadata()))
            logs.request_id_var.set(md.get("x-request-id") or uuid.uuid4().hex)
            current_method.set(method)
            idempotency_key.set(md.get(IDEMPOTENCY_KEY, ""))
            client_addr.set(md.get(CLIENT_ADDR) or context.peer())
            remaining = context.time_remaining()
            deadline = set_deadline(remaining)  # a unit of work checks it before it commits
            try:
                if remaining is not None and remaining <= 0:
                    code = grpc.StatusCode.DEADLINE_EXCEEDED
                    context.abort(code, "deadline already exceeded")
                auth = md.get("authorization", "")
                if not auth.lower().startswith("bearer "):
                    raise _unauthenticated()
                set_principal(self.tokens.verify(auth[7:].strip()))
                set_authorization(auth)
                if isinstance(request, Message):  # every RPC, every string: PostgreSQL cannot store NUL
                    refuse_nul(request)
                return inner(request, context)
            except DomainError as exc:
                code = exc.status
                details = json.dumps(exc.details, default=str)
                trailers: list[tuple[str, str | bytes]] = [(ERROR_DETAILS_KEY, details)]
                if exc.field:
                    trailers.append((ERROR_FIELD_KEY, encode_field(exc.field)))
                context.set_trailing_metadata(tuple(trailers))
                context.abort(exc.status, exc.message)
            except Exception:
                # ServicerContext.code() exists since grpcio 1.38; types-grpcio does not declare it.
                if code == grpc.StatusCode.OK and context.code() in (None, grpc.StatusCode.OK):  # type: ignore[attr-defined]
                    code = grpc.StatusCode.INTERNAL
                    log.exception("unhandled error in %s", method)
                    context.abort(code, "internal error")
                raise
            finally:
                reset_deadline(deadline)
                set_principal(None)
                set_authorization("")
                self._count(method, code)
                duration.observe(time.perf_counter() - start)

        return wrapper


def _unauthenticated() -> DomainError:
    from crmkit.errors import Unauthenticated

    return Unauthenticated("missing bearer token in the authorization metadata")


class GrpcServer:
    def __init__(
        self,
        *,
        service: str,
        port: int,
        verifier: TokenVerifier,
        registrations: Sequence[Callable[[grpc.Server], None]],
        service_names: Sequence[str],
        max_workers: int = 16,
        host: str = "0.0.0.0",
        tls: TlsSettings | None = None,
    ) -> None:
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
            interceptors=[CrmInterceptor(service, verifier)],
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 * 1024 * 1024)],
        )
        for register in registrations:
            register(self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, self.server)
        self.service_names = list(service_names)
        credentials = server_credentials(tls) if tls is not None else None
        if credentials is None:
            self.port = self.server.add_insecure_port(f"{host}:{port}")
        else:
            self.port = self.server.add_secure_port(f"{host}:{port}", credentials)
        # With TLS, the kubelet's gRPC probes (plaintext only) ask a health-only listener.
        self.health_server: grpc.Server | None = None
        self.health_port: int | None = None
        if credentials is not None and tls is not None and tls.grpc_health_port is not None:
            self.health_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="health"))
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.health_server)
            self.health_port = self.health_server.add_insecure_port(f"{host}:{tls.grpc_health_port}")
        self._stopped = threading.Event()

    def start(self) -> GrpcServer:
        self.server.start()
        if self.health_server is not None:
            self.health_server.start()
        for name in ["", *self.service_names]:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self

    def drain(self, grace: float = 10.0, announce: float | None = None) -> None:
        """NOT_SERVING first and keep answering for `announce` seconds (SHUTDOWN_ANNOUNCE_SECONDS,
        default 1) so health checks and load balancers see it, then finish in-flight calls."""
        self.health.enter_graceful_shutdown()
        if announce is None:
            announce = float(os.environ.get("SHUTDOWN_ANNOUNCE_SECONDS", "1"))
        time.sleep(max(announce, 0.0))
        self.server.stop(grace).wait()
        if self.health_server is not None:
            self.health_server.stop(0)
        self._stopped.set()

    def wait(self) -> None:
        self._stopped.wait()


def install_signal_handlers(on_stop: Callable[[], None]) -> None:
    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s, draining", signal.Signals(signum).name)
        threading.Thread(target=on_stop, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
