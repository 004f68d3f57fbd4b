"""The HTTP adapter against real local servers: it connects to the address it was given (not to
a fresh lookup of the name), sends the URL's host in the Host header, reports a redirect as the
answer instead of following it, gives up on a receiver that does not answer in time, and over
https checks the certificate against the URL's host while connecting to the checked address."""
from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crm_webhooks.ports import HttpSender
from crm_webhooks.rules.targets import parse_target

pytestmark = pytest.mark.integration


class Server:
    def __init__(self, status: int = 200, location: str = "", delay: float = 0.0) -> None:
        self.hosts: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.hosts.append(self.headers.get("Host", ""))
                time.sleep(delay)
                try:
                    self.send_response(status)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"no")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting, as it should

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    made: list[Server] = []
    yield made
    for server in made:
        server.close()


def test_the_checked_address_is_used_and_the_name_goes_in_the_host_header(servers: list[Server]) -> None:
    server = Server()
    servers.append(server)
    # The name does not resolve at all: only the address given is ever contacted.
    target = parse_target(f"http://erp.never-resolves.invalid:{server.port}/hooks")
    answer = HttpSender()(target, "127.0.0.1", {"Content-Type": "application/json"}, b"{}")
    assert answer.status == 200 and server.hosts == [f"erp.never-resolves.invalid:{server.port}"]


def test_a_redirect_is_an_answer_not_followed(servers: list[Server]) -> None:
    inside = Server()
    redirecting = Server(status=302, location=f"http://127.0.0.1:{inside.port}/admin")
    servers.extend([inside, redirecting])
    target = parse_target(f"http://127.0.0.1:{redirecting.port}/hooks")
    answer = HttpSender()(target, "127.0.0.1", {}, b"{}")
    assert answer.status == 302 and inside.hosts == []


def test_a_receiver_that_does_not_answer_in_time_is_given_up(servers: list[Server]) -> None:
    slow = Server(delay=2.0)
    servers.append(slow)
    target = parse_target(f"http://127.0.0.1:{slow.port}/hooks")
    with pytest.raises(OSError) as caught:
        HttpSender(connect_timeout=1.0, read_timeout=0.3)(target, "127.0.0.1", {}, b"{}")
    assert isinstance(caught.value, (socket.timeout, TimeoutError))


# -- https: the connection goes to the checked address, the certificate is checked for the URL's name

def _self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_checks_the_certificate_against_the_urls_host(servers: list[Server], tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "erp.example.test")
    server = Server()
    servers.append(server)
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    server.http.socket = served.wrap_socket(server.http.socket, server_side=True)
    trusted = ssl.create_default_context(cafile=str(cert))
    sender = HttpSender(tls=trusted)
    good = parse_target(f"https://erp.example.test:{server.port}/hooks")
    assert sender(good, "127.0.0.1", {}, b"{}").status == 200
    assert server.hosts == [f"erp.example.test:{server.port}"]
    wrong = parse_target(f"https://other.example.test:{server.port}/hooks")
    with pytest.raises(ssl.SSLCertVerificationError):
        sender(wrong, "127.0.0.1", {}, b"{}")
