"""The JWT secret of `make run`: generated once (48 random bytes, URL-safe base64) into
`var/jwt-secret`, readable by its owner only, and reused by every later `make run` and by
`make token`, so no published development secret ever signs a token. `JWT_SECRET` in the
environment wins over the file (the services refuse a short or documented one)."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

SECRET_FILE = "jwt-secret"


def secret_path(var_dir: Path) -> Path:
    return var_dir / SECRET_FILE


def read_secret(var_dir: Path, env: Mapping[str, str] | None = None) -> str | None:
    """JWT_SECRET if set, else the secret `make run` generated under `var_dir`, else None."""
    env = os.environ if env is None else env
    given = env.get("JWT_SECRET", "").strip()
    if given:
        return given
    path = secret_path(var_dir)
    if not path.exists():
        return None
    return path.read_text().strip() or None


def ensure_secret(var_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """The secret to run with: JWT_SECRET, or the one in `var_dir`, generated now if there is none."""
    existing = read_secret(var_dir, env)
    if existing:
        return existing
    return _generated(secret_path(var_dir))


def ensure_key(var_dir: Path, file_name: str) -> str:
    """Another key `make run` keeps across runs the same way (e.g. `webhooks-secret-key`, which seals
    the webhooks' signing secrets in var/webhooks.db: a new one each run could not open them)."""
    path = var_dir / file_name
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    return _generated(path)


def _generated(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)  # 48 bytes of entropy, 64 characters
    # O_EXCL: two `make run`s started at once cannot each write their own.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value
