"""The SLA scheduler: tickets whose next SLA moment (warning or due time) has come are
evaluated under a row lock, and the warning, breach and escalation are saved with the ticket
in one transaction. The flags on the ticket make each of them happen once, across replicas,
retries and restarts. It also closes solved tickets after `auto_close_days` and refreshes the
ticket gauges."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from crm.support.v1 import events_pb2 as ev
from crm_support import rules, sla, store, tickets
from crm_support.common import (
    ESCALATIONS,
    OPEN_TICKETS,
    SLA_BREACHES,
    SLA_WARNINGS,
    SYSTEM,
    emit,
    settings,
)
from crmkit import logs
from crmkit.db import Database

log = logs.get("crm_support.scheduler")


def check_sla(db: Database, now: datetime, limit: int = 500) -> int:
    """Raise what is due; returns how many warnings and breaches were raised."""
    with db.read() as session:
        due = store.due_for_sla(session, now, limit)
    raised_total = 0
    for ticket_id in due:
        try:
            raised_total += _check_one(db, ticket_id, now)
        except Exception:
            log.exception("SLA check of ticket %s failed; it is retried on the next tick", ticket_id)
    return raised_total


def _check_one(db: Database, ticket_id: str, now: datetime) -> int:
    counted: list[tuple[str, str, str]] = []
    with db.unit_of_work() as uow:
        ticket = store.load_ticket(uow.session, ticket_id, for_update=True)
        if ticket is None:
            return 0
        raised = sla.evaluate(ticket, now)
        if not raised:
            store.update_ticket(uow.session, ticket)  # refresh sla_next_at
            uow.commit()
            return 0
        cfg = settings(uow.session)
        policy = sla.policy_for(list(cfg.sla_policies), ticket.priority)
        supervisor = (policy.supervisor_id if policy else "") or cfg.default_supervisor_id
        escalate = any(kind == "breached" for kind, _ in raised) and not ticket.escalated
        if escalate:
            ticket.escalated = True
            ticket.escalated_to = supervisor
        ticket.version += 1
        ticket.updated_at.FromDatetime(now)
        store.update_ticket(uow.session, ticket)
        for kind, clock in raised:
            if kind == "warning":
                emit(uow, SYSTEM, "sla", "warning", ticket.id, ticket.version, ev.SlaWarning(
                    ticket=ticket, metric=clock.metric, due_at=clock.due_at, notify_user_id=supervisor), now)
            else:
                emit(uow, SYSTEM, "sla", "breached", ticket.id, ticket.version, ev.SlaBreached(
                    ticket=ticket, metric=clock.metric, due_at=clock.due_at, escalated_to=supervisor), now)
            counted.append((kind, clock.metric, ticket.priority))
        if escalate:
            emit(uow, SYSTEM, "ticket", "escalated", ticket.id, ticket.version, ev.TicketEscalated(
                ticket=ticket, escalated_to=supervisor, reason="sla_breached"), now)
        uow.commit()
    for kind, metric, priority in counted:  # after the commit: counted once it happened
        (SLA_BREACHES if kind == "breached" else SLA_WARNINGS).labels(metric, priority).inc()
    if escalate:
        ESCALATIONS.inc()
    return len(counted)


def auto_close(db: Database, now: datetime, limit: int = 500) -> int:
    with db.read() as session:
        days = settings(session).auto_close_days
        if days <= 0:
            return 0
        ids = store.solved_before(session, now - timedelta(days=days), limit)
    closed = 0
    for ticket_id in ids:
        try:
            with db.unit_of_work() as uow:
                ticket = store.load_ticket(uow.session, ticket_id, for_update=True)
                if ticket is None or ticket.status != "solved":
                    continue
                tickets.change_status(uow, SYSTEM, ticket_id, "closed", "auto_close", "", 0, now)
                uow.commit()
                closed += 1
        except Exception:
            log.exception("auto-close of ticket %s failed", ticket_id)
    return closed


def refresh_gauges(db: Database) -> None:
    with db.read() as session:
        counts = store.counts_by_status(session)
    for status in rules.STATUSES:
        OPEN_TICKETS.labels(status).set(counts.get(status, 0))


def run_once(db: Database, now: datetime) -> None:
    check_sla(db, now)
    auto_close(db, now)
    refresh_gauges(db)


class SchedulerWorker:
    """A thread that runs the checks every `interval` seconds until stopped."""

    def __init__(self, db: Database, clock: Callable[[], datetime], interval: float) -> None:
        self.db, self.clock, self.interval = db, clock, interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="support-scheduler", daemon=True)
        self.ticks = 0  # completed runs, so tests and health checks can wait for one

    def start(self) -> SchedulerWorker:
        self._thread.start()
        return self

    def tick(self) -> None:
        """Run now rather than at the next interval (tests and operators)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                run_once(self.db, self.clock())
            except Exception:
                log.exception("scheduler tick failed")
            self.ticks += 1
            self._wake.wait(self.interval)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
