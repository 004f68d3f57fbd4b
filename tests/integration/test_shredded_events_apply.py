"""Crypto-shredding seen from the consumers: every event type a person's erasure leaves unreadable
(contacts, sales, support, marketing snapshots and mails) opens to its ids and the `erased`
marker, and marketing's, sales', reporting's and contacts' handlers apply it like any other event:
none raises, so none is retried or parked for it (crmkit.shredding)."""
from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crm.marketing.v1 import events_pb2 as mev
from crm.sales.v1 import events_pb2 as sev
from crm.sales.v1 import sales_pb2 as spb
from crm.support.v1 import events_pb2 as tev
from crm.support.v1 import support_pb2 as tpb
from crm_contacts import bootstrap as cb
from crm_contacts import handlers as ch
from crm_marketing import bootstrap as mb
from crm_marketing import handlers as mh
from crm_reporting import bootstrap as rb
from crm_reporting import handlers as rh
from crm_sales import bootstrap as sb
from crm_sales import handlers as sh
from crmkit import shredding
from crmkit.auth import SYSTEM
from crmkit.db import Database
from crmkit.events import Emitter, EventTypes, parse_envelope, unpack_payload
from crmkit.runtime_tables import create_runtime_tables
from crmkit.testing import migrated_database

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
CONTACT = cpb.Contact(id="c-1", name="李雷", emails=[cpb.Email(address="li@x.example")],
                phones=[cpb.Phone(number="+8613800138000")], owner_id="rep.north.1", region="north",
                team="north-sales", version=2)
LEAD = spb.Lead(id="l-1", name="李雷", email="li@x.example", phone="+8613800138000", company="X", status="new",
             owner_id="rep.north.1", region="north", version=1)
OPP = spb.Opportunity(id="o-1", name="X - 李雷", contact_id="c-1", account_id="a-1", lead_id="l-1", stage="won",
                    status="won", owner_id="rep.north.1", version=1)
TICKET = tpb.Ticket(id="t-1", subject="发票", requester_email="li@x.example", requester_name="李雷", contact_id="c-1",
               status="open", version=1)
EVENTS = [
    ("contacts", cev.EventType, "crm.contacts.contact.created", "c-1", cev.ContactCreated(contact=CONTACT)),
    ("contacts", cev.EventType, "crm.contacts.contact.updated", "c-1",
     cev.ContactUpdated(contact=CONTACT, changed_fields=["name"])),
    ("contacts", cev.EventType, "crm.contacts.contact.deleted", "c-1", cev.ContactDeleted(contact=CONTACT)),
    ("contacts", cev.EventType, "crm.contacts.interaction.logged", "c-1", cev.InteractionLogged(
        interaction=cpb.Interaction(id="i-1", contact_id="c-1", kind="call", subject="s", content="x"))),
    ("sales", sev.EventType, "crm.sales.lead.created", "l-1", sev.LeadCreated(lead=LEAD)),
    ("sales", sev.EventType, "crm.sales.lead.converted", "l-1", sev.LeadConverted(
        lead=LEAD, opportunity=OPP, contact_id="c-1", account_id="a-1")),
    ("sales", sev.EventType, "crm.sales.opportunity.created", "o-1", sev.OpportunityCreated(opportunity=OPP)),
    ("sales", sev.EventType, "crm.sales.opportunity.won", "o-1", sev.OpportunityClosed(opportunity=OPP)),
    ("support", tev.EventType, "crm.support.ticket.created", "t-1", tev.TicketCreated(ticket=TICKET)),
    ("support", tev.EventType, "crm.support.ticket.commented", "t-1", tev.TicketCommented(
        ticket=TICKET, comment=tpb.Comment(id="m-1", ticket_id="t-1", body="hi"))),
    ("marketing", mev.EventType, "crm.marketing.email.sent", "w-1", mev.EmailEngagement(
        wave_id="w-1", campaign_id="k-1", contact_id="c-1", email="li@x.example")),
    ("marketing", mev.EventType, "crm.marketing.email.opened", "w-1", mev.EmailEngagement(
        wave_id="w-1", campaign_id="k-1", contact_id="c-1", email="li@x.example")),
]


def _erased_events(tmp: Path) -> list:
    producer = Database(f"sqlite:///{tmp / 'producer.db'}")
    create_runtime_tables(producer.engine)
    with producer.unit_of_work() as uow:
        emitted = [Emitter(svc, EventTypes(enum))(uow, SYSTEM, kind, aggregate, 1, payload, NOW)
                   for svc, enum, kind, aggregate, payload in EVENTS]
        uow.commit()
    producer.dispose()
    out = []
    for envelope in emitted:
        env = parse_envelope(envelope.data)
        shredding.open_envelope(env, None)  # the key was destroyed by the erasure
        assert shredding.erased(env) and b"li@x.example" not in env.SerializeToString()
        assert "李雷" not in str(unpack_payload(env))
        out.append(env)
    return out


@pytest.mark.parametrize("consumer", ["marketing", "sales", "reporting", "contacts"])
def test_a_consumer_applies_an_erased_event_without_failing(consumer: str, tmp_path: Path) -> None:
    boot, handler, wants = {
        "marketing": (mb, mh.handler(lambda: NOW), mh.wants),
        "sales": (sb, sh.handler(lambda: NOW), sh.wants),
        "reporting": (rb, lambda uow, env: rh.handle(uow, env, now=NOW), None),
        "contacts": (cb, ch.make_handler(lambda: NOW), ch.wants),
    }[consumer]
    db = migrated_database(boot.MIGRATIONS, Path(tempfile.mkdtemp(dir=tmp_path)))
    applied = 0
    for env in _erased_events(tmp_path):
        if env.producer == consumer or (wants is not None and not wants(env.event_type)):
            continue
        with db.unit_of_work() as uow:
            handler(uow, env)
            uow.commit()
        applied += 1
    assert applied >= 3
    db.dispose()
