"""SIGTERM on a real service process: health turns NOT_SERVING, the call in flight still gets
its answer, new calls are refused, and the process exits by itself with status 0."""
from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crmkit.auth import Principal, mint_token
from crmkit.testing import ServiceProcess, free_port, wait_for

pytestmark = pytest.mark.integration

SECRET = "drain-test-secret-0123456789abcdefghij"

# A test-only service: one slow unary method that holds until the test releases it.
SERVICE = textwrap.dedent('''
    import sys
    import time
    from pathlib import Path

    import grpc

    from crmkit.service import Components, ServiceSpec, run

    WORKDIR = Path(sys.argv[1])


    def wait(request, context):
        (WORKDIR / "entered").touch()
        deadline = time.monotonic() + 30
        while not (WORKDIR / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return b"done:" + request


    def compose(db, settings):
        handler = grpc.method_handlers_generic_handler(
            "test.Slow", {"Wait": grpc.unary_unary_rpc_method_handler(wait)})
        return Components(servicers=[lambda server: server.add_generic_rpc_handlers((handler,))])


    run(ServiceSpec(name="drain", migrations=WORKDIR, service_names=["test.Slow"], compose=compose,
                    produces=False))
''')


@pytest.fixture
def service(tmp_path: Path) -> ServiceProcess:
    script = tmp_path / "slow_service.py"
    script.write_text(SERVICE)
    port = free_port()
    env = {**os.environ, "DRAIN_DATABASE_URL": f"sqlite:///{tmp_path / 'drain.db'}",
           "NATS_URL": "nats://127.0.0.1:1", "PORT": str(port), "METRICS_PORT": "0", "JWT_SECRET": SECRET}
    process = ServiceProcess("drain", [sys.executable, str(script), str(tmp_path)], env, tmp_path, port).start()
    # the SIGTERM handler is installed right after the "serving" line
    wait_for(lambda: b'"msg": "serving"' in process.log_path.read_bytes(),
             what="the service to log that it is serving")
    yield process
    process.kill()


def test_sigterm_drains_in_flight_calls_and_reports_not_serving(service: ServiceProcess, tmp_path: Path) -> None:
    token = mint_token(Principal("admin", ("admin",)), SECRET)
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
        assert health.Check(health_pb2.HealthCheckRequest(service="test.Slow"), timeout=5).status == (
            health_pb2.HealthCheckResponse.SERVING)
        watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=30)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING

        slow = channel.unary_unary("/test.Slow/Wait")
        in_flight = slow.future(b"order-42", metadata=[("authorization", f"Bearer {token}")], timeout=30)
        wait_for(lambda: (tmp_path / "entered").exists(), what="the slow call to be in flight")

        service.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()

        def refused() -> bool:
            try:
                health.Check(health_pb2.HealthCheckRequest(), timeout=2)
            except grpc.RpcError as exc:
                return exc.code() == grpc.StatusCode.UNAVAILABLE
            return False

        wait_for(refused, what="new calls refused while draining")
        assert not in_flight.done()

        (tmp_path / "release").touch()
        assert in_flight.result(timeout=15) == b"done:order-42"
    assert service.proc.wait(15) == 0  # type: ignore[union-attr]


def test_calls_without_a_bearer_token_are_unauthenticated(service: ServiceProcess) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        slow = channel.unary_unary("/test.Slow/Wait")
        with pytest.raises(grpc.RpcError) as err:
            slow(b"x", timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as err:
            slow(b"x", metadata=[("authorization", "Bearer " + mint_token(Principal("u"), "another-secret-0123456789abcdefgh"))],
                 timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
