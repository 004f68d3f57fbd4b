"""The ceiling and the transport floor, both under the gateway's own gunicorn settings.

/ping: a bare Flask route (the ceiling every gateway throughput is a ratio of).
/hop: the same route plus one gRPC call to a server that does no work (grpc health Check, on
HOP_ADDR), the least any proxied read through the gateway can cost."""
from __future__ import annotations

import os

from flask import Flask
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crmkit.grpc_client import open_channel

app = Flask(__name__)
_CHECK = health_pb2.HealthCheckRequest()
_stub: health_pb2_grpc.HealthStub | None = None  # opened in the worker, after gunicorn's fork


@app.get("/ping")
def ping() -> tuple[str, int]:
    return "pong", 200


@app.get("/hop")
def hop() -> tuple[str, int]:
    global _stub
    if _stub is None:
        _stub = health_pb2_grpc.HealthStub(open_channel(os.environ["HOP_ADDR"]))
    answer = _stub.Check(_CHECK, timeout=5)
    return str(answer.status), 200
