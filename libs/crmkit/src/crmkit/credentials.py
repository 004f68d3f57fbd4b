"""The bearer token a process presents when it calls a service on its own behalf (no user asked:
an unknown email sender becoming a contact, the gateway's public web form).

Two sources, chosen from the settings once: a token file the platform keeps fresh
(`SERVICE_TOKEN_FILE`, e.g. written by a client-credentials sidecar, re-read when it changes),
or a short-lived token minted with the shared HS256 secret for the given principal. With
neither, `authorization()` returns "" and the caller decides what to do without one."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from crmkit.auth import SYSTEM, Principal, mint_token
from crmkit.config import AuthSettings

TTL_SECONDS = 600
RENEW_BEFORE_SECONDS = 60


class ServiceCredentials:
    def __init__(self, auth: AuthSettings, principal: Principal = SYSTEM, ttl_seconds: int = TTL_SECONDS) -> None:
        self.principal = principal
        self._secret = auth.jwt_secret
        self._file = Path(auth.service_token_file) if auth.service_token_file else None
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._token, self._expires, self._mtime = "", 0.0, 0.0

    @property
    def available(self) -> bool:
        return self._file is not None or bool(self._secret)

    def token(self) -> str:
        """The bare token, or "" when this process has no way to get one."""
        with self._lock:
            if self._file is not None:
                mtime = self._file.stat().st_mtime
                if mtime != self._mtime:
                    self._token, self._mtime = self._file.read_text().strip(), mtime
                return self._token
            if not self._secret:
                return ""
            if time.time() > self._expires - RENEW_BEFORE_SECONDS:
                self._token = mint_token(self.principal, self._secret, ttl_seconds=self._ttl)
                self._expires = time.time() + self._ttl
            return self._token

    def authorization(self) -> str:
        """The `authorization` metadata value, or "" without a token."""
        token = self.token()
        return f"Bearer {token}" if token else ""
