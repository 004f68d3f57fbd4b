"""Encryption in transit with real servers: a crmkit gRPC server with TLS (and mTLS) called through
crmkit's own channel, a nats-server with a `tls {}` block and a crmkit bus connection over it, each
refused without the right CA, and the settings refusing a missing file at start."""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.exc import OperationalError

from crmkit import bus
from crmkit.auth import Principal, TokenVerifier, mint_token
from crmkit.config import AuthSettings, ConfigError, ServiceSettings, TlsSettings
from crmkit.db import make_engine
from crmkit.grpc_client import ServiceClient, open_channel
from crmkit.grpc_server import GrpcServer
from crmkit.testing import free_port, nats_server_binary, port_open, postgres_reachable, wait_for
from crmkit.tls import nats_context

pytestmark = pytest.mark.integration

SECRET = "tls-test-secret-0123456789abcdefghijkl"


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(cn: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
          usage: x509.ObjectIdentifier) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca, ca_key = _ca("shuniu-test-ca")
    server, server_key = _leaf("contacts", ca, ca_key, ExtendedKeyUsageOID.SERVER_AUTH)
    client, client_key = _leaf("gateway", ca, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH)
    other, _ = _ca("someone-else-ca")
    _write(d / "ca.crt", ca)
    _write(d / "server.crt", server, server_key)
    _write(d / "client.crt", client, client_key)
    _write(d / "other-ca.crt", other)
    return Pki(d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt", d / "client.key",
               d / "other-ca.crt")


def _server(tls: TlsSettings) -> GrpcServer:
    def say(request: bytes, context: grpc.ServicerContext) -> bytes:
        return b"hello " + request

    handler = grpc.method_handlers_generic_handler("test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)})
    return GrpcServer(service="tls", port=0, host="127.0.0.1", verifier=TokenVerifier(AuthSettings(SECRET, None, None, None)),
                      registrations=[lambda s: s.add_generic_rpc_handlers((handler,))], service_names=["test.Echo"],
                      max_workers=2, tls=tls).start()


class EchoStub:
    def __init__(self, channel: grpc.Channel) -> None:
        self.Say = channel.unary_unary("/test.Echo/Say")


def _say(channel: grpc.Channel) -> bytes:
    token = mint_token(Principal("rep-1", ("rep",)), SECRET)
    result: bytes = ServiceClient(EchoStub(channel), timeout=3, attempts=1).call(
        "Say", b"ana", metadata=[("authorization", f"Bearer {token}")], idempotent=False)
    return result


def test_grpc_over_tls_answers_and_refuses_plaintext_and_a_foreign_ca(pki: Pki) -> None:
    server = _server(TlsSettings(grpc_cert_file=str(pki.server_cert), grpc_key_file=str(pki.server_key),
                                 grpc_health_port=0))
    try:
        addr = f"localhost:{server.port}"
        with open_channel(addr, TlsSettings(grpc_ca_file=str(pki.ca))) as channel:
            assert _say(channel) == b"hello ana"
        with open_channel(addr, TlsSettings()) as plaintext, pytest.raises(grpc.RpcError) as refused:
            _say(plaintext)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with open_channel(addr, TlsSettings(grpc_ca_file=str(pki.other_ca))) as foreign, pytest.raises(grpc.RpcError) as refused:
            _say(foreign)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        # The kubelet's probes speak plaintext gRPC: only health answers there.
        assert server.health_port is not None
        with grpc.insecure_channel(f"127.0.0.1:{server.health_port}") as probe:
            status = health_pb2_grpc.HealthStub(probe).Check(health_pb2.HealthCheckRequest(), timeout=3).status
            assert status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.RpcError) as absent:
                _say(probe)
            assert absent.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        server.drain(grace=0, announce=0)


def test_mutual_tls_refuses_a_client_without_a_certificate(pki: Pki) -> None:
    server = _server(TlsSettings(grpc_cert_file=str(pki.server_cert), grpc_key_file=str(pki.server_key),
                                 grpc_client_ca_file=str(pki.ca)))
    try:
        addr = f"localhost:{server.port}"
        with open_channel(addr, TlsSettings(grpc_ca_file=str(pki.ca), grpc_client_cert_file=str(pki.client_cert),
                                            grpc_client_key_file=str(pki.client_key))) as channel:
            assert _say(channel) == b"hello ana"
        with open_channel(addr, TlsSettings(grpc_ca_file=str(pki.ca))) as anonymous, pytest.raises(grpc.RpcError) as refused:
            _say(anonymous)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.drain(grace=0, announce=0)


