"""Support events → the ticket, SLA-breach and CSAT read models."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.support.v1 import events_pb2 as support_events
from crm.support.v1.support_pb2 import Ticket
from crm_reporting.periods import day_of, grains
from crm_reporting.store import rollups, upsert_newest
from crm_reporting.tables import csat_answers, sla_breaches, ticket_tags, tickets
from crmkit.events import EventTypes, unpack_payload
from crmkit.records import aware

SUPPORT = EventTypes(support_events.EventType)

# Statements are built once and executed with parameters: building them per event (coercing every
# value, computing a cache key) cost more than the SQL they run.
_BREACH_SEEN = select(sla_breaches.c.ticket_id).where(
    sla_breaches.c.ticket_id == bindparam("ticket_id"), sla_breaches.c.metric == bindparam("metric"))
_INSERT_BREACH = insert(sla_breaches)
_INSERT_CSAT = insert(csat_answers)
_UPDATE_CSAT = update(csat_answers).where(csat_answers.c.ticket_id == bindparam("tid"))
_ASSIGNEE = select(tickets.c.assignee_id).where(tickets.c.ticket_id == bindparam("tid"))
_DELETE_TAGS = delete(ticket_tags).where(ticket_tags.c.ticket_id == bindparam("tid"))
_INSERT_TAG = insert(ticket_tags)


# unpack_payload is typed Message: the ignores below stand for "every ticket and SLA event's payload
# has `ticket` (breached: also `metric`), and csat.answered's is a CsatAnswered".

def ticket_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    payload = unpack_payload(env)
    apply_ticket(session, payload.ticket)  # type: ignore[attr-defined]
    if env.event_type == SUPPORT.SLA_BREACHED:
        record_breach(session, payload.ticket.id, payload.metric)  # type: ignore[attr-defined]


def csat_answered(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_csat(session, unpack_payload(env))  # type: ignore[arg-type]


def _seconds_between(start: Timestamp, end: Timestamp) -> int | None:
    if not start.seconds or not end.seconds:
        return None
    return max(0, end.seconds - start.seconds)


def apply_ticket(session: Session, ticket: Ticket) -> bool:
    values = {
        "assignee_id": ticket.assignee_id,
        "status": ticket.status or "new",
        "priority": ticket.priority or "normal",
        "first_response_seconds": _seconds_between(ticket.created_at, ticket.first_responded_at),
        "resolution_seconds": _seconds_between(ticket.created_at, ticket.solved_at),
        "team": ticket.team, "region": ticket.region, "type": ticket.type, "channel": ticket.channel,
        "contact_id": ticket.contact_id,
        **grains("created", day_of(ticket.created_at)), **grains("solved", day_of(ticket.solved_at)),
    }
    before = rollups.ticket_row(session, ticket.id)
    applied = upsert_newest(session, tickets, tickets.c.ticket_id, ticket.id, ticket.version, values)
    if applied:   # the newest snapshot's tags are the ticket's issues
        session.execute(_DELETE_TAGS, {"tid": ticket.id})
        tags = sorted({tag.strip()[:100] for tag in ticket.tags if tag.strip()})
        if tags:
            session.execute(_INSERT_TAG, [{"ticket_id": ticket.id, "tag": tag} for tag in tags])
    for clock in ticket.sla:   # a breach is for good, whichever snapshot showed it first
        if clock.breached:
            _insert_breach(session, ticket.id, clock.metric)
    after = rollups.ticket_row(session, ticket.id)
    for rollup in (rollups.TICKETS, rollups.TICKET_TAGS, rollups.TICKET_DAYS):
        rollups.apply(session, rollup, before, after)
    if applied:
        _csat_follows(session, ticket.id, ticket.assignee_id)
    return applied


def _csat_follows(session: Session, ticket_id: str, assignee_id: str) -> None:
    """A CSAT answer counts as its ticket does: a ticket reassigned (or offboarded) after it was
    answered takes its answer to the new assignee, in the facts and the per-day rollup."""
    old = rollups.csat_row(session, ticket_id)
    if old is None or old["assignee_id"] == assignee_id:
        return
    session.execute(_UPDATE_CSAT, {"tid": ticket_id, "assignee_id": assignee_id})
    rollups.apply(session, rollups.CSAT_DAYS, old, {**old, "assignee_id": assignee_id})


def record_breach(session: Session, ticket_id: str, metric: str) -> bool:
    before = rollups.ticket_row(session, ticket_id)
    if not _insert_breach(session, ticket_id, metric):
        return False
    after = rollups.ticket_row(session, ticket_id)
    for rollup in (rollups.TICKETS, rollups.TICKET_TAGS, rollups.TICKET_DAYS):
        rollups.apply(session, rollup, before, after)
    return True


def _insert_breach(session: Session, ticket_id: str, metric: str) -> bool:
    metric = metric or "unknown"
    row = {"ticket_id": ticket_id, "metric": metric}
    if session.execute(_BREACH_SEEN, row).first() is not None:
        return False
    session.execute(_INSERT_BREACH, row)
    return True


def apply_csat(session: Session, answer: support_events.CsatAnswered) -> bool:
    """One answer per ticket: the latest answered_at wins (a customer may change their rating)."""
    answered_at = answer.answered_at.ToDatetime(tzinfo=UTC).replace(microsecond=0)
    old = rollups.csat_row(session, answer.ticket_id)
    if old is not None and aware(old["answered_at"]).astimezone(UTC) >= answered_at:
        return False
    # the ticket's assignee as held (its newest snapshot), else the one the answer names
    held = session.execute(_ASSIGNEE, {"tid": answer.ticket_id}).scalar()
    values = {"assignee_id": answer.assignee_id if held is None else held, "rating": answer.rating,
              "answered_at": answered_at,
              **grains("answered", answered_at.date().isoformat())}
    if old is None:
        session.execute(_INSERT_CSAT, {"ticket_id": answer.ticket_id, **values})
    else:
        session.execute(_UPDATE_CSAT, {"tid": answer.ticket_id, **values})
    # the per-day rollup moves from the answer it replaces to this one, in the same transaction
    rollups.apply(session, rollups.CSAT_DAYS, old, {"ticket_id": answer.ticket_id, **values})
    return True


# Every ticket and SLA event, and the CSAT request, carries the ticket snapshot after the change;
# knowledge-base events: nothing reporting counts yet.
APPLIES: dict[str, Callable[[Session, EventEnvelope, datetime], None]] = {
    **dict.fromkeys(SUPPORT.of_aggregate("ticket", "sla") | {SUPPORT.CSAT_REQUESTED}, ticket_changed),
    SUPPORT.CSAT_ANSWERED: csat_answered,
}
