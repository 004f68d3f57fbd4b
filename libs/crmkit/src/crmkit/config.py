"""Configuration from environment variables, read once at start. Missing required values fail
fast with a message naming the variable, before anything connects."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORTS = {
    "contacts": (50051, 9101),
    "sales": (50052, 9102),
    "marketing": (50053, 9103),
    "support": (50054, 9104),
    "reporting": (50055, 9105),
    "privacy": (50056, 9106),
    "webhooks": (50057, 9107),
}
DEV_JWT_SECRET = "shuniu-dev-secret-change-me-in-production"
# HS256 needs a key at least as long as its hash (RFC 7518 §3.2): 32 bytes.
MIN_JWT_SECRET_BYTES = 32
# Secrets printed in this repository (docs, the dev overlay, secrets.example.yaml): anyone can sign
# tokens with them, so no process accepts one.
EXAMPLE_JWT_SECRETS = frozenset({DEV_JWT_SECRET, "CHANGE-ME", "change-me", "secret", "..."})
# PRAGMA synchronous levels a service's SQLite database may run with (see crmkit.db).
SQLITE_SYNC_LEVELS = ("FULL", "NORMAL", "EXTRA")


class ConfigError(RuntimeError):
    pass


def _require(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = env.get(name)
        if value:
            return value
    raise ConfigError(f"missing required environment variable {' or '.join(names)}")


@dataclass(frozen=True)
class AuthSettings:
    jwt_secret: str | None
    jwks_url: str | None
    issuer: str | None
    audience: str | None
    # A token this process presents when it calls another service on its own behalf, kept fresh
    # in a file by the platform (e.g. a client-credentials sidecar); without it, one is minted
    # with JWT_SECRET.
    service_token_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthSettings:
        env = os.environ if env is None else env
        jwks = env.get("JWT_JWKS_URL") or None
        secret = env.get("JWT_SECRET") or None
        if not jwks and not secret:
            raise ConfigError("set JWT_SECRET (HS256, local use) or JWT_JWKS_URL (RS256, OIDC)")
        if secret is not None:
            check_jwt_secret(secret)
        return cls(secret, jwks, env.get("JWT_ISSUER") or None, env.get("JWT_AUDIENCE") or None,
                   env.get("SERVICE_TOKEN_FILE") or None)


def check_jwt_secret(secret: str) -> None:
    """Refuse at start a secret anyone could guess: too short for HS256, or one printed in docs."""
    if secret.strip() in EXAMPLE_JWT_SECRETS:
        raise ConfigError("JWT_SECRET is an example secret published in the documentation; generate one, "
                          "e.g. `openssl rand -base64 48`")
    if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        raise ConfigError(f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (got {len(secret.encode())}); "
                          "generate one, e.g. `openssl rand -base64 48`")


DEFAULT_MAIL_FROM = "Shuniu CRM <no-reply@shuniu-crm.localhost>"
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class MailSettings:
    """Outgoing mail (crmkit.mail): `SMTP_URL` the relay (unset: no mail is sent), `MAIL_FROM` the
    default sender, `PUBLIC_BASE_URL` the gateway's public address that links in mails point at."""

    smtp_url: str | None = None
    mail_from: str = DEFAULT_MAIL_FROM
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MailSettings:
        env = os.environ if env is None else env
        mail_from = (env.get("MAIL_FROM") or DEFAULT_MAIL_FROM).strip()
        if "@" not in mail_from or "\n" in mail_from or "\r" in mail_from:
            raise ConfigError(f"MAIL_FROM must be an address like 'Shuniu CRM <crm@example.com>', not {mail_from!r}")
        base = (env.get("PUBLIC_BASE_URL") or DEFAULT_PUBLIC_BASE_URL).strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"PUBLIC_BASE_URL must start with http:// or https://, not {base!r}")
        return cls(env.get("SMTP_URL", "").strip() or None, mail_from, base)


