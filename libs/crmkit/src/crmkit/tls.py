"""Encryption in transit: gRPC server and channel credentials and the NATS TLS context, built from
TlsSettings (crmkit.config). Unset settings mean plaintext, as in local runs and tests.

The server re-reads its certificate and key when the files change (cert-manager renews them in
place in the mounted Secret), on the next new connection; clients read their files when they
open a channel, i.e. at start."""
from __future__ import annotations

import os
import ssl
import threading
from pathlib import Path

import grpc

from crmkit.config import TlsSettings


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _stamp(*paths: str | None) -> tuple[float, ...]:
    return tuple(os.stat(p).st_mtime for p in paths if p)


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials | None:
    """TLS for the gRPC listener when GRPC_TLS_CERT_FILE/KEY_FILE are set; with
    GRPC_TLS_CLIENT_CA_FILE a client must present a certificate that CA signed (mTLS)."""
    if not tls.grpc_cert_file or not tls.grpc_key_file:
        return None
    files = (tls.grpc_cert_file, tls.grpc_key_file, tls.grpc_client_ca_file)
    lock = threading.Lock()
    seen = [_stamp(*files)]

    def configuration() -> grpc.ServerCertificateConfiguration:
        key, cert = _read(tls.grpc_key_file), _read(tls.grpc_cert_file)
        assert key is not None and cert is not None
        return grpc.ssl_server_certificate_configuration([(key, cert)], _read(tls.grpc_client_ca_file))

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        # Called by gRPC on each new connection: None keeps the configuration it has.
        with lock:
            try:
                stamp = _stamp(*files)
                if stamp == seen[0]:
                    return None
                config = configuration()
            except (OSError, AssertionError):  # mid-rotation: keep serving the previous pair
                return None
            seen[0] = stamp
            return config

    # gRPC documents None from the fetcher as "no change"; types-grpcio does not allow it.
    return grpc.dynamic_ssl_server_credentials(configuration(), fetch,  # type: ignore[arg-type]
                                               bool(tls.grpc_client_ca_file))


def channel_credentials(tls: TlsSettings) -> grpc.ChannelCredentials | None:
    """TLS for calls to another service when GRPC_TLS_CA_FILE is set (the CA that signed the
    servers' certificates), presenting GRPC_TLS_CLIENT_CERT_FILE/KEY_FILE when set (mTLS)."""
    if not tls.grpc_ca_file:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.grpc_ca_file),
        private_key=_read(tls.grpc_client_key_file),
        certificate_chain=_read(tls.grpc_client_cert_file),
    )


def nats_context(tls: TlsSettings) -> ssl.SSLContext | None:
    """TLS for the NATS connection when NATS_TLS_CA_FILE is set; NATS_TLS_CERT_FILE/KEY_FILE add a
    client certificate (a server with `verify: true` in its tls block requires one)."""
    if not tls.nats_ca_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.nats_ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.nats_cert_file and tls.nats_key_file:
        context.load_cert_chain(tls.nats_cert_file, tls.nats_key_file)
    return context
