"""A ticket's SLA moments: warnings and breaches raised when due, and the escalation to the
supervisor on the first breach. The flags on the ticket, saved under its row lock in the same
transaction as the events, make each happen once across replicas, retries and restarts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crm.support.v1 import events_pb2 as ev
from crm_support import store
from crm_support.events import SUPPORT, emit
from crm_support.rules import sla
from crm_support.rules.notices import ESCALATION, SLA_WARNING
from crm_support.usecases import notices, settings
from crmkit.auth import SYSTEM
from crmkit.db import UnitOfWork
from crmkit.records import bump, dt


@dataclass(frozen=True)
class Raised:
    """What one evaluation raised, for the metrics counted after the commit."""

    kinds: tuple[tuple[str, str], ...] = ()   # (warning | breached, metric)
    priority: str = ""
    escalated: bool = False


def due(session: Session, *, now: datetime, limit: int = 500) -> list[str]:
    """Tickets whose next SLA moment (warning or due time) has come."""
    return store.due_for_sla(session, now, limit)


def raise_due(uow: UnitOfWork, *, ticket_id: str, now: datetime) -> Raised:
    ticket = store.load_ticket(uow.session, ticket_id, for_update=True)
    if ticket is None:
        return Raised()
    raised = sla.evaluate(ticket, now)
    if not raised:
        store.update_ticket(uow.session, ticket)  # refresh sla_next_at
        return Raised()
    cfg = settings.current(uow.session)
    supervisor = sla.supervisor_for(cfg, ticket)
    escalate = any(kind == "breached" for kind, _ in raised) and not ticket.escalated
    if escalate:
        ticket.escalated = True
        ticket.escalated_to = supervisor
    bump(ticket, now)
    store.update_ticket(uow.session, ticket)
    for kind, clock in raised:
        if kind == "warning":
            notices.queue_sla(uow, ticket=ticket, purpose=SLA_WARNING, metric=clock.metric, due_at=dt(clock.due_at),
                              supervisor=supervisor, now=now)
            emit(uow, SYSTEM, SUPPORT.SLA_WARNING, ticket.id, ticket.version, ev.SlaWarning(
                ticket=ticket, metric=clock.metric, due_at=clock.due_at, notify_user_id=supervisor), now)
        else:
            emit(uow, SYSTEM, SUPPORT.SLA_BREACHED, ticket.id, ticket.version, ev.SlaBreached(
                ticket=ticket, metric=clock.metric, due_at=clock.due_at, escalated_to=supervisor), now)
    if escalate:
        breached = next(clock for kind, clock in raised if kind == "breached")
        notices.queue_sla(uow, ticket=ticket, purpose=ESCALATION, metric=breached.metric, due_at=dt(breached.due_at),
                          supervisor=supervisor, now=now)
        emit(uow, SYSTEM, SUPPORT.TICKET_ESCALATED, ticket.id, ticket.version, ev.TicketEscalated(
            ticket=ticket, escalated_to=supervisor, reason="sla_breached"), now)
    return Raised(tuple((kind, clock.metric) for kind, clock in raised), ticket.priority, escalate)
