"""The world outside as this service needs it: name resolution and an HTTP POST to the address
that was checked. Fakes for unit tests live in tests/fakes.py."""
from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from typing import Protocol

from crm_webhooks.rules.targets import Target

MAX_ANSWER = 4096  # bytes of the receiver's answer kept for the log; the rest is not read


class Resolver(Protocol):
    def __call__(self, host: str, port: int) -> list[str]: ...


def resolve(host: str, port: int) -> list[str]:
    """Every address the name has (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"cannot resolve {host}: {exc}") from None
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class Answer:
    status: int
    text: str  # the start of the body, for the log


class Sender(Protocol):
    def __call__(self, target: Target, address: str, headers: dict[str, str], body: bytes) -> Answer: ...


@dataclass(frozen=True)
class HttpSender:
    """POST over a connection to `address` (the checked IP, never a new lookup), the Host header
    and, for https, the certificate checked against the URL's host name. Redirects are answers,
    not followed. `connect_timeout` bounds the TCP and TLS handshakes, `read_timeout` each read."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    tls: ssl.SSLContext | None = None

    def __call__(self, target: Target, address: str, headers: dict[str, str], body: bytes) -> Answer:
        sock = socket.create_connection((address, target.port), timeout=self.connect_timeout)
        try:
            if target.scheme == "https":
                context = self.tls or ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=target.host)
            sock.settimeout(self.read_timeout)
            conn = http.client.HTTPConnection(target.host, target.port, timeout=self.read_timeout)
            conn.sock = sock  # already connected to the checked address
            conn.request("POST", target.path, body=body,
                         headers={**headers, "Host": target.host_header, "User-Agent": "Shuniu-Webhooks/1"})
            response = conn.getresponse()
            text = response.read(MAX_ANSWER).decode("utf-8", "replace")
            return Answer(response.status, text)
        finally:
            sock.close()
