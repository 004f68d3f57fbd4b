"""A manager works the tickets of their region and team, not every ticket: a manager of another
region cannot read, list, edit, comment on or move a ticket (404, as if it did not exist), while
support agents work all of them. Offboarding hands a leaving agent's open tickets on."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crm.common.v1.ownership_pb2 import ReassignRequest
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import support_pb2 as pb
from crm_support.usecases import intake, ownership, tickets
from crmkit.auth import Principal
from crmkit.errors import NotFound, PermissionDenied

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
AGENT = Principal("agent.1", ("support",), "support", "", "客服小王")
NORTH = Principal("manager.north", ("manager",), "north-sales", "north")
SOUTH = Principal("manager.south", ("manager",), "south-sales", "south")
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")


def opened(store: Any, by: Principal, customer: cpb.Contact | None = None) -> pb.Ticket:
    ticket = pb.Ticket(subject="打印机无法连接", contact_id=customer.id if customer else "",
                       region="south")  # a caller's region is not trusted: the server sets it
    return store.write(lambda uow: intake.create_ticket(uow, principal=by, now=NOW, ticket=ticket,
                                                        customer=customer))


def test_a_ticket_belongs_to_its_customers_region_else_its_authors(store: Any) -> None:
    customer = cpb.Contact(id="c-1", name="张伟", region="south", team="south-sales")
    assert (opened(store, AGENT, customer).region, opened(store, AGENT, customer).team) == ("south", "south-sales")
    assert (opened(store, REP).region, opened(store, REP).team) == ("north", "north-sales")


def test_a_manager_of_another_region_cannot_see_or_touch_a_ticket(store: Any) -> None:
    ticket = opened(store, REP)
    attempts = {
        "read": lambda s: tickets.get(s, principal=SOUTH, key=ticket.id),
        "edit": lambda uow: tickets.update_ticket(uow, principal=SOUTH, now=NOW, patch=pb.Ticket(
            id=ticket.id, priority="urgent"), paths=["priority"], expected_version=0),
        "comment": lambda uow: tickets.add_comment(uow, principal=SOUTH, now=NOW, key=ticket.id,
                                                   comment=pb.Comment(body="我来处理", public=True)),
        "status": lambda uow: tickets.change_status(uow, principal=SOUTH, now=NOW, key=ticket.id, status="open",
                                                    reason="", resolution_note="", expected_version=0),
    }
    for verb, attempt in attempts.items():
        with pytest.raises(NotFound):
            (store.read if verb == "read" else store.write)(attempt)
    listed, _ = store.read(lambda s: tickets.list_tickets(s, principal=SOUTH, flt=pb.TicketFilter(), page_size=50,
                                                          page_token=""))
    assert ticket.id not in [t.id for t in listed]
    # the ticket's own region's manager, and any support agent, work it
    for who in (NORTH, AGENT):
        listed, _ = store.read(lambda s, w=who: tickets.list_tickets(s, principal=w, flt=pb.TicketFilter(),
                                                                     page_size=50, page_token=""))
        assert ticket.id in [t.id for t in listed]
    moved, _ = store.write(lambda uow: tickets.change_status(uow, principal=NORTH, now=NOW, key=ticket.id,
                                                             status="open", reason="", resolution_note="",
                                                             expected_version=0))
    assert moved.status == "open"


def test_offboarding_hands_open_tickets_on_and_a_retry_moves_nothing(store: Any) -> None:
    mine = store.write(lambda uow: tickets.open_ticket(uow, principal=AGENT, now=NOW, ticket=pb.Ticket(
        subject="发票开错了", assignee_id="agent.1")))
    request = ReassignRequest(from_user_id="agent.1", to_user_id="agent.2")
    with pytest.raises(PermissionDenied):
        store.write(lambda uow: ownership.reassign(uow, principal=AGENT, now=NOW, request=request))
    admin = Principal("admin", ("admin",), "hq", "")
    result = store.write(lambda uow: ownership.reassign(uow, principal=admin, now=NOW, request=request))
    assert (result.service, result.moved["tickets"]) == ("support", 1)
    assert store.read(lambda s: tickets.get(s, principal=AGENT, key=mine.id)).assignee_id == "agent.2"
    assert store.events()[-1] == "crm.support.ticket.assigned"
    again = store.write(lambda uow: ownership.reassign(uow, principal=admin, now=NOW, request=request))
    assert again.moved["tickets"] == 0
