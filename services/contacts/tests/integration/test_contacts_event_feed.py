"""What other services' events do to customers: real envelopes published on the SALES (and
SUPPORT) streams, read by the running contacts service's consumer, seen through its gRPC API."""
from __future__ import annotations

import uuid

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1.envelope_pb2 import Actor
from crm.common.v1.types_pb2 import PageRequest
from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as contact_ev
from crm.sales.v1 import events_pb2 as sales_ev
from crm.sales.v1.sales_pb2 import Opportunity, Quote
from crm_contacts import handlers
from crm_contacts.rules.search_docs import SCHEMA
from crm_contacts.search.customer_search import CustomerSearch
from crmkit.events import new_event, parse_envelope
from crmkit.search import open_index
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration
MANAGER = Actor(user_id="manager.north", roles=["manager"], team="north-sales", region="north")


def sales_event(event_type: str, payload, aggregate_id: str | None = None):  # noqa: ANN001, ANN201
    return new_event(producer="sales", event_type=event_type, aggregate_type=event_type.split(".")[2],
                     aggregate_id=aggregate_id or str(uuid.uuid4()), aggregate_version=1, payload=payload,
                     actor=MANAGER)


def timeline(client, contact_id: str) -> list[pb.TimelineEntry]:  # noqa: ANN001
    return list(client.ListTimeline(pb.ListTimelineRequest(contact_id=contact_id,
                                                           page=PageRequest(page_size=200))).entries)


def of_kind(client, contact_id: str, kind: str) -> list[pb.TimelineEntry]:  # noqa: ANN001
    return [e for e in timeline(client, contact_id) if e.kind == kind]


def new_contact(client, name: str, **fields) -> pb.Contact:  # noqa: ANN001
    return client.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name=name, **fields),
                                                        allow_duplicate=True))


def test_a_quote_sent_appears_on_the_timeline_once_even_when_delivered_twice(api, publisher) -> None:
    rep = api("rep.north.1")
    person = new_contact(rep, "张伟")
    quote = Quote(id=str(uuid.uuid4()), number="Q-2026-000001", contact_id=person.id, status="sent")
    event = sales_event("crm.sales.quote.sent", sales_ev.QuoteChanged(quote=quote), quote.id)

    publisher.publish("sales", event)
    wait_for(lambda: of_kind(rep, person.id, "quote_sent"), timeout=20, what="the quote on the timeline")
    again = publisher.publish("sales", event, msg_id=f"redelivery-{uuid.uuid4()}")  # a second copy
    publisher.wait_consumed("sales", again)

    entries = of_kind(rep, person.id, "quote_sent")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.summary == "报价 Q-2026-000001 已发送 / quote Q-2026-000001 sent"
    assert (entry.source_service, entry.reference_id, entry.author_id) == ("sales", quote.id, "manager.north")
    assert entry.occurred_at == parse_envelope(event.data).occurred_at


def test_the_timeline_effect_is_idempotent_without_the_inbox_too(api, contacts) -> None:
    person = new_contact(api("rep.north.1"), "钱进")
    env = parse_envelope(sales_event("crm.sales.opportunity.won", sales_ev.OpportunityClosed(
        opportunity=Opportunity(id=str(uuid.uuid4()), name="钱进 年度采购", contact_id=person.id))).data)
    added = []
    for _ in range(2):
        with contacts.db.unit_of_work() as uow:
            added.append(handlers.add_to_timeline(uow, env))
            uow.commit()
    assert added == [True, False]
    assert len(of_kind(api("rep.north.1"), person.id, "opportunity_won")) == 1


def test_an_event_for_a_merged_away_contact_lands_on_the_survivor(api, publisher) -> None:
    rep = api("rep.north.1")
    survivor, duplicate = new_contact(rep, "周杰"), new_contact(rep, "周杰 (展会)")
    rep.MergeContacts(pb.MergeContactsRequest(survivor_id=survivor.id, merged_ids=[duplicate.id]))
    opp = Opportunity(id=str(uuid.uuid4()), name="周杰 新项目", contact_id=duplicate.id)
    publisher.publish("sales", sales_event("crm.sales.opportunity.created", sales_ev.OpportunityCreated(opportunity=opp)))
    wait_for(lambda: of_kind(rep, survivor.id, "opportunity_created"), timeout=20, what="the entry on the survivor")


def test_events_about_unknown_contacts_or_without_one_change_nothing(api, publisher, row_counts) -> None:
    before = row_counts()
    last = 0
    for quote in (Quote(id="q-x", number="Q-X", contact_id=str(uuid.uuid4())), Quote(id="q-y", number="Q-Y")):
        last = publisher.publish("sales", sales_event("crm.sales.quote.sent", sales_ev.QuoteChanged(quote=quote)))
    last = max(last, publisher.publish("sales", sales_event("crm.sales.lead.created", sales_ev.LeadCreated())))
    publisher.wait_consumed("sales", last)
    assert row_counts()["timeline_entries"] == before["timeline_entries"]


