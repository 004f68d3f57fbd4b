"""Support's scheduled work, the tick `crmkit.scheduler.PeriodicWorker` runs every
`SUPPORT_SCHEDULER_INTERVAL` seconds: SLA warnings, breaches and escalations that are due, the
auto-close of tickets solved long enough ago, and the ticket gauges. Each ticket gets its own
transaction (opened here, passed to the use case), so one bad ticket does not hold up the rest."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from crm_support import store
from crm_support.metrics import ESCALATIONS, OPEN_TICKETS, SLA_BREACHES, SLA_WARNINGS
from crm_support.rules.tickets import STATUSES
from crm_support.usecases import settings, sla, tickets
from crmkit import logs
from crmkit.db import Database
from crmkit.scheduler import PeriodicWorker

log = logs.get("crm_support.jobs")
BATCH = 500


def check_sla(db: Database, now: datetime, limit: int = BATCH) -> int:
    """Raise what is due; returns how many warnings and breaches were raised."""
    with db.read() as session:
        due = sla.due(session, now=now, limit=limit)
    total = 0
    for ticket_id in due:
        try:
            with db.unit_of_work() as uow:
                raised = sla.raise_due(uow, ticket_id=ticket_id, now=now)
                uow.commit()
        except Exception:
            log.exception("SLA check of ticket %s failed; it is retried on the next tick", ticket_id)
            continue
        for kind, metric in raised.kinds:  # after the commit: counted once it happened
            (SLA_BREACHES if kind == "breached" else SLA_WARNINGS).labels(metric, raised.priority).inc()
        if raised.escalated:
            ESCALATIONS.inc()
        total += len(raised.kinds)
    return total


def auto_close(db: Database, now: datetime, limit: int = BATCH) -> int:
    with db.read() as session:
        days = settings.current(session).auto_close_days
        if days <= 0:
            return 0
        ids = store.solved_before(session, now - timedelta(days=days), limit)
    closed = 0
    for ticket_id in ids:
        try:
            with db.unit_of_work() as uow:
                if tickets.auto_close(uow, ticket_id=ticket_id, now=now):
                    uow.commit()
                    closed += 1
        except Exception:
            log.exception("auto-close of ticket %s failed", ticket_id)
    return closed


def refresh_gauges(db: Database) -> None:
    with db.read() as session:
        counts = store.counts_by_status(session)
    for status in STATUSES:
        OPEN_TICKETS.labels(status).set(counts.get(status, 0))


def run_once(db: Database, now: datetime) -> None:
    check_sla(db, now)
    auto_close(db, now)
    refresh_gauges(db)


def worker(db: Database, clock: Callable[[], datetime], interval: float) -> PeriodicWorker:
    return PeriodicWorker("support-scheduler", lambda now: run_once(db, now), clock, interval)