def _tls_file(env: Mapping[str, str], name: str) -> str | None:
    """A PEM file a TLS setting names: unset → None; set → it must exist and be readable now."""
    value = (env.get(name) or "").strip()
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"{name} names {value!r}, which is not a file")
    try:
        path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name} names {value!r}, which cannot be read: {exc.strerror}") from None
    return value


def _tls_pair(env: Mapping[str, str], cert: str, key: str) -> tuple[str | None, str | None]:
    cert_file, key_file = _tls_file(env, cert), _tls_file(env, key)
    if (cert_file is None) != (key_file is None):
        raise ConfigError(f"set both {cert} and {key}, or neither")
    return cert_file, key_file


@dataclass(frozen=True)
class TlsSettings:
    """Encryption in transit (crmkit.tls), every value a path to a PEM file; unset → plaintext.
    gRPC server: `GRPC_TLS_CERT_FILE` + `GRPC_TLS_KEY_FILE`, and `GRPC_TLS_CLIENT_CA_FILE` to
    require client certificates (mTLS). gRPC clients: `GRPC_TLS_CA_FILE` (and
    `GRPC_TLS_CLIENT_CERT_FILE` + `GRPC_TLS_CLIENT_KEY_FILE` for mTLS). NATS: `NATS_TLS_CA_FILE`
    (and `NATS_TLS_CERT_FILE` + `NATS_TLS_KEY_FILE`). `GRPC_HEALTH_PORT`: with a TLS server, a
    plaintext port that serves only grpc.health.v1 (the kubelet's gRPC probes speak no TLS)."""

    grpc_cert_file: str | None = None
    grpc_key_file: str | None = None
    grpc_client_ca_file: str | None = None
    grpc_ca_file: str | None = None
    grpc_client_cert_file: str | None = None
    grpc_client_key_file: str | None = None
    nats_ca_file: str | None = None
    nats_cert_file: str | None = None
    nats_key_file: str | None = None
    grpc_health_port: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TlsSettings:
        env = os.environ if env is None else env
        cert, key = _tls_pair(env, "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE")
        client_ca = _tls_file(env, "GRPC_TLS_CLIENT_CA_FILE")
        if client_ca and not cert:
            raise ConfigError("GRPC_TLS_CLIENT_CA_FILE needs GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE")
        client_cert, client_key = _tls_pair(env, "GRPC_TLS_CLIENT_CERT_FILE", "GRPC_TLS_CLIENT_KEY_FILE")
        ca = _tls_file(env, "GRPC_TLS_CA_FILE")
        if client_cert and not ca:
            raise ConfigError("GRPC_TLS_CLIENT_CERT_FILE needs GRPC_TLS_CA_FILE")
        nats_cert, nats_key = _tls_pair(env, "NATS_TLS_CERT_FILE", "NATS_TLS_KEY_FILE")
        nats_ca = _tls_file(env, "NATS_TLS_CA_FILE")
        if nats_cert and not nats_ca:
            raise ConfigError("NATS_TLS_CERT_FILE needs NATS_TLS_CA_FILE")
        health = (env.get("GRPC_HEALTH_PORT") or "").strip()
        if health and not health.isdigit():
            raise ConfigError(f"GRPC_HEALTH_PORT must be a port number, not {health!r}")
        return cls(cert, key, client_ca, ca, client_cert, client_key, nats_ca, nats_cert, nats_key,
                   int(health) if health else None)


