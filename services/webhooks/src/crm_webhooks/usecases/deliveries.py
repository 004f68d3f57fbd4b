"""Deliveries: made from events in the consumer's transaction (so the consumer acks only once the
rows are committed), attempted by the worker (`crm_webhooks.jobs`), read back as the log of a
subscription, and replayed on request."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.webhooks.v1 import webhooks_pb2 as pb
from crm_webhooks import store
from crm_webhooks.rules import catalogue, payload, subjects, subscriptions
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.usecases.subscriptions import get as get_subscription
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import NotFound
from crmkit.events import unpack_payload


def enqueue(uow: UnitOfWork, env: EventEnvelope, *, now: datetime, schedule: Schedule, key: bytes) -> int:
    """One delivery per subscription to the event's type (a paused one holds it), its body masked for the
    subscription's owner, and whom it is about (read before masking); how many were made. None for an
    event about a person erased here (it was still in a stream when the erasure ran). `key`: of the
    erased people's hashes."""
    name = catalogue.name_of(env.event_type)
    if name is None:
        return 0
    about = subjects.of(env, unpack_payload(env))
    if store.any_erased(uow.session, subjects.hashes(key, about)):
        return 0
    rows: list[dict[str, object]] = []
    for listener in store.listeners(uow.session, env.event_type):
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
