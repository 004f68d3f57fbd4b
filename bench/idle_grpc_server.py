"""A gRPC server that answers health checks and does nothing else: the far end of the
transport-floor measurement (bench/ping_app.py /hop). Same thread pool size as a service."""
from __future__ import annotations

import sys
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2_grpc

if __name__ == "__main__":
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{sys.argv[1]}")
    server.start()
    server.wait_for_termination()
