"""Signing secrets at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`)
under a key derived from `WEBHOOKS_SECRET_KEY`, so a copy of the database (a backup, a dump, a
replica) does not let anyone sign webhooks. Every secret we hand out, stored or returned from a
stored idempotency answer, is the sealed form; it is opened only to sign, or to answer the one
call that made it.

The key setting is any long random string (like JWT_SECRET; `openssl rand -base64 48`), turned
into a Fernet key by HKDF-SHA256, so the Secret's value need not be in Fernet's own format.
Several keys, comma-separated, rotate it: the first seals, any opens (`MultiFernet`)."""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_KEY_BYTES = 32
EXAMPLE_KEYS = frozenset({"CHANGE-ME", "change-me", "secret", "..."})
_INFO = b"crm-webhooks subscription secrets v1"


class SealingError(ValueError):
    pass


def _fernet(material: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def check_key(material: str, name: str = "WEBHOOKS_SECRET_KEY") -> None:
    if material in EXAMPLE_KEYS:
        raise SealingError(f"{name} is an example value published in the documentation; generate one, "
                           "e.g. `openssl rand -base64 48`")
    if len(material.encode()) < MIN_KEY_BYTES:
        raise SealingError(f"{name} must be at least {MIN_KEY_BYTES} bytes (got {len(material.encode())}); "
                           "generate one, e.g. `openssl rand -base64 48`")


class SecretBox:
    """Seals and opens subscription secrets."""

    def __init__(self, keys: str) -> None:
        materials = [k.strip() for k in keys.split(",") if k.strip()]
        if not materials:
            raise SealingError("WEBHOOKS_SECRET_KEY is empty")
        for material in materials:
            check_key(material)
        self._fernet = MultiFernet([_fernet(m) for m in materials])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SealingError("the secret cannot be opened with WEBHOOKS_SECRET_KEY (another key sealed it, "
                               "or it was stored before secrets were sealed)") from None

    def is_sealed(self, stored: str) -> bool:
        try:
            self._fernet.decrypt(stored.encode())
        except InvalidToken:
            return False
        return True

    def reseal(self, stored: str) -> str:
        """The secret sealed with the first key (after a rotation of the key)."""
        return self._fernet.rotate(stored.encode()).decode()
