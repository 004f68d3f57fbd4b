"""Generates the development overlay's secrets once, into files git ignores, so no secret the
services accept is published in the repository (they refuse the documented example values).

    python deploy/dev_secrets.py        (or `make dev-secrets`; `make images` runs it too)

Writes deploy/k8s/overlays/dev/secrets/<secret>.env, one KEY=value line each, read by the dev
overlay's secretGenerator. Existing files are kept (a new JWT_SECRET would log every dev session
out, a new tracking key would break the links of mails already sent): delete one to rotate it."""
from __future__ import annotations

import base64
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent / "k8s" / "overlays" / "dev" / "secrets"

def _token() -> str:
    return secrets.token_urlsafe(48)  # 48 random bytes, URL-safe (64 characters)


def _aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()  # what SUBJECT_KEYS_KEK must be


# Secret name → the key it holds and how its value is made.
GENERATED: dict[str, tuple[str, Callable[[], str]]] = {
    "crm-auth": ("JWT_SECRET", _token),
    "marketing-tracking": ("MARKETING_TOKEN_SECRET", _token),
    "privacy-suppression": ("PRIVACY_SUPPRESSION_KEY", _token),
    "webhooks-secrets": ("WEBHOOKS_SECRET_KEY", _token),
    "subject-keys": ("SUBJECT_KEYS_KEK", _aes_key),
}


def ensure(directory: Path = DIRECTORY) -> list[Path]:
    """Write the env files that are missing; return the ones written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (key, make) in GENERATED.items():
        path = directory / f"{name}.env"
        if path.exists():
            continue
        path.touch(mode=0o600)
        path.write_text(f"{key}={make()}\n")
        written.append(path)
    return written


def main() -> int:
    written = ensure()
    for path in written:
        print(f"generated {path}")
    if not written:
        print(f"dev secrets already in {DIRECTORY} (delete a file to rotate it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
