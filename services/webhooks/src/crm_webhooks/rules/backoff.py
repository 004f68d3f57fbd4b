"""The retry schedule: exponential from `base` seconds, capped at an hour, with jitter, for a day
(`window`) after the delivery was made or last replayed; then the delivery is parked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

CAP = 3600.0


@dataclass(frozen=True)
class Schedule:
    base: float = 30.0
    window: float = 86400.0
    cap: float = CAP

    def delay(self, attempts: int, jitter: float) -> float:
        """Seconds before the next try after `attempts` failed ones; `jitter` in [0, 1) spreads
        the retries of many deliveries that failed together over 50–100 % of the nominal delay."""
        nominal = min(self.base * 2.0 ** max(attempts - 1, 0), self.cap)
        return nominal * (0.5 + 0.5 * jitter)

    def next_attempt(self, *, attempts: int, now: datetime, retry_until: datetime, jitter: float) -> datetime | None:
        """When to try again, or None: park (the next try would fall past the window)."""
        at = now + timedelta(seconds=self.delay(attempts, jitter))
        return at if at <= retry_until else None

    def until(self, start: datetime) -> datetime:
        return start + timedelta(seconds=self.window)