@dataclass(frozen=True)
class ServiceSettings:
    service: str
    database_url: str
    nats_url: str
    grpc_port: int
    metrics_port: int
    log_level: str
    data_dir: Path
    auth: AuthSettings
    opensearch_url: str | None
    relay_batch: int
    consumer_max_deliveries: int
    consumer_batch: int
    grpc_workers: int = 16
    # Seconds between runs of the service's scheduled work (`<SVC>_SCHEDULER_INTERVAL`).
    scheduler_interval: float = 5.0
    # PRAGMA synchronous of a SQLite database (`SQLITE_SYNCHRONOUS`): FULL, NORMAL or EXTRA.
    sqlite_synchronous: str = "FULL"
    mail: MailSettings = field(default_factory=MailSettings)
    # The address the gRPC and metrics listeners bind (`BIND_HOST`): every interface by default, as
    # a container needs; `make run` binds 127.0.0.1.
    bind_host: str = "0.0.0.0"
    tls: TlsSettings = field(default_factory=TlsSettings)
    # Where a searching service keeps its index without OPENSEARCH_URL (`SEARCH_ENGINE`):
    # "embedded" (per process, one replica) or "database" (in its database, shared by replicas).
    search_engine: str = "embedded"
    # The most events the relay puts in one NATS message (`OUTBOX_BUNDLE_EVENTS`, crmkit.bundles);
    # 1: one message per event, for consumers of a version that reads no bundles.
    relay_bundle: int = 50

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None) -> ServiceSettings:
        env = os.environ if env is None else env
        prefix = service.upper()
        grpc_default, metrics_default = DEFAULT_PORTS.get(service, (50050, 9100))
        return cls(
            service=service,
            database_url=_require(env, f"{prefix}_DATABASE_URL", "DATABASE_URL"),
            nats_url=_require(env, "NATS_URL"),
            grpc_port=int(env.get("PORT", grpc_default)),
            metrics_port=int(env.get("METRICS_PORT", metrics_default)),
            log_level=env.get("LOG_LEVEL", "INFO"),
            data_dir=Path(env.get("DATA_DIR", "var")),
            auth=AuthSettings.from_env(env),
            opensearch_url=env.get("OPENSEARCH_URL") or None,
            relay_batch=int(env.get("OUTBOX_RELAY_BATCH", "500")),
            relay_bundle=int(env.get("OUTBOX_BUNDLE_EVENTS", "50")),
            consumer_max_deliveries=int(env.get("CONSUMER_MAX_DELIVERIES", "5")),
            consumer_batch=int(env.get("CONSUMER_BATCH", "200")),
            grpc_workers=int(env.get("GRPC_WORKERS", "16")),
            scheduler_interval=float(env.get(f"{prefix}_SCHEDULER_INTERVAL", "15" if service == "support" else "5")),
            sqlite_synchronous=_sqlite_synchronous(env),
            mail=MailSettings.from_env(env),
            bind_host=bind_host(env),
            tls=TlsSettings.from_env(env),
            search_engine=_search_engine(env),
        )


def _sqlite_synchronous(env: Mapping[str, str]) -> str:
    value = env.get("SQLITE_SYNCHRONOUS", "FULL").upper()
    if value not in SQLITE_SYNC_LEVELS:
        raise ConfigError(f"SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA, not {value!r}")
    return value


def bind_host(env: Mapping[str, str] | None = None) -> str:
    """`BIND_HOST`: the address a process's listeners bind; default every interface (0.0.0.0)."""
    env = os.environ if env is None else env
    host = env.get("BIND_HOST", "").strip() or "0.0.0.0"
    if any(c.isspace() or c in "/@" for c in host) or (":" in host and not host.startswith("[")):
        raise ConfigError(f"BIND_HOST must be an address such as 127.0.0.1, 0.0.0.0 or [::], not {host!r}")
    return host


def service_addr(service: str, env: Mapping[str, str] | None = None) -> str:
    """`<SVC>_SERVICE_ADDR`, required: a client must know where its dependency lives."""
    env = os.environ if env is None else env
    return _require(env, f"{service.upper()}_SERVICE_ADDR")


def _search_engine(env: Mapping[str, str]) -> str:
    engine = env.get("SEARCH_ENGINE", "embedded").strip().lower() or "embedded"
    if engine not in ("embedded", "database"):
        raise ConfigError(f"SEARCH_ENGINE must be embedded or database, not {engine!r} (OpenSearch: set OPENSEARCH_URL)")
    return engine
