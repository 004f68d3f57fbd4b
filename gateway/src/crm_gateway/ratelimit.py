"""Per-client token buckets held in process memory.

The buckets live in each gunicorn worker, so with N workers a client can get up to N × the
configured rate (requests land on workers unevenly, so usually less). That is acceptable while
the gateway runs a handful of workers; a shared limiter (Redis, or the ingress) replaces it when
the exact number matters."""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, client: str) -> int:
        """Take one token for `client`. Returns 0 when allowed, else whole seconds to wait."""
        if not self.enabled:
            return 0
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)  # re-inserted last: least recent go first
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        if allowed:
            return 0
        return max(1, math.ceil((1.0 - tokens) / self.rate))
