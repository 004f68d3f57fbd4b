"""Generates the development overlay's secrets once, into files git ignores, so no secret the
services accept is published in the repository (they refuse the documented example values).

    python deploy/dev_secrets.py        (or `make dev-secrets`; `make images` runs it too)

Writes deploy/k8s/overlays/dev/secrets/<secret>.env, one KEY=value line each, read by the dev
overlay's secretGenerator. Existing files are kept (a new JWT_SECRET would log every dev session
out, a new tracking key would break the links of mails already sent): delete one to rotate it."""
from __future__ import annotations

import secrets
import sys
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent / "k8s" / "overlays" / "dev" / "secrets"
# Secret name → the key it holds. Each value: 48 random bytes, URL-safe (64 characters).
GENERATED = {
    "crm-auth": "JWT_SECRET",
    "marketing-tracking": "MARKETING_TOKEN_SECRET",
    "privacy-suppression": "PRIVACY_SUPPRESSION_KEY",
    "webhooks-secrets": "WEBHOOKS_SECRET_KEY",
}


def ensure(directory: Path = DIRECTORY) -> list[Path]:
    """Write the env files that are missing; return the ones written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, key in GENERATED.items():
        path = directory / f"{name}.env"
        if path.exists():
            continue
        path.touch(mode=0o600)
        path.write_text(f"{key}={secrets.token_urlsafe(48)}\n")
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
