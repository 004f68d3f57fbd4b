"""Interactions logged in contacts rescore the open leads with the contact's email, once."""
from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.sales.v1 import sales_pb2 as pb
from crmkit.events import parse_envelope
from crmkit.runtime_tables import outbox_row
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration


def contacts_outbox(sales: Any, event_type: str) -> list[bytes]:
    engine = create_engine(f"sqlite:///{sales.tmp / 'contacts.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(outbox_row.c.payload).order_by(outbox_row.c.id)).scalars()
            return [p for p in rows if parse_envelope(p).event_type == event_type]
    finally:
        engine.dispose()


def test_an_inbound_email_on_the_contact_rescores_the_lead_once(sales: Any, api: Any) -> None:
    lead = api.marketing.CaptureLead(pb.CaptureLeadRequest(
        lead=pb.Lead(name="赵强", company="天津重工", email="Zhao.Qiang@Example.cn"), form_id="expo-2026"))
    other = api.marketing.CaptureLead(pb.CaptureLeadRequest(
        lead=pb.Lead(name="钱敏", company="北京软件", email="qian@example.cn"), form_id="expo-2026"))
    contacts = sales.contacts_as("admin")
    contact = contacts.CreateContact(cpb.CreateContactRequest(contact=cpb.Contact(
        name="赵强", emails=[cpb.Email(address="zhao.qiang@example.cn", kind="work")])))
    note = cpb.Interaction(contact_id=contact.id, kind="note", subject="met at the expo")
    contacts.LogInteraction(cpb.LogInteractionRequest(interaction=note))
    email = cpb.Interaction(contact_id=contact.id, kind="email", direction="inbound", subject="询价 / price request")
    email.occurred_at.FromDatetime(sales.clock())
    contacts.LogInteraction(cpb.LogInteractionRequest(interaction=email))

    def current() -> pb.Lead:
        return api.admin.GetLead(pb.GetLeadRequest(id=lead.id))

    wait_for(lambda: current().activity.get("inbound_email", 0) > 0, what="the interaction to reach sales")
    scored = current()
    assert scored.score > lead.score
    assert any(i.rule_id == "inbound_email" for i in scored.score_breakdown)
    assert dict(scored.activity) == {"inbound_email": 1}  # the note did not count
    assert scored.last_activity_at == email.occurred_at

    # Redelivery of the same event changes nothing: the inbox has it.
    [logged] = [p for p in contacts_outbox(sales, "crm.contacts.interaction.logged") if b"price request" in p]
    assert sales.runtime.consumer._apply(parse_envelope(logged)) is False
    time.sleep(0.5)
    after = current()
    assert dict(after.activity) == {"inbound_email": 1}
    assert after.score == scored.score
    # The lead with another email was not touched.
    assert not api.admin.GetLead(pb.GetLeadRequest(id=other.id)).activity
