"""Gateway configuration, read once from the environment. A missing or malformed value fails at
start with a message naming the variable, before any worker takes traffic."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from crm_gateway.console_settings import ConsoleSettings
from crmkit.config import AuthSettings, ConfigError, TlsSettings, service_addr


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0) -> float:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    value = _number(env, name, default, minimum=minimum)
    if value != int(value):
        raise ConfigError(f"{name} must be a whole number, got {env.get(name)!r}")
    return int(value)


def _redis_url(env: Mapping[str, str]) -> str:
    url = env.get("RATE_LIMIT_REDIS_URL", "").strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"RATE_LIMIT_REDIS_URL must be a redis://, rediss:// or unix:// URL, got {url!r}")
    return url


OPTIONAL_SERVICES = ("sales", "marketing", "support", "privacy", "webhooks")


def _sms_secret(env: Mapping[str, str]) -> str:
    secret = env.get("SMS_CALLBACK_SECRET", "").strip()
    if secret and len(secret) < 16:
        raise ConfigError("SMS_CALLBACK_SECRET must be at least 16 characters (it is the callbacks' credential)")
    return secret


@dataclass(frozen=True)
class GatewaySettings:
    contacts_addr: str
    reporting_addr: str
    auth: AuthSettings
    rate_limit_rps: float = 200.0  # per client; 0 disables the limit
    rate_limit_burst: int = 400
    # Where the buckets live: a Redis URL shared by every worker and replica, or "" for each
    # process's memory (make run, tests: N workers then allow N × the rate).
    rate_limit_redis_url: str = ""
    public_writes_per_minute: int = 30  # per visitor address, over every public POST; 0 disables
    max_body_bytes: int = 1024 * 1024
    grpc_timeout: float = 5.0
    readiness_timeout: float = 0.5
    token_cache_size: int = 10_000
    token_cache_ttl: float = 300.0  # upper bound even for long-lived tokens: JWKS keys rotate
    trusted_proxy_hops: int = 0  # X-Forwarded-For hops to trust for the client address
    # Services beyond the two the gateway cannot work without: routed only when configured.
    optional_addrs: Mapping[str, str] = field(default_factory=dict)
    # TLS to the services (GRPC_TLS_CA_FILE, client certificate for mTLS): checked at start.
    tls: TlsSettings = field(default_factory=TlsSettings)
    # The web console: its files at /, dev sign-in (off unless DEV_SIGN_IN_USERS_FILE), OIDC settings.
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    # The SMS provider's callbacks (replies, delivery receipts) carry it as ?token= (routes_sms.py).
    sms_callback_secret: str = field(default="", repr=False)
    # Export jobs' files: a directory every replica mounts (a ReadWriteMany volume), and how long
    # a finished job's file is kept (routes_exports.py, export_jobs.py). "": a temporary directory.
    export_dir: str = ""
    export_retention_hours: float = 24.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if env is None else env
        auth = AuthSettings.from_env(env)
        return cls(
            contacts_addr=service_addr("contacts", env),
            reporting_addr=service_addr("reporting", env),
            auth=auth,
            rate_limit_rps=_number(env, "RATE_LIMIT_RPS", 200.0),
            rate_limit_burst=_int(env, "RATE_LIMIT_BURST", 400, minimum=1),
            rate_limit_redis_url=_redis_url(env),
            public_writes_per_minute=_int(env, "RATE_LIMIT_PUBLIC_WRITES_PER_MINUTE", 30),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024, minimum=1),
            grpc_timeout=_number(env, "GATEWAY_GRPC_TIMEOUT_SECONDS", 5.0, minimum=0.01),
            readiness_timeout=_number(env, "GATEWAY_READINESS_TIMEOUT_SECONDS", 0.5, minimum=0.01),
            token_cache_size=_int(env, "TOKEN_CACHE_SIZE", 10_000),
            token_cache_ttl=_number(env, "TOKEN_CACHE_TTL_SECONDS", 300.0),
            trusted_proxy_hops=_int(env, "GATEWAY_TRUSTED_PROXY_HOPS", 0),
            optional_addrs={
                name: env[f"{name.upper()}_SERVICE_ADDR"]
                for name in OPTIONAL_SERVICES
                if env.get(f"{name.upper()}_SERVICE_ADDR")
            },
            tls=TlsSettings.from_env(env),
            console=ConsoleSettings.from_env(env, auth),
            sms_callback_secret=_sms_secret(env),
            export_dir=env.get("EXPORT_DIR", "").strip(),
            export_retention_hours=_number(env, "EXPORT_RETENTION_HOURS", 24.0, minimum=0.01),
        )