def test_an_ownership_transfer_moves_the_leaving_reps_customers(api, contacts, stream, publisher) -> None:
    leaving, taking = api("rep.north.1"), api("rep.north.2")
    word = "zq" + uuid.uuid4().hex[:8]
    theirs = new_contact(leaving, f"客户 {word} 甲")
    account = leaving.CreateAccount(pb.CreateAccountRequest(account=pb.Account(name=f"公司 {word}"),
                                                            allow_duplicate=True))
    reassigned = new_contact(leaving, f"客户 {word} 乙")  # given to someone else before the transfer
    api("manager.north").UpdateContact(pb.UpdateContactRequest(
        contact=pb.Contact(id=reassigned.id, owner_id="rep.south.1"), update_mask=FieldMask(paths=["owner_id"])))
    transfer = sales_ev.OwnershipTransferred(
        transfer_id=str(uuid.uuid4()), from_user_id="rep.north.1", to_user_id="rep.north.2", reason="离职",
        contact_ids=[theirs.id, reassigned.id, str(uuid.uuid4())], account_ids=[account.id])
    event = sales_event("crm.sales.ownership.transferred", transfer, transfer.transfer_id)

    publisher.publish("sales", event)
    admin = api("admin")
    wait_for(lambda: admin.GetContact(pb.GetContactRequest(id=theirs.id)).owner_id == "rep.north.2",
             timeout=20, what="the contact to move")
    moved = taking.GetContact(pb.GetContactRequest(id=theirs.id))
    assert moved.version == theirs.version + 1
    assert taking.GetAccount(pb.GetAccountRequest(id=account.id)).owner_id == "rep.north.2"
    assert admin.GetContact(pb.GetContactRequest(id=reassigned.id)).owner_id == "rep.south.1"
    [owner_line] = of_kind(taking, theirs.id, "owner_changed")
    assert "rep.north.2" in owner_line.summary

    updates = [env for subject, env in stream.events(contacts, theirs.id) if subject == "crm.contacts.contact.updated"]
    payload = contact_ev.ContactUpdated()
    updates[-1].payload.Unpack(payload)
    assert list(payload.changed_fields) == ["owner_id"] and payload.contact.owner_id == "rep.north.2"
    assert updates[-1].actor.user_id == "manager.north"

    def search_ids(client) -> set[str]:  # noqa: ANN001
        return {h.id for h in client.SearchCustomers(pb.SearchCustomersRequest(query=word)).hits}

    wait_for(lambda: search_ids(taking) == {theirs.id, account.id}, timeout=20, what="search to follow the owner")
    assert search_ids(leaving) == set()

    again = publisher.publish("sales", event, msg_id=f"redelivery-{uuid.uuid4()}")
    publisher.wait_consumed("sales", again)
    assert taking.GetContact(pb.GetContactRequest(id=theirs.id)).version == moved.version, "moved once"


def test_a_support_ticket_shows_on_the_customers_timeline(api, publisher) -> None:
    support_ev = pytest.importorskip("crm.support.v1.events_pb2")
    support_pb = pytest.importorskip("crm.support.v1.support_pb2")
    rep = api("rep.north.1")
    person = new_contact(rep, "吴磊")
    ticket = support_pb.Ticket(id=str(uuid.uuid4()), number="T-000042", subject="发票开错了", contact_id=person.id)
    publisher.publish("support", new_event(
        producer="support", event_type="crm.support.ticket.created", aggregate_type="ticket",
        aggregate_id=ticket.id, aggregate_version=1, payload=support_ev.TicketCreated(ticket=ticket)))
    wait_for(lambda: of_kind(rep, person.id, "ticket_opened"), timeout=20, what="the ticket on the timeline")
    [entry] = of_kind(rep, person.id, "ticket_opened")
    assert entry.summary == "工单 T-000042 已创建：发票开错了 / ticket T-000042 opened: 发票开错了"
    assert entry.source_service == "support"


def test_a_fresh_index_over_the_same_database_is_found_unaffected_by_timeline_events(contacts, tmp_path) -> None:
    """Timeline events never touch the search index: a rebuild sees only contacts and accounts."""
    fresh = CustomerSearch(contacts.db, open_index(SCHEMA, opensearch_url=None, data_dir=tmp_path))
    try:
        stats = fresh.rebuild()
        assert stats.contacts >= 1 and stats.accounts >= 1 and fresh.index.count() == stats.contacts + stats.accounts
    finally:
        fresh.stop()
