"""Deliveries: made from events in the consumer's transaction (so the consumer acks only once the
rows are committed), attempted by the worker (`crm_webhooks.jobs`), read back as the log of a
subscription, and replayed on request."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.webhooks.v1 import webhooks_pb2 as pb
from crm_webhooks import store
from crm_webhooks.rules import catalogue, payload, subjects, subscriptions
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.usecases.subscriptions import get as get_subscription
from crmkit import shredding
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import NotFound
from crmkit.events import unpack_payload


class StillSealed(RuntimeError):
    """An event someone listens to reached the handler with its personal fields sealed: its
    subscription is newer than the consumer's view of who listens (`handlers.Listened`). The
    consumer tries it again, opened this time."""


def listened_types(session: Session) -> set[str]:
    """The event types some subscription names: the only ones whose personal fields are opened."""
    return store.subscribed_types(session)


def enqueue(uow: UnitOfWork, env: EventEnvelope, *, now: datetime, schedule: Schedule, key: bytes) -> int:
    """One delivery per subscription to the event's type (a paused one holds it), its body masked for the
    subscription's owner, and whom it is about (read before masking); how many were made. None for an
    event about a person erased here (it was still in a stream when the erasure ran). `key`: of the
    erased people's hashes."""
    return enqueue_many(uow, [env], now=now, schedule=schedule, key=key)


def enqueue_many(uow: UnitOfWork, envs: Sequence[EventEnvelope], *, now: datetime, schedule: Schedule,
                 key: bytes) -> int:
    """`enqueue` of each event, in order, with one query for the subscriptions of all their types and
    one for the erased people among all they are about. The listeners come first: most events (a
    bulk import's) have none, and then nothing else is read or computed for them."""
    named = [(env, name) for env in envs if (name := catalogue.name_of(env.event_type)) is not None]
    found = store.listeners_of(uow.session, {env.event_type for env, _ in named})
    heard = [(env, name, found[env.event_type]) for env, name in named if env.event_type in found]
    if not heard:
        return 0
    late = [env.event_id for env, _, _ in heard if shredding.is_sealed(env)]
    if late:
        raise StillSealed(f"{len(late)} events to deliver are still sealed, e.g. {late[0]}")
    about = [subjects.of(env, unpack_payload(env)) for env, _, _ in heard]
    hashed = [subjects.hashes(key, refs) for refs in about]
    erased = store.erased_among(uow.session, [h for hashes in hashed for h in hashes])
    made = 0
    for (env, name, listeners), refs, hashes in zip(heard, about, hashed, strict=True):
        if not erased.isdisjoint(hashes):
            continue
        made += _deliver(uow, env, name, listeners, refs, now=now, schedule=schedule)
    return made


def _deliver(uow: UnitOfWork, env: EventEnvelope, name: str, listeners: Sequence[store.Listener],
             about: Sequence[tuple[str, str]], *, now: datetime, schedule: Schedule) -> int:
    rows: list[dict[str, object]] = []
    for listener in listeners:
        owner = Principal(user_id=listener.owner_id, roles=listener.owner_roles)
        delivery = payload.delivery_id(listener.id, env.event_id)
        rows.append({
            "id": delivery, "subscription_id": listener.id, "event_id": env.event_id, "event_type": name,
            "status": "pending", "attempts": 0, "last_status_code": 0, "last_error": "", "created_at": now,
            "next_attempt_at": now, "retry_until": schedule.until(now),
            "body": payload.body(env, name=name, delivery=delivery, owner=owner),
        })
    return store.insert_deliveries(uow.session, rows, about)


def list_(session: Session, *, principal: Principal, sub_id: str, status: str, page_size: int,
          page_token: str) -> tuple[list[pb.Delivery], str]:
    get_subscription(session, principal=principal, sub_id=sub_id)
    return store.list_deliveries(session, sub_id, subscriptions.check_delivery_status(status), page_size,
                                 page_token)


def replay(uow: UnitOfWork, *, principal: Principal, now: datetime, sub_id: str, delivery_id: str,
           schedule: Schedule) -> pb.Delivery:
    """Queue a delivery again now, with the same id and body and a fresh day of retries."""
    get_subscription(uow.session, principal=principal, sub_id=sub_id)
    if not store.replay(uow.session, sub_id, delivery_id, now, schedule.until(now)):
        raise NotFound("no such delivery of this subscription", field="delivery_id")
    found = store.get_delivery(uow.session, delivery_id)
    assert found is not None  # just updated in this transaction
    return found


def claim(uow: UnitOfWork, *, delivery_id: str, now: datetime, lease: float) -> store.Due | None:
    return store.claim(uow.session, delivery_id, now, now + timedelta(seconds=lease))


def delivered(uow: UnitOfWork, *, due: store.Due, now: datetime, code: int) -> None:
    store.record_attempt(uow.session, due.id, status="delivered", attempts=due.attempts + 1, code=code, error="",
                         at=now, next_at=None)


def failed(uow: UnitOfWork, *, due: store.Due, now: datetime, code: int, error: str, schedule: Schedule,
           jitter: float) -> bool:
    """Record a failed attempt: retried later, or parked once the day is over. True: parked."""
    attempts = due.attempts + 1
    next_at = schedule.next_attempt(attempts=attempts, now=now, retry_until=due.retry_until, jitter=jitter)
    store.record_attempt(uow.session, due.id, status="pending" if next_at else "parked", attempts=attempts,
                         code=code, error=error, at=now, next_at=next_at)
    return next_at is None


def wait(uow: UnitOfWork, *, due: store.Due, until: datetime) -> None:
    """The subscription is paused: the delivery waits (it is sent once the subscription resumes)."""
    store.reschedule(uow.session, due.id, until)
