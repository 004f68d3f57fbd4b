"""The delivery worker: every tick (and at once when events were queued) it claims the due
deliveries and attempts each, a few at a time. Each attempt: the subscription's target checked
again (DNS may have changed since creation), signed, POSTed to the checked address; the outcome
recorded in its own transaction. A delivery claimed by a worker that dies is taken again when
its lease runs out, under the same id: at least once."""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.client import HTTPException

from crm_webhooks import metrics, store
from crm_webhooks.ports import HttpSender, Resolver, Sender, resolve
from crm_webhooks.rules import signature, targets
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.usecases import deliveries
from crmkit import logs
from crmkit.db import Database
from crmkit.scheduler import PeriodicWorker

log = logs.get("crm_webhooks.jobs")
PAUSED_RECHECK = 60.0  # seconds before a paused subscription's delivery is looked at again


@dataclass
class Delivering:
    """How deliveries are made: the schedule, the lease, the allowed ranges and the ports."""

    schedule: Schedule = field(default_factory=Schedule)
    lease: float = 60.0              # longer than one attempt can take (timeouts bound it to ~15 s)
    allowed: Sequence[targets.Network] = ()
    resolver: Resolver = resolve
    sender: Sender = field(default_factory=HttpSender)
    batch: int = 100
    concurrency: int = 8
    jitter: Callable[[], float] = random.random


def run_due(db: Database, how: Delivering, now: datetime, clock: Callable[[], datetime]) -> int:
    """Attempt the due deliveries, `concurrency` at a time, each group claimed just before it
    goes (so a lease covers one attempt, never a wait behind others); how many were attempted."""
    with db.read() as session:
        due_ids = store.due(session, now, how.batch)
    attempted = 0
    with ThreadPoolExecutor(max_workers=how.concurrency) as pool:
        for start in range(0, len(due_ids), how.concurrency):
            claimed: list[store.Due] = []
            for delivery_id in due_ids[start:start + how.concurrency]:
                with db.unit_of_work() as uow:
                    taken = deliveries.claim(uow, delivery_id=delivery_id, now=clock(), lease=how.lease)
                    uow.commit()
                if taken is not None:
                    claimed.append(taken)
            list(pool.map(lambda due: attempt(db, how, due, clock), claimed))
            attempted += len(claimed)
    _gauges(db, clock())
    return attempted


def attempt(db: Database, how: Delivering, due: store.Due, clock: Callable[[], datetime]) -> str:
    """One try of one claimed delivery; its outcome (delivered, retry, parked, refused, held)."""
    now = clock()
    if not due.active:
        with db.unit_of_work() as uow:
            deliveries.wait(uow, due=due, until=now + timedelta(seconds=PAUSED_RECHECK))
            uow.commit()
        return "held"
    code, error, outcome = 0, "", "delivered"
    try:
        target = targets.parse_target(due.target_url)
        address = targets.check_addresses(how.resolver(target.host, target.port), how.allowed)
    except Exception as exc:  # a URL or an address we must not send to: recorded, retried (DNS may change)
        error, outcome = str(exc), "refused"
    else:
        headers = signature.headers(secret=due.secret, delivery_id=due.id, event_type=due.event_type,
                                    timestamp=int(now.timestamp()), body=due.body)
        try:
            answer = how.sender(target, address, headers, due.body)
            code = answer.status
            if not 200 <= code < 300:
                error, outcome = f"HTTP {code}: {answer.text[:200]}".strip(), "retry"
        except (OSError, HTTPException) as exc:
            error, outcome = f"{type(exc).__name__}: {exc}", "retry"
    finished = clock()
    with db.unit_of_work() as uow:
        if outcome == "delivered":
            deliveries.delivered(uow, due=due, now=finished, code=code)
        elif deliveries.failed(uow, due=due, now=finished, code=code, error=error, schedule=how.schedule,
                               jitter=how.jitter()):
            outcome = "parked"
        uow.commit()
    metrics.DELIVERIES.labels(outcome).inc()
    if outcome != "delivered":
        log.warning("webhook delivery failed", extra={"fields": {
            "delivery_id": due.id, "subscription_id": due.subscription_id, "outcome": outcome, "error": error}})
    return outcome


def _gauges(db: Database, now: datetime) -> None:
    with db.read() as session:
        pending, oldest = store.queue_state(session)
    metrics.PENDING.set(pending)
    metrics.OLDEST.set((now - oldest).total_seconds() if oldest else 0.0)


def worker(db: Database, how: Delivering, clock: Callable[[], datetime], interval: float) -> PeriodicWorker:
    return PeriodicWorker("webhooks-deliveries", lambda now: run_due(db, how, now, clock), clock, interval)
