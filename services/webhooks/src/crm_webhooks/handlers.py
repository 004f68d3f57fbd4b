"""The consumer's handler: each event of the CONTACTS, SALES, SUPPORT and MARKETING streams
becomes one delivery per subscription to its type, inside the consumer's unit of work: the inbox
row and the deliveries commit together, and only then is the event acked. The batch handler takes a
consumer batch at once: one query finds who listens to any of its events' types, so the events
nobody listens to (a bulk import's million `contact.created`) cost almost nothing."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm_webhooks import metrics
from crm_webhooks.rules import catalogue
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.usecases import deliveries
from crmkit.db import UnitOfWork


def wants(event_type: str) -> bool:
    """Events no subscription could name are acked without a transaction."""
    return event_type in catalogue.BY_SUBJECT


def handler(schedule: Schedule, clock: Callable[[], datetime], queued: Callable[[], None],
            key: bytes) -> Callable[[UnitOfWork, EventEnvelope], None]:
    """`queued`: called when deliveries were made (wakes the worker; it finds them once the
    consumer's transaction committed, or at its next tick). `key`: of the erased people's hashes."""

    def handle(uow: UnitOfWork, env: EventEnvelope) -> None:
        made = deliveries.enqueue(uow, env, now=clock(), schedule=schedule, key=key)
        if made:
            metrics.QUEUED.inc(made)
            queued()

    return handle


def batch_handler(schedule: Schedule, clock: Callable[[], datetime], queued: Callable[[], None],
                  key: bytes) -> Callable[[UnitOfWork, Sequence[EventEnvelope]], None]:
    """`handler` for a consumer batch, in one go. Its events need no runs (crmkit.event_runs): each
    one's deliveries depend only on the subscriptions and the erased people, which no event changes."""

    def handle_many(uow: UnitOfWork, envs: Sequence[EventEnvelope]) -> None:
        made = deliveries.enqueue_many(uow, envs, now=clock(), schedule=schedule, key=key)
        if made:
            metrics.QUEUED.inc(made)
            queued()

    return handle_many
