"""Interactions logged in contacts rescore the open leads with the contact's email, once. The
contact events are published on the real CONTACTS stream from here, built from the contacts
contract, as the contacts service would publish them."""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from google.protobuf.message import Message

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crm.sales.v1 import sales_pb2 as pb
from crmkit import bus
from crmkit.events import Envelope, EventTypes, new_event, parse_envelope
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration
CONTACTS = EventTypes(cev.EventType)


def contact_event(event_type: str, aggregate_id: str, payload: Message) -> Envelope:
    return new_event(producer="contacts", event_type=event_type, aggregate_type=event_type.split(".")[2],
                     aggregate_id=aggregate_id, aggregate_version=1, payload=payload)


def publish(nats_url: str, *envelopes: Envelope) -> None:
    async def send() -> None:
        nc = await bus.connect(nats_url, "test-contacts")
        try:
            js = nc.jetstream()
            await bus.ensure_stream(js, "contacts")
            for envelope in envelopes:
                await js.publish(envelope.subject, envelope.data, headers={"Nats-Msg-Id": envelope.event_id})
        finally:
            await nc.close()
    asyncio.run(send())


def test_an_inbound_email_on_the_contact_rescores_the_lead_once(sales: Any, api: Any) -> None:
    lead = api.marketing.CaptureLead(pb.CaptureLeadRequest(
        lead=pb.Lead(name="赵强", company="天津重工", email="Zhao.Qiang@Example.cn"), form_id="expo-2026"))
    other = api.marketing.CaptureLead(pb.CaptureLeadRequest(
        lead=pb.Lead(name="钱敏", company="北京软件", email="qian@example.cn"), form_id="expo-2026"))
    contact = cpb.Contact(id=str(uuid.uuid4()), name="赵强", version=1,
                          emails=[cpb.Email(address="zhao.qiang@example.cn", kind="work")])
    note = cpb.Interaction(id=str(uuid.uuid4()), contact_id=contact.id, kind="note", subject="met at the expo")
    email = cpb.Interaction(id=str(uuid.uuid4()), contact_id=contact.id, kind="email", direction="inbound",
                            subject="询价 / price request")
    email.occurred_at.FromDatetime(sales.clock())
    logged = contact_event(CONTACTS.INTERACTION_LOGGED, contact.id, cev.InteractionLogged(interaction=email))
    publish(sales.nats_url,
            contact_event(CONTACTS.CONTACT_CREATED, contact.id, cev.ContactCreated(contact=contact)),
            contact_event(CONTACTS.INTERACTION_LOGGED, contact.id, cev.InteractionLogged(interaction=note)),
            logged)

    def current() -> pb.Lead:
        return api.admin.GetLead(pb.GetLeadRequest(id=lead.id))

    wait_for(lambda: current().activity.get("inbound_email", 0) > 0, what="the interaction to reach sales")
    scored = current()
    assert scored.score > lead.score
    assert any(i.rule_id == "inbound_email" for i in scored.score_breakdown)
    assert dict(scored.activity) == {"inbound_email": 1}  # the note did not count
    assert scored.last_activity_at == email.occurred_at

    # Redelivery of the same event changes nothing: the inbox has it.
    assert sales.runtime.consumer._apply(parse_envelope(logged.data)) is False
    time.sleep(0.5)
    after = current()
    assert dict(after.activity) == {"inbound_email": 1}
    assert after.score == scored.score
    # The lead with another email was not touched.
    assert not api.admin.GetLead(pb.GetLeadRequest(id=other.id)).activity
