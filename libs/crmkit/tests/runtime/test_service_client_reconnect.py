"""A write through crmkit.grpc_client.ServiceClient right after its backend restarted: the channel
is still reconnecting, gRPC refuses the call before sending it, and the client retries once when
the connection is up instead of answering 503 for a backend that is back."""
from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from crmkit.grpc_client import ServiceClient, open_channel
from crmkit.testing import free_port


class CountingHealth(health.HealthServicer):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def Check(self, request, context):  # noqa: ANN001, ANN201, N802
        self.calls += 1
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def _serve(port: int, servicer: CountingHealth) -> grpc.Server:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


def test_a_write_refused_while_the_channel_reconnects_is_sent_once_when_the_backend_is_back() -> None:
    port = free_port()
    channel = open_channel(f"127.0.0.1:{port}")
    client = ServiceClient(health_pb2_grpc.HealthStub(channel), timeout=5.0)
    with pytest.raises(grpc.RpcError) as down:   # nothing listens: the channel goes to TRANSIENT_FAILURE
        client.call("Check", health_pb2.HealthCheckRequest(), timeout=0.5)
    assert down.value.code() == grpc.StatusCode.UNAVAILABLE

    servicer = CountingHealth()
    started: list[grpc.Server] = []
    threading.Timer(0.3, lambda: started.append(_serve(port, servicer))).start()
    try:
        answer = client.call("Check", health_pb2.HealthCheckRequest())   # "Check": not idempotent by name
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        assert servicer.calls == 1
    finally:
        time.sleep(0.05)
        for server in started:
            server.stop(None)
        channel.close()
