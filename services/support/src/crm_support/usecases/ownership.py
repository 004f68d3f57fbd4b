"""Offboarding: the tickets still being worked (not closed) that are assigned or escalated to a
leaving user move to another user in one call, each as a normal change (new version, a
`ticket.assigned` event with reason "offboarding"). Closed tickets keep who worked them: they are
history. A repeated call finds nothing left to move."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from crm.common.v1.ownership_pb2 import ReassignRequest, ReassignResponse
from crm.support.v1 import events_pb2 as ev
from crm_support import store
from crm_support.events import SUPPORT, emit
from crm_support.rules.access import can_read_ticket
from crm_support.tables import tickets
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument
from crmkit.records import bump
from crmkit.visibility import require_manager


def reassign(uow: UnitOfWork, *, principal: Principal, now: datetime, request: ReassignRequest) -> ReassignResponse:
    require_manager(principal, "move a user's tickets")
    old, new = request.from_user_id, request.to_user_id
    if not old:
        raise InvalidArgument("name the user who leaves", field="from_user_id")
    if not new or new == old:
        raise InvalidArgument("name someone else to take over", field="to_user_id")
    ids = uow.session.execute(select(tickets.c.id).where(
        or_(tickets.c.assignee_id == old, tickets.c.escalated_to == old), tickets.c.status != "closed")
        .order_by(tickets.c.seq)).scalars()
    assigned = escalated = 0
    for ticket_id in list(ids):
        ticket = store.load_ticket(uow.session, ticket_id, for_update=True)
        if ticket is None or not can_read_ticket(principal, ticket):  # a manager moves only their scope
            continue
        moved_assignee = ticket.assignee_id == old
        if moved_assignee:
            ticket.assignee_id = new
            assigned += 1
        if ticket.escalated_to == old:
            ticket.escalated_to = new
            escalated += 1
        bump(ticket, now)
        store.update_ticket(uow.session, ticket)
        if moved_assignee:
            emit(uow, principal, SUPPORT.TICKET_ASSIGNED, ticket.id, ticket.version, ev.TicketAssigned(
                ticket=ticket, previous_assignee_id=old, reason="offboarding"), now)
        else:
            emit(uow, principal, SUPPORT.TICKET_UPDATED, ticket.id, ticket.version,
                 ev.TicketUpdated(ticket=ticket, changed_fields=["escalated_to"]), now)
    result = ReassignResponse(service="support")
    result.moved["tickets"] = assigned
    result.moved["escalations"] = escalated
    return result
