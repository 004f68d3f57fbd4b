"""What every use case shares: the clock, events written with the change, the effective
settings, who may do what, and the business metrics."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import grpc
from google.protobuf.message import Message
from prometheus_client import Counter, Gauge
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import Actor
from crm.support.v1.support_pb2 import SupportSettings, Ticket
from crm_support import rules, store
from crmkit import logs
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import Conflict, DomainError, PermissionDenied
from crmkit.events import new_event

Clock = Callable[[], datetime]
SYSTEM = Principal("system", ("service",), "platform", "", "support scheduler")
PUBLIC_ROLE = "public"  # the gateway's principal for unauthenticated visitors
AGENT_ROLES = ("support", "manager")

TICKETS_CREATED = Counter("crm_support_tickets_created_total", "Tickets created", ["channel", "priority"])
OPEN_TICKETS = Gauge("crm_support_tickets", "Tickets by status (refreshed by the scheduler)", ["status"])
SLA_WARNINGS = Counter("crm_support_sla_warnings_total", "SLA warnings raised", ["metric", "priority"])
SLA_BREACHES = Counter("crm_support_sla_breaches_total", "SLA breaches", ["metric", "priority"])
ESCALATIONS = Counter("crm_support_escalations_total", "Tickets escalated to a supervisor")
CSAT_ANSWERS = Counter("crm_support_csat_answers_total", "CSAT answers", ["rating"])
EMAILS = Counter("crm_support_inbound_emails_total", "Inbound emails", ["outcome"])
WEB_FORM_REJECTED = Counter("crm_support_web_form_rejected_total", "Web-form submissions refused", ["reason"])


def system_clock() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def actor_of(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, roles=list(principal.roles), team=principal.team,
                 region=principal.region)


def emit(uow: UnitOfWork, principal: Principal, aggregate: str, action: str, aggregate_id: str, version: int,
         payload: Message, now: datetime) -> None:
    uow.emit(new_event(
        producer="support", event_type=f"crm.support.{aggregate}.{action}", aggregate_type=aggregate,
        aggregate_id=aggregate_id, aggregate_version=version, payload=payload, actor=actor_of(principal),
        correlation_id=logs.request_id_var.get(), occurred_at=now,
    ))


def settings(session: Session) -> SupportSettings:
    return store.load_settings(session) or rules.default_settings()


def check_version(current: int, expected: int) -> None:
    if expected and expected != current:
        raise Conflict(f"version {expected} is stale, the record is at version {current}", field="If-Match",
                       current_version=current)


# -- who may do what: agents (support, managers, admins, services) work tickets; anyone signed in
# may open a ticket and follow the ones they opened or are assigned; the public principal only
# reaches the public RPCs.

def is_public(principal: Principal) -> bool:
    return PUBLIC_ROLE in principal.roles and not principal.is_admin


def require_staff(principal: Principal) -> None:
    if is_public(principal):
        raise PermissionDenied("this needs a signed-in user")


def is_agent(principal: Principal) -> bool:
    return principal.has_role(*AGENT_ROLES)


def require_agent(principal: Principal) -> None:
    if not is_agent(principal):
        raise PermissionDenied("only support agents, managers and admins may do this")


def can_read_ticket(principal: Principal, ticket: Ticket) -> bool:
    if is_public(principal):
        return False
    return is_agent(principal) or principal.user_id in (ticket.created_by, ticket.assignee_id)


def require_public(principal: Principal) -> None:
    """Public RPCs: the public principal, or anyone signed in (an agent trying the form)."""
    del principal


class DependencyUnavailable(DomainError):
    """A service we depend on (contacts) did not answer: UNAVAILABLE, so the caller retries."""

    status = grpc.StatusCode.UNAVAILABLE
    title = "Service unavailable"