@pytest.fixture
def tls_nats(tmp_path: Path, pki: Pki) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    (tmp_path / "nats.conf").write_text(
        f'listen: "127.0.0.1:{port}"\n'
        f'jetstream {{\n  store_dir: "{tmp_path / "js"}"\n}}\n'
        f'tls {{\n  cert_file: "{pki.server_cert}"\n  key_file: "{pki.server_key}"\n'
        f'  ca_file: "{pki.ca}"\n  verify: true\n}}\n')
    log = open(tmp_path / "nats.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([nats_server_binary(), "-c", str(tmp_path / "nats.conf")], stdout=log, stderr=log)
    wait_for(lambda: port_open(port), what="the TLS nats-server")
    yield f"tls://localhost:{port}", proc
    proc.terminate()
    proc.wait(10)


def test_bus_publishes_to_jetstream_over_tls_and_is_refused_with_a_foreign_ca(
        tls_nats: tuple[str, subprocess.Popen[bytes]], pki: Pki) -> None:
    url, _ = tls_nats
    good = TlsSettings(nats_ca_file=str(pki.ca), nats_cert_file=str(pki.client_cert), nats_key_file=str(pki.client_key))

    async def publish() -> tuple[int, bytes, bool]:
        nc = await bus.connect(url, "tls-test", tls=good)
        try:
            js = nc.jetstream()
            await js.add_stream(name="TLSTEST", subjects=["crm.tls.>"])
            ack = await js.publish("crm.tls.contact.created", b"payload")
            message = await js.get_msg("TLSTEST", ack.seq)
            return ack.seq, message.data or b"", nc.connected_url is not None and nc.connected_url.scheme == "tls"
        finally:
            await nc.close()

    seq, data, over_tls = asyncio.run(publish())
    assert (seq, data, over_tls) == (1, b"payload", True)

    async def foreign() -> None:
        nc = bus.NATS()
        await nc.connect(servers=[url], tls=nats_context(TlsSettings(nats_ca_file=str(pki.other_ca))),
                         allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)

    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        asyncio.run(foreign())


def test_settings_name_the_variable_of_a_missing_certificate(tmp_path: Path, pki: Pki) -> None:
    base = {"DATABASE_URL": "sqlite://", "NATS_URL": "nats://127.0.0.1:4222", "JWT_SECRET": SECRET}
    with pytest.raises(ConfigError, match="GRPC_TLS_CERT_FILE names .*not a file"):
        ServiceSettings.from_env("contacts", {**base, "GRPC_TLS_CERT_FILE": str(tmp_path / "absent.crt"),
                                              "GRPC_TLS_KEY_FILE": str(pki.server_key)})
    with pytest.raises(ConfigError, match="set both GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE"):
        ServiceSettings.from_env("contacts", {**base, "GRPC_TLS_CERT_FILE": str(pki.server_cert)})
    with pytest.raises(ConfigError, match="NATS_TLS_CA_FILE names"):
        ServiceSettings.from_env("contacts", {**base, "NATS_TLS_CA_FILE": str(tmp_path / "nope.pem")})
    settings = ServiceSettings.from_env("contacts", {**base, "NATS_TLS_CA_FILE": str(pki.ca),
                                                      "GRPC_TLS_CA_FILE": str(pki.ca)})
    assert (settings.tls.nats_ca_file, settings.tls.grpc_ca_file) == (str(pki.ca), str(pki.ca))


@pytest.mark.skipif(not postgres_reachable(), reason="PostgreSQL on 127.0.0.1:5432 not reachable")
def test_postgres_ssl_parameters_of_the_url_reach_libpq() -> None:
    # The test server speaks no TLS: a URL asking for it must fail for that reason, proving that
    # sslmode travels from DATABASE_URL through SQLAlchemy and psycopg to libpq.
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres?sslmode=require")
    try:
        with pytest.raises(OperationalError, match="SSL was required"):
            engine.connect()
    finally:
        engine.dispose()


def test_a_service_runtime_serves_tls_from_its_settings(tmp_path: Path, pki: Pki) -> None:
    import dataclasses

    from crmkit.service import Components, ServiceRuntime, ServiceSpec
    from crmkit.testing import in_process_settings

    settings = in_process_settings("tlsdemo", f"sqlite:///{tmp_path / 'demo.db'}", "nats://127.0.0.1:1", tmp_path, SECRET)
    settings = dataclasses.replace(settings, tls=TlsSettings.from_env({
        "GRPC_TLS_CERT_FILE": str(pki.server_cert), "GRPC_TLS_KEY_FILE": str(pki.server_key)}))
    spec = ServiceSpec(name="tlsdemo", migrations=tmp_path, service_names=[], compose=lambda db, s: Components(servicers=[]),
                       produces=False)
    runtime = ServiceRuntime(spec, settings).start()
    try:
        assert runtime.server is not None
        request = health_pb2.HealthCheckRequest()
        with open_channel(f"localhost:{runtime.server.port}", TlsSettings(grpc_ca_file=str(pki.ca))) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(request, timeout=3).status
            assert status == health_pb2.HealthCheckResponse.SERVING
        with grpc.insecure_channel(f"127.0.0.1:{runtime.server.port}") as plaintext, pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(plaintext).Check(request, timeout=3)
    finally:
        runtime.stop()


def test_a_renewed_server_certificate_is_served_without_a_restart(tmp_path: Path, pki: Pki) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(pki.server_cert.read_bytes())
    key.write_bytes(pki.server_key.read_bytes())
    server = _server(TlsSettings(grpc_cert_file=str(cert), grpc_key_file=str(key)))
    try:
        addr = f"localhost:{server.port}"
        with open_channel(addr, TlsSettings(grpc_ca_file=str(pki.ca))) as channel:
            assert _say(channel) == b"hello ana"
        # cert-manager renews the Secret in place: here with a pair from a new CA, so only the
        # renewed certificate can satisfy a client that trusts the new CA alone.
        new_ca, new_ca_key = _ca("renewed-ca")
        renewed, renewed_key = _leaf("contacts", new_ca, new_ca_key, ExtendedKeyUsageOID.SERVER_AUTH)
        _write(tmp_path / "renewed-ca.crt", new_ca)
        _write(tmp_path / "renewed.crt", renewed, renewed_key)
        key.write_bytes((tmp_path / "renewed.key").read_bytes())
        cert.write_bytes((tmp_path / "renewed.crt").read_bytes())
        with open_channel(addr, TlsSettings(grpc_ca_file=str(tmp_path / "renewed-ca.crt"))) as channel:
            assert _say(channel) == b"hello ana"
        with open_channel(addr, TlsSettings(grpc_ca_file=str(pki.ca))) as stale, pytest.raises(grpc.RpcError):
            _say(stale)
    finally:
        server.drain(grace=0, announce=0)
