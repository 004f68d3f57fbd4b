"""SLA under a controlled clock: an urgent ticket is warned, breaches and escalates exactly once
(also across a restart of the service); time pending on the customer does not count."""
from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.support.v1 import support_pb2 as pb

pytestmark = pytest.mark.integration

POLICIES = [
    pb.SlaPolicy(id="urgent", priority="urgent", first_response_minutes=120, resolution_minutes=480,
                 warn_before_minutes=30, business_hours=False, supervisor_id="manager.support"),
    pb.SlaPolicy(id="normal", priority="normal", first_response_minutes=120, resolution_minutes=2400,
                 warn_before_minutes=15, business_hours=True),
]


def configure(api: Any) -> None:
    api.manager.UpdateSupportSettings(pb.UpdateSupportSettingsRequest(
        settings=pb.SupportSettings(sla_policies=POLICIES, business_hours=pb.BusinessHours(
            timezone="Asia/Shanghai", weekdays=[1, 2, 3, 4, 5], start="09:00", end="18:00")),
        update_mask=FieldMask(paths=["sla_policies", "business_hours"])))


def test_an_urgent_ticket_breaches_and_escalates_exactly_once(support: Any, api: Any) -> None:
    configure(api)
    ticket = api.agent.CreateTicket(pb.CreateTicketRequest(ticket=pb.Ticket(
        subject="生产系统宕机", priority="urgent", requester_email="ops@customer.example")))
    support.clock.advance(minutes=80)
    support.tick()
    assert "crm.support.sla.warning" not in support.events()
    support.clock.advance(minutes=15)  # 95 min: within 30 min of the 2 h target
    support.tick()
    support.tick()
    assert support.events().count("crm.support.sla.warning") == 1
    support.clock.advance(minutes=30)  # 125 min: breached
    support.tick()
    support.tick()
    current = api.agent.GetTicket(pb.GetTicketRequest(id=ticket.id))
    assert current.escalated and current.escalated_to == "manager.support"
    first = next(c for c in current.sla if c.metric == "first_response")
    assert first.breached

    support.restart()
    support.clock.advance(minutes=5)
    support.tick()
    events = support.events()
    assert events.count("crm.support.sla.breached") == 1
    assert events.count("crm.support.ticket.escalated") == 1

    # the resolution target breaching later raises its own breach, but no second escalation
    support.clock.advance(hours=7)
    support.tick()
    events = support.events()
    assert events.count("crm.support.sla.breached") == 2
    assert events.count("crm.support.ticket.escalated") == 1


def test_time_pending_on_the_customer_does_not_count(support: Any, api: Any) -> None:
    configure(api)
    agent = support.as_user("agent")
    ticket = agent.CreateTicket(pb.CreateTicketRequest(ticket=pb.Ticket(
        subject="发票抬头需要修改", requester_email="finance@customer.example")))  # Monday 09:00, normal
    support.clock.advance(minutes=60)
    agent.ChangeTicketStatus(pb.ChangeTicketStatusRequest(id=ticket.id, status="pending", reason="asked for the tax id"))
    support.clock.advance(days=2)  # Wednesday 10:00: two days waiting on the customer
    agent.ChangeTicketStatus(pb.ChangeTicketStatusRequest(id=ticket.id, status="open", reason="customer answered"))
    support.clock.advance(minutes=50)  # 60 + 50 business minutes used of 120
    support.tick()
    current = agent.GetTicket(pb.GetTicketRequest(id=ticket.id))
    first = next(c for c in current.sla if c.metric == "first_response")
    assert not first.breached and first.used_seconds == 3600
    assert "crm.support.sla.breached" not in support.events()
    support.clock.advance(minutes=15)  # 125 business minutes: now it is late
    support.tick()
    assert support.events().count("crm.support.sla.breached") == 1
