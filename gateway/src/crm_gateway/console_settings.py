"""The console's settings (crm_gateway.console), read once at start with the gateway's: where the
built console is, the demo users of dev sign-in, the OIDC provider the console signs in with."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crmkit.auth import Principal
from crmkit.config import AuthSettings, ConfigError


@dataclass(frozen=True)
class ConsoleSettings:
    dist: str = ""  # CONSOLE_DIST: console/dist to serve at /; "" serves nothing
    dev_users: tuple[Principal, ...] = ()  # from DEV_SIGN_IN_USERS_FILE; () → no dev routes
    # What /console/config.json tells the console about production sign-in (OIDC, PKCE).
    oidc: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str], auth: AuthSettings) -> ConsoleSettings:
        dist = env.get("CONSOLE_DIST", "").strip()
        if dist and not (Path(dist) / "index.html").is_file():
            raise ConfigError(f"CONSOLE_DIST must be a built console (with index.html), got {dist!r}")
        users_file = env.get("DEV_SIGN_IN_USERS_FILE", "").strip()
        users = _read_users(users_file) if users_file else ()
        if users and (auth.jwks_url or not auth.jwt_secret):
            raise ConfigError("DEV_SIGN_IN_USERS_FILE mints HS256 tokens with JWT_SECRET: unset it where "
                              "tokens come from an OIDC provider (JWT_JWKS_URL)")
        oidc = {key: env.get(f"CONSOLE_OIDC_{key.upper()}", "").strip() for key in ("authority", "client_id", "scope")}
        return cls(dist, users, {k: v for k, v in oidc.items() if v})


def _read_users(path: str) -> tuple[Principal, ...]:
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"DEV_SIGN_IN_USERS_FILE {path!r} is not a readable JSON list: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and r.get("user_id") for r in rows):
        raise ConfigError(f"DEV_SIGN_IN_USERS_FILE {path!r} must be a JSON list of objects with a user_id")
    return tuple(
        Principal(str(r["user_id"]), tuple(str(x) for x in r.get("roles", [])), str(r.get("team", "")),
                  str(r.get("region", "")), str(r.get("name", "")))
        for r in rows
    )


def write_users_file(path: Path, users: list[Principal]) -> Path:
    """The file DEV_SIGN_IN_USERS_FILE reads (devrun writes it from the demo users)."""
    rows = [{"user_id": u.user_id, "roles": list(u.roles), "team": u.team, "region": u.region, "name": u.name}
            for u in users]
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
