"""The consumer's handler: every event of the CONTACTS, SALES, SUPPORT and MARKETING streams goes to the
module of its producer, looked up by event type (the types come from each producer's contract).
It runs inside the consumer's unit of work, so the inbox row and the effect commit together. An
event type no module applies changes nothing, but its inbox row still counts it as applied."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm_reporting.handlers import contact_runs, contacts, marketing, sales, support
from crmkit.db import UnitOfWork

_BY_TYPE: dict[str, Callable[[Session, EventEnvelope, datetime], None]] = {
    **contacts.APPLIES, **sales.APPLIES, **support.APPLIES, **marketing.APPLIES}


def handle(uow: UnitOfWork, env: EventEnvelope, *, now: datetime) -> None:
    """`now`: when the event is applied (a customer's first_seen_at)."""
    apply = _BY_TYPE.get(env.event_type)
    if apply is not None:
        apply(uow.session, env, now)


# The event types whose runs `handle_many` takes at once (crmkit.event_runs.in_runs).
BULK_TYPES = contact_runs.BULK_TYPES


def handle_many(uow: UnitOfWork, envs: Sequence[EventEnvelope], *, now: datetime) -> None:
    """A run of BULK_TYPES events, each aggregate at most once: what `handle` on each would do."""
    contact_runs.contacts_changed(uow.session, envs, now)
