"""Who may do what, pure: agents (support, managers, admins, services) work tickets; anyone signed
in may open a ticket and follow the ones they opened or are assigned; the public principal (the
gateway's, for unauthenticated visitors) only reaches the public RPCs. A ticket escalated to
someone is theirs to read too.

Support agents and admins work every ticket; a manager the tickets of their region or team (the
ticket's, from its customer or author: crmkit.visibility's manager rule), plus those assigned,
escalated to or opened by them. A ticket a caller may not read answers NOT_FOUND."""
from __future__ import annotations

from sqlalchemy import ColumnElement, Table, or_, true

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


def sees_all_tickets(principal: Principal) -> bool:
    """Support agents and admins (and services): every ticket, whatever its region."""
    return not is_public(principal) and principal.has_role("support")


def in_scope(principal: Principal, ticket: Ticket) -> bool:
    """A manager's region or team is the ticket's."""
    return principal.is_manager and bool((principal.team and ticket.team == principal.team)
                                         or (principal.region and ticket.region == principal.region))


def can_read_ticket(principal: Principal, ticket: Ticket) -> bool:
    if is_public(principal):
        return False
    # The supervisor a ticket was escalated to follows it, whatever their role.
    return (sees_all_tickets(principal) or in_scope(principal, ticket)
            or principal.user_id in (ticket.created_by, ticket.assignee_id, ticket.escalated_to))


def list_scope(principal: Principal, table: Table) -> ColumnElement[bool]:
    """`can_read_ticket` as a WHERE clause over the tickets table."""
    if sees_all_tickets(principal):
        return true()
    mine = or_(table.c.created_by == principal.user_id, table.c.assignee_id == principal.user_id,
               table.c.escalated_to == principal.user_id)
    if not principal.is_manager:
        return mine
    scope = [mine]
    if principal.team:
        scope.append(table.c.team == principal.team)
    if principal.region:
        scope.append(table.c.region == principal.region)
    return or_(*scope)
