"""The caller's deadline, seen from inside a service. The gRPC interceptor records when the
current call's deadline falls; a unit of work checks it before it commits, so a request its caller
already gave up on (the gateway answered 504) is rolled back instead of committed afterwards.

Work outside a call (event handlers, scheduled jobs, the outbox relay) has no deadline."""
from __future__ import annotations

import contextvars
import time

from crmkit.errors import DeadlineExceeded

# A commit started with less time left than this would likely finish after the caller's 504.
COMMIT_MARGIN_SECONDS = 0.05

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


def set_deadline(remaining_seconds: float | None) -> contextvars.Token[float | None]:
    """Record the current call's deadline (`None`: the caller set none)."""
    at = None if remaining_seconds is None else time.monotonic() + remaining_seconds
    return _deadline.set(at)


def reset_deadline(token: contextvars.Token[float | None]) -> None:
    _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the caller stops waiting, or None without a deadline."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


def check_before_commit() -> None:
    """Refuse to commit when the caller has given up (or will have before a commit ends)."""
    left = remaining()
    if left is not None and left < COMMIT_MARGIN_SECONDS:
        raise DeadlineExceeded("the caller's deadline passed before the write could commit; nothing was saved")
