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
from crm_webhooks.rules.sealing import SecretBox
from crm_webhooks.usecases import deliveries
from crmkit import logs
from crmkit.db import Database, UnitOfWork
from crmkit.scheduler import PeriodicWorker

log = logs.get("crm_webhooks.jobs")
PAUSED_RECHECK = 60.0  # seconds before a paused subscription's delivery is looked at again


@dataclass
class Delivering:
    """How deliveries are made: the key of the secrets, the schedule, the lease, the allowed ranges
    and the ports."""

    box: SecretBox
    schedule: Schedule = field(default_factory=Schedule)
    lease: float = 60.0              # longer than one attempt can take (timeouts bound it to ~15 s)
    allowed: Sequence[targets.Network] = ()
    resolver: Resolver = resolve
    sender: Sender = field(default_factory=HttpSender)
    batch: int = 100
    concurrency: int = 16
    jitter: Callable[[], float] = random.random


@dataclass(frozen=True)
class Tried:
    """What one attempt found, before it is recorded."""

    due: store.Due
    outcome: str  # delivered | retry | refused | held
    code: int = 0
    error: str = ""


def run_due(db: Database, how: Delivering, now: datetime, clock: Callable[[], datetime]) -> int:
    """Attempt the due deliveries, `concurrency` at a time: each group claimed in one transaction
    just before it goes (so a lease covers one attempt, never a wait behind others), sent in
    parallel, its outcomes recorded in one transaction (one commit per group, not two per
    delivery: SQLite's fsync was the bound). How many were attempted."""
    with db.read() as session:
        due_ids = store.due(session, now, how.batch)
    attempted = 0
    with ThreadPoolExecutor(max_workers=how.concurrency) as pool:
        for start in range(0, len(due_ids), how.concurrency):
            with db.unit_of_work() as uow:
                claimed = [taken for delivery_id in due_ids[start:start + how.concurrency]
                           if (taken := deliveries.claim(uow, delivery_id=delivery_id, now=clock(),
                                                         lease=how.lease)) is not None]
                uow.commit()
            tried = list(pool.map(lambda due: attempt(how, due, clock), claimed))
            with db.unit_of_work() as uow:
                outcomes = [record(uow, how, t, clock()) for t in tried]
                uow.commit()
            for t, outcome in zip(tried, outcomes, strict=True):
                _report(t, outcome)
            attempted += len(claimed)
    _gauges(db, clock())
    return attempted


def attempt(how: Delivering, due: store.Due, clock: Callable[[], datetime]) -> Tried:
    """One try of one claimed delivery: the target checked again, signed, POSTed."""
    if not due.active:
        return Tried(due, "held")
    try:
        target = targets.parse_target(due.target_url)
        address = targets.check_addresses(how.resolver(target.host, target.port), how.allowed)
    except Exception as exc:  # a URL or an address we must not send to: recorded, retried (DNS may change)
        return Tried(due, "refused", error=str(exc))
    try:
        secret = how.box.open(due.secret)
    except ValueError as exc:  # sealed under a key we no longer have: the log says so, retried
        return Tried(due, "refused", error=str(exc))
    headers = signature.headers(secret=secret, delivery_id=due.id, event_type=due.event_type,
                                timestamp=int(clock().timestamp()), body=due.body)
    try:
        answer = how.sender(target, address, headers, due.body)
    except (OSError, HTTPException) as exc:
        return Tried(due, "retry", error=f"{type(exc).__name__}: {exc}")
    if 200 <= answer.status < 300:
        return Tried(due, "delivered", code=answer.status)
    return Tried(due, "retry", code=answer.status, error=f"HTTP {answer.status}: {answer.text[:200]}".strip())


def record(uow: UnitOfWork, how: Delivering, tried: Tried, now: datetime) -> str:
    """The attempt's outcome in the log; returns it (a failure past the window: parked)."""
    due = tried.due
    if tried.outcome == "held":
        deliveries.wait(uow, due=due, until=now + timedelta(seconds=PAUSED_RECHECK))
    elif tried.outcome == "delivered":
        deliveries.delivered(uow, due=due, now=now, code=tried.code)
    elif deliveries.failed(uow, due=due, now=now, code=tried.code, error=tried.error, schedule=how.schedule,
                           jitter=how.jitter()):
        return "parked"
    return tried.outcome


def _report(tried: Tried, outcome: str) -> None:
    if outcome == "held":
        return
    metrics.DELIVERIES.labels(outcome).inc()
    if outcome != "delivered":
        log.warning("webhook delivery failed", extra={"fields": {
            "delivery_id": tried.due.id, "subscription_id": tried.due.subscription_id, "outcome": outcome,
            "error": tried.error}})


def _gauges(db: Database, now: datetime) -> None:
    with db.read() as session:
        pending, oldest = store.queue_state(session)
    metrics.PENDING.set(pending)
    metrics.OLDEST.set((now - oldest).total_seconds() if oldest else 0.0)


def worker(db: Database, how: Delivering, clock: Callable[[], datetime], interval: float) -> PeriodicWorker:
    return PeriodicWorker("webhooks-deliveries", lambda now: run_due(db, how, now, clock), clock, interval)
