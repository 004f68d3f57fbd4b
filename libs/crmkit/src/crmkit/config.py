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
}
DEV_JWT_SECRET = "shuniu-dev-secret-change-me-in-production"
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
        return cls(secret, jwks, env.get("JWT_ISSUER") or None, env.get("JWT_AUDIENCE") or None,
                   env.get("SERVICE_TOKEN_FILE") or None)


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
            consumer_max_deliveries=int(env.get("CONSUMER_MAX_DELIVERIES", "5")),
            consumer_batch=int(env.get("CONSUMER_BATCH", "200")),
            grpc_workers=int(env.get("GRPC_WORKERS", "16")),
            scheduler_interval=float(env.get(f"{prefix}_SCHEDULER_INTERVAL", "15" if service == "support" else "5")),
            sqlite_synchronous=_sqlite_synchronous(env),
            mail=MailSettings.from_env(env),
        )


def _sqlite_synchronous(env: Mapping[str, str]) -> str:
    value = env.get("SQLITE_SYNCHRONOUS", "FULL").upper()
    if value not in SQLITE_SYNC_LEVELS:
        raise ConfigError(f"SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA, not {value!r}")
    return value


def service_addr(service: str, env: Mapping[str, str] | None = None) -> str:
    """`<SVC>_SERVICE_ADDR`, required: a client must know where its dependency lives."""
    env = os.environ if env is None else env
    return _require(env, f"{service.upper()}_SERVICE_ADDR")
