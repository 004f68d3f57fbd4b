"""The consumer's handler: each event of the CONTACTS, SALES, SUPPORT and MARKETING streams
becomes one delivery per subscription to its type, inside the consumer's unit of work: the inbox
row and the deliveries commit together, and only then is the event acked. The batch handler takes a
consumer batch at once: one query finds who listens to any of its events' types, so the events
nobody listens to (a bulk import's million `contact.created`) cost almost nothing: `Listened`, the
consumer's `opens`, keeps them sealed (no key asked for, nothing decrypted)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm_webhooks import metrics
from crm_webhooks.rules import catalogue
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.usecases import deliveries
from crmkit.db import Database, UnitOfWork


def wants(event_type: str) -> bool:
    """Events no subscription could name are acked without a transaction."""
    return event_type in catalogue.BY_SUBJECT


class Listened:
    """The consumer's `opens`: whether some subscription names an event type, from the database at
    most `ttl` seconds old. A subscription newer than that makes its first events reach the
    handler sealed: `deliveries.StillSealed`, after which the handler calls `forget` and the
    consumer's retry reads who listens again and opens them."""

    def __init__(self, db: Database, *, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._types: set[str] = set()
        self._read_at: float | None = None

    def __call__(self, event_type: str) -> bool:
        with self._lock:
            now = self.clock()
            if self._read_at is None or now - self._read_at >= self.ttl:
                with self.db.read() as session:
                    self._types = deliveries.listened_types(session)
                self._read_at = now
            return event_type in self._types

    def forget(self) -> None:
        with self._lock:
            self._read_at = None


def _opened_again(listened: Listened | None, apply: Callable[[], int]) -> int:
    try:
        return apply()
    except deliveries.StillSealed:
        if listened is not None:
            listened.forget()
        raise


def handler(schedule: Schedule, clock: Callable[[], datetime], queued: Callable[[], None],
            key: bytes, listened: Listened | None = None) -> Callable[[UnitOfWork, EventEnvelope], None]:
    """`queued`: called when deliveries were made (wakes the worker; it finds them once the
    consumer's transaction committed, or at its next tick). `key`: of the erased people's hashes.
    `listened`: the consumer's `opens`, told to read again when an event came too sealed."""

    def handle(uow: UnitOfWork, env: EventEnvelope) -> None:
        made = _opened_again(listened, lambda: deliveries.enqueue(uow, env, now=clock(), schedule=schedule, key=key))
        if made:
            metrics.QUEUED.inc(made)
            queued()

    return handle


def batch_handler(schedule: Schedule, clock: Callable[[], datetime], queued: Callable[[], None],
                  key: bytes, listened: Listened | None = None) -> Callable[[UnitOfWork, Sequence[EventEnvelope]], None]:
    """`handler` for a consumer batch, in one go. Its events need no runs (crmkit.event_runs): each
    one's deliveries depend only on the subscriptions and the erased people, which no event changes."""

    def handle_many(uow: UnitOfWork, envs: Sequence[EventEnvelope]) -> None:
        made = _opened_again(listened, lambda: deliveries.enqueue_many(uow, envs, now=clock(), schedule=schedule,
                                                                     key=key))
        if made:
            metrics.QUEUED.inc(made)
            queued()

    return handle_many
