"""Who may do what, pure: agents (support, managers, admins, services) work tickets; anyone signed
in may open a ticket and follow the ones they opened or are assigned; the public principal (the
gateway's, for unauthenticated visitors) only reaches the public RPCs. A ticket escalated to
someone is theirs to read too."""
from __future__ import annotations

from crm.support.v1.support_pb2 import Ticket
from crmkit.auth import Principal
from crmkit.errors import PermissionDenied

PUBLIC_ROLE = "public"
AGENT_ROLES = ("support", "manager")


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
    # The supervisor a ticket was escalated to follows it, whatever their role.
    return is_agent(principal) or principal.user_id in (ticket.created_by, ticket.assignee_id, ticket.escalated_to)
