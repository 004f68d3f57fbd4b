"""Bearer-token verification with a bounded cache. Verifying a JWT costs tens of microseconds
(more with RS256), and a client sends the same token on every request, so a verified token is
remembered until it expires (capped by `max_ttl`, so a rotated signing key takes effect)."""
from __future__ import annotations

import base64
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from crmkit.auth import Principal, TokenVerifier


class TokenCache:
    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        max_entries: int = 10_000,
        max_ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self.max_entries = max_entries
        self.max_ttl = max_ttl
        self.clock = clock
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        """The principal for a valid token; raises crmkit.errors.Unauthenticated otherwise."""
        now = self.clock()
        with self._lock:
            hit = self._entries.get(token)
            if hit is not None:
                if hit[1] > now:
                    self._entries.move_to_end(token)
                    return hit[0]
                del self._entries[token]
        principal = self.verifier.verify(token)
        valid_until = min(_expiry(token), now + self.max_ttl)
        if self.max_entries > 0 and valid_until > now:
            with self._lock:
                self._entries[token] = (principal, valid_until)
                self._entries.move_to_end(token)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return principal


def _expiry(token: str) -> float:
    """The exp claim of a token whose signature was just verified (so it is well formed)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return 0.0  # not cacheable
