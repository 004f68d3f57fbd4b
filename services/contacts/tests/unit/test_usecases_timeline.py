"""The 360° timeline through its use cases and the consumer's handler, on the real schema:
interactions logged here, other services' events as entries (once each, on the survivor of a
merge), ownership transfers, and paging newest first."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from crm.common.v1.envelope_pb2 import Actor, EventEnvelope
from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as ev
from crm.sales.v1 import events_pb2 as sales_ev
from crm.sales.v1.sales_pb2 import Quote
from crm.support.v1 import events_pb2 as support_ev
from crm.support.v1.support_pb2 import Ticket
from crm_contacts import handlers
from crm_contacts.events import SALES, SUPPORT
from crm_contacts.usecases import duplicates, records, timeline
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied
from crmkit.events import new_event, parse_envelope
from crmkit.records import dt

MANAGER = Actor(user_id="manager.north", roles=["manager"], team="north-sales", region="north")


def create(contacts, name: str = "吴磊", user: str = "rep.north.1") -> pb.Contact:
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users[user], now=contacts.now, record=pb.Contact(name=name),
        allow_duplicate=True))


def log(contacts, interaction: pb.Interaction, user: str = "rep.north.1") -> pb.Interaction:
    return contacts.write(lambda uow: timeline.log_interaction(
        uow, principal=contacts.users[user], now=contacts.now, interaction=interaction))


def entries(contacts, contact_id: str, user: str = "rep.north.1", page_size: int = 50,
            token: str = "") -> tuple[list[pb.TimelineEntry], str]:
    return contacts.read(lambda s: timeline.list_timeline(
        s, principal=contacts.users[user], contact_id=contact_id, page_size=page_size, page_token=token))


def event(event_type: str, payload, producer: str = "sales") -> EventEnvelope:  # noqa: ANN001
    return parse_envelope(new_event(
        producer=producer, event_type=event_type, aggregate_type=event_type.split(".")[2],
        aggregate_id=str(uuid.uuid4()), aggregate_version=1, payload=payload, actor=MANAGER).data)


def handle(contacts, env: EventEnvelope) -> None:
    contacts.write(lambda uow: handlers.make_handler(lambda: contacts.now)(uow, env))


def test_a_logged_call_is_on_the_timeline_and_leaves_as_an_event_of_the_contact(contacts) -> None:
    person = create(contacts)
    logged = log(contacts, pb.Interaction(contact_id=person.id, kind="call", content="谈了报价", direction="outbound"))
    assert logged.id and logged.author_id == "rep.north.1" and dt(logged.occurred_at) == contacts.now

    [entry], token = entries(contacts, person.id)
    assert (entry.id, entry.kind, entry.summary, entry.source_service) == (logged.id, "call", "谈了报价", "contacts")
    assert entry.interaction == logged and token == ""
    env = contacts.events[-1]
    assert (env.event_type, env.aggregate_id, env.aggregate_version) == (
        "crm.contacts.interaction.logged", person.id, person.version)
    assert contacts.payload() == ev.InteractionLogged(interaction=logged)


def test_bad_interactions_and_finance_are_refused_and_finance_reads_no_content(contacts) -> None:
    person = create(contacts)
    for interaction, field in ((pb.Interaction(contact_id=person.id, kind="fax", subject="x"), "kind"),
                               (pb.Interaction(contact_id=person.id, kind="note", content=" "), "content"),
                               (pb.Interaction(contact_id=person.id, kind="note", content="x" * 20001), "content")):
        with pytest.raises(InvalidArgument) as bad:
            log(contacts, interaction)
        assert bad.value.field == field
    with pytest.raises(NotFound):
        log(contacts, pb.Interaction(contact_id=person.id, kind="note", subject="x"), "rep.north.2")

    with pytest.raises(PermissionDenied):
        log(contacts, pb.Interaction(contact_id=person.id, kind="note", subject="x"), "finance.north")
    log(contacts, pb.Interaction(contact_id=person.id, kind="note", subject="折扣", content="给 8 折"))
    [entry], _ = entries(contacts, person.id, "finance.north")
    assert entry.summary == "折扣" and entry.interaction.content == ""
    assert entries(contacts, person.id)[0][0].interaction.content == "给 8 折"


def test_a_note_without_a_subject_shows_finance_no_word_of_it_in_the_summary(contacts) -> None:
    person = create(contacts)
    log(contacts, pb.Interaction(contact_id=person.id, kind="note", content="客户可能跳槽到竞争对手"))
    [entry], _ = entries(contacts, person.id, "finance.north")
    assert entry.kind == "note" and "跳槽" not in entry.summary and entry.interaction.content == ""
    [own], _ = entries(contacts, person.id)
    assert own.summary == "客户可能跳槽到竞争对手"


def test_the_timeline_pages_newest_first_with_its_own_cursor(contacts) -> None:
    person = create(contacts)
    logged = []
    for minutes in (3, 1, 2, 2):  # two at the same time: the sequence breaks the tie
        at = pb.Interaction(contact_id=person.id, kind="note", subject=f"m{minutes}")
        at.occurred_at.FromDatetime(contacts.now + timedelta(minutes=minutes))
        logged.append(log(contacts, at).id)
    seen, token = entries(contacts, person.id, page_size=3)
    more, last = entries(contacts, person.id, page_size=3, token=token)
    assert [e.id for e in seen + more] == [logged[0], logged[3], logged[2], logged[1]] and last == ""
    with pytest.raises(InvalidArgument) as bad:
        entries(contacts, person.id, token="c2VxMQ")
    assert bad.value.field == "page_token"


def test_a_quote_sent_goes_on_the_timeline_once_however_often_it_arrives(contacts) -> None:
    person = create(contacts)
    quote = Quote(id="q1", number="Q-2026-000001", contact_id=person.id)
    env = event(SALES.QUOTE_SENT, sales_ev.QuoteChanged(quote=quote))
    assert handlers.wants(env.event_type) and not handlers.wants(SALES.LEAD_CREATED)
    handle(contacts, env)
    handle(contacts, env)  # redelivered past the inbox: the entry id derives from the event id

    [entry], _ = entries(contacts, person.id)
    assert (entry.kind, entry.summary) == ("quote_sent", "报价 Q-2026-000001 已发送 / quote Q-2026-000001 sent")
    assert (entry.source_service, entry.reference_id, entry.author_id) == ("sales", "q1", "manager.north")
    assert contacts.events == [contacts.events[0]], "a timeline entry from elsewhere emits nothing"


def test_an_entry_for_a_merged_away_contact_lands_on_the_survivor_and_unknown_ones_nowhere(contacts) -> None:
    survivor, dup = create(contacts, "周杰"), create(contacts, "周杰 (展会)")
    contacts.write(lambda uow: duplicates.merge_contacts(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now, survivor_id=survivor.id, merged_ids=[dup.id]))
    ticket = Ticket(id="t1", number="T-000042", subject="发票开错了", contact_id=dup.id)
    handle(contacts, event(SUPPORT.TICKET_CREATED, support_ev.TicketCreated(ticket=ticket), "support"))
    handle(contacts, event(SALES.QUOTE_SENT, sales_ev.QuoteChanged(quote=Quote(id="q", contact_id="nobody"))))
    handle(contacts, event(SALES.QUOTE_SENT, sales_ev.QuoteChanged(quote=Quote(id="q"))))

    kinds = {e.kind: e for e in entries(contacts, survivor.id)[0]}
    assert set(kinds) == {"merged", "ticket_opened"}
    assert kinds["ticket_opened"].summary == "工单 T-000042 已创建：发票开错了 / ticket T-000042 opened: 发票开错了"


def test_an_ownership_transfer_moves_the_customers_with_a_line_on_each_timeline(contacts) -> None:
    theirs = create(contacts, "客户甲")
    account = contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now,
        record=pb.Account(name="公司"), allow_duplicate=True))
    transfer = sales_ev.OwnershipTransferred(
        transfer_id="tr-1", from_user_id="rep.north.1", to_user_id="rep.north.2", reason="离职",
        contact_ids=[theirs.id, theirs.id, "unknown"], account_ids=[account.id])
    env = event(SALES.OWNERSHIP_TRANSFERRED, transfer)
    assert handlers.wants(env.event_type)
    handle(contacts, env)
    handle(contacts, env)

    moved = contacts.read(lambda s: records.get_record(
        s, principal=contacts.users["rep.north.2"], kind=pb.Contact, record_id=theirs.id))
    assert (moved.owner_id, moved.version) == ("rep.north.2", 2), "moved once"
    [line] = entries(contacts, theirs.id, "rep.north.2")[0]
    assert line.kind == "owner_changed" and "rep.north.2" in line.summary
    updates = [e for e in contacts.events if e.event_type.endswith(".updated")]
    assert [e.event_type for e in updates] == ["crm.contacts.account.updated", "crm.contacts.contact.updated"]
    assert {e.actor.user_id for e in updates} == {"manager.north"}
