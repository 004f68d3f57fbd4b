"""The automation worker: due sequence steps (each claimed under a row lock in the transaction
that writes its send record, so it fires once across replicas and restarts) and A/B tests whose
wait is over. Each batch is its own transaction, opened here."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm_marketing.usecases import abtests, sequences
from crmkit import logs
from crmkit.db import Database
from crmkit.scheduler import PeriodicWorker

log = logs.get("crm_marketing.jobs")
STEP_BATCH = 200
MAX_BATCHES = 50  # per tick: the rest waits for the next one, so the tick returns


def fire_steps(db: Database, now: datetime, batch: int = STEP_BATCH) -> int:
    fired = 0
    for _ in range(MAX_BATCHES):
        with db.unit_of_work() as uow:
            n = sequences.fire_due(uow, now=now, limit=batch, skip_locked=not db.is_sqlite)
            uow.commit()
        fired += n
        if n < batch:
            break
    return fired


def decide_tests(db: Database, now: datetime) -> int:
    with db.unit_of_work() as uow:
        moved = abtests.advance(uow, now=now, skip_locked=not db.is_sqlite)
        uow.commit()
    return moved


def run_once(db: Database, now: datetime) -> int:
    """Sequence steps fired plus A/B tests moved on."""
    return fire_steps(db, now) + decide_tests(db, now)


def worker(db: Database, clock: Callable[[], datetime], interval: float) -> PeriodicWorker:
    return PeriodicWorker("marketing-automation", lambda now: run_once(db, now), clock, interval)
