"""Rate limits: one token bucket per client key, shared by every worker and replica.

A limit is a rate (tokens per second) and a burst (the bucket's size). Two stores keep the buckets:

- `RedisLimiter` (RATE_LIMIT_REDIS_URL set: production): the buckets live in Redis, so a client
  gets the configured rate whatever the number of worker processes and gateway replicas. One
  round trip per check: a Lua script runs GCRA (the token bucket kept as one "theoretical arrival
  time" per key) atomically on the Redis clock, so replicas whose clocks differ still agree. If
  Redis cannot be reached, requests are let through (a limiter outage must not take the API down)
  and a warning is logged at most every 30 s.
- `MemoryLimiter` (no URL: `make run` and tests): the same buckets in process memory. Each worker
  process has its own, so with N workers a client can reach N × the rate; fine on a laptop.

Both answer `acquire(key, limit)`: 0 when allowed, else the whole seconds to wait (Retry-After)."""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from crmkit import logs

log = logs.get("crm_gateway.ratelimit")


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens per second; 0 means unlimited
    burst: int  # bucket size: requests allowed at once after a quiet spell

    @classmethod
    def per_minute(cls, count: int, burst: int | None = None) -> Limit:
        return cls(count / 60.0, burst if burst is not None else count)

    @property
    def enabled(self) -> bool:
        return self.rate > 0


class RateLimiter(Protocol):
    default: Limit

    def acquire(self, key: str, limit: Limit | None = None) -> int:
        """Take one token from `key`'s bucket (under `limit`, else the default)."""
        ...


def _retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class MemoryLimiter:
    """Buckets in this process; the least recently used go first beyond `max_clients`."""

    def __init__(self, default: Limit, *, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.default = default
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)
        self._lock = threading.Lock()

    def acquire(self, key: str, limit: Limit | None = None) -> int:
        limit = limit or self.default
        if not limit.enabled:
            return 0
        now = self.clock()
        burst = float(limit.burst)
        with self._lock:
            tokens, at = self._buckets.pop(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * limit.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)  # re-inserted last: least recent go first
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return 0 if allowed else _retry_after((1.0 - tokens) / limit.rate)


# GCRA on the Redis clock, in microseconds. KEYS[1]: the bucket; ARGV: the emission interval
# (µs per token) and the burst. The key holds the theoretical arrival time and expires when the
# bucket would be full again, so idle clients cost nothing. Answers the µs to wait, 0 if allowed.
_GCRA = """
local interval = tonumber(ARGV[1])
local capacity = interval * tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - now - capacity
if wait > 0 then return wait end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
"""


class RedisLimiter:
    """Buckets in Redis, shared by every gateway process that uses the same URL."""

    PREFIX = "crm:gateway:rl:"

    def __init__(self, url: str, default: Limit, *, timeout: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        import redis

        self.default = default
        self.clock = clock
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._script = self._client.register_script(_GCRA)
        self._errors = redis.RedisError
        self._warned_at = -math.inf

    def acquire(self, key: str, limit: Limit | None = None) -> int:
        limit = limit or self.default
        if not limit.enabled:
            return 0
        interval = max(1, round(1_000_000 / limit.rate))
        try:
            wait = int(self._script(keys=[self.PREFIX + key], args=[interval, limit.burst]))
        except (self._errors, OSError) as exc:
            now = self.clock()
            if now - self._warned_at >= 30:
                self._warned_at = now
                log.warning("rate limiter store unreachable, letting requests through: %s", type(exc).__name__)
            return 0
        return 0 if wait <= 0 else _retry_after(wait / 1_000_000)

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except (self._errors, OSError):
            return False


def limiter_for(redis_url: str, default: Limit) -> RateLimiter:
    return RedisLimiter(redis_url, default) if redis_url else MemoryLimiter(default)
