"""Merging duplicates into one customer and the 360° timeline, through the real gRPC API."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import StatusCode
from sqlalchemy import select

from crm.common.v1.types_pb2 import PageRequest
from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as ev
from crm_contacts.tables import merges as contact_merges

pytestmark = pytest.mark.integration


def e164(typed: str) -> str:
    return "+" + "".join(ch for ch in typed if ch.isdigit())


def _ts(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def _timeline(client, contact_id: str, page_size: int = 50) -> list[pb.TimelineEntry]:
    entries: list[pb.TimelineEntry] = []
    token = ""
    while True:
        page = client.ListTimeline(pb.ListTimelineRequest(contact_id=contact_id, page=PageRequest(
            page_size=page_size, page_token=token)))
        entries.extend(page.entries)
        token = page.page.next_page_token
        if not token:
            return entries


def _log(client, contact_id: str, subject: str, when: datetime | None = None, kind: str = "call") -> pb.Interaction:
    interaction = pb.Interaction(contact_id=contact_id, kind=kind, subject=subject, content=f"{subject} 的记录")
    if when is not None:
        interaction.occurred_at.CopyFrom(_ts(when))
    return client.LogInteraction(pb.LogInteractionRequest(interaction=interaction))


def test_merge_moves_everything_to_the_survivor_and_retires_the_others(
        api, contacts, stream, stored, new_phone, new_email, fails) -> None:
    rep, manager = api("rep.north.1"), api("manager.north")
    p1, p2, e1, e2 = new_phone(), new_phone(), new_email(), new_email()
    survivor = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(
        name="张伟", company_name="顺纽科技", phones=[pb.Phone(number=p1)], emails=[pb.Email(address=e1)],
        tags=["华北"])))
    dup1 = rep.CreateContact(pb.CreateContactRequest(allow_duplicate=True, contact=pb.Contact(
        name="张伟 (展会)", title="采购总监", phones=[pb.Phone(number=p1), pb.Phone(number=p2)],
        tags=["展会", "华北"], source="trade_show")))
    dup2 = api("rep.north.2").CreateContact(pb.CreateContactRequest(allow_duplicate=True, contact=pb.Contact(
        name="Zhang Wei", emails=[pb.Email(address=e2)], tags=["官网"], social={"wechat": "zw_1988"})))
    base = datetime.now(UTC) - timedelta(days=3)
    _log(rep, survivor.id, "首次拜访", base)
    _log(rep, dup1.id, "展会交流", base + timedelta(days=1), kind="meeting")
    _log(api("rep.north.2"), dup2.id, "官网咨询", base + timedelta(hours=5), kind="email")

    merged = manager.MergeContacts(pb.MergeContactsRequest(
        survivor_id=survivor.id, merged_ids=[dup1.id, dup2.id])).survivor

    assert merged.id == survivor.id and merged.version == 2
    assert merged.name == "张伟" and merged.company_name == "顺纽科技"
    assert merged.title == "采购总监" and merged.source == "trade_show"
    assert [p.number for p in merged.phones] == [e164(p1), e164(p2)]
    assert [e.address for e in merged.emails] == [e1.lower(), e2.lower()]
    assert list(merged.tags) == ["华北", "展会", "官网"]
    assert dict(merged.social) == {"wechat": "zw_1988"}
    assert rep.GetContact(pb.GetContactRequest(id=survivor.id)) == merged

    for gone in (dup1, dup2):
        fails(StatusCode.NOT_FOUND, manager.GetContact, pb.GetContactRequest(id=gone.id))
        row = stored(gone.id)
        assert row.deleted and row.merged_into_id == survivor.id and row.version == 2
    listed = manager.ListContacts(pb.ListContactsRequest())
    assert survivor.id in {c.id for c in listed.contacts}
    assert not {dup1.id, dup2.id} & {c.id for c in listed.contacts}

    with contacts.db.read() as session:
        rows = session.execute(select(contact_merges.c.survivor_id, contact_merges.c.merged_id,
                                      contact_merges.c.merged_by)
                               .where(contact_merges.c.survivor_id == survivor.id)
                               .order_by(contact_merges.c.seq)).all()
    assert [tuple(r) for r in rows] == [(survivor.id, dup1.id, "manager.north"),
                                        (survivor.id, dup2.id, "manager.north")]

    timeline = _timeline(rep, survivor.id)
    assert [(e.kind, e.summary.split(" ")[0]) for e in timeline] == [
        ("merged", "merged"), ("meeting", "展会交流"), ("email", "官网咨询"), ("call", "首次拜访")]
    assert timeline[0].author_id == "manager.north"
    assert dup1.id in timeline[0].summary and dup2.id in timeline[0].summary

    # the merged-away phone now finds the survivor
    failure = fails(StatusCode.ALREADY_EXISTS, rep.CreateContact, pb.CreateContactRequest(
        contact=pb.Contact(name="又一个张伟", phones=[pb.Phone(number=p2)])))
    assert failure.details == {"existing_id": survivor.id}
    # a retired record cannot be merged again
    failure = fails(StatusCode.NOT_FOUND, manager.MergeContacts, pb.MergeContactsRequest(
        survivor_id=survivor.id, merged_ids=[dup1.id]))
    assert failure.field == "merged_ids[0]"

    events = stream.events(contacts, survivor.id, dup1.id, dup2.id)
    created = [(s, e.aggregate_id) for s, e in events[:3]]
    assert created == [("crm.contacts.contact.created", survivor.id), ("crm.contacts.contact.created", dup1.id),
                       ("crm.contacts.contact.created", dup2.id)]
    assert [(s, e.aggregate_id) for s, e in events[3:]] == [
        ("crm.contacts.interaction.logged", survivor.id), ("crm.contacts.interaction.logged", dup1.id),
        ("crm.contacts.interaction.logged", dup2.id),
        ("crm.contacts.contact.deleted", dup1.id), ("crm.contacts.contact.deleted", dup2.id),
        ("crm.contacts.contact.merged", survivor.id)]
    deleted = ev.ContactDeleted()
    assert events[6][1].payload.Unpack(deleted)
    assert deleted.contact.merged_into_id == survivor.id and deleted.contact.deleted
    body = ev.ContactsMerged()
    assert events[-1][1].payload.Unpack(body)
    assert body.survivor == merged and list(body.merged_ids) == [dup1.id, dup2.id]
    assert body.merged_by == "manager.north" and events[-1][1].actor.user_id == "manager.north"
    assert events[-1][1].aggregate_version == 2


def test_timeline_is_newest_first_and_pages_without_gaps(api, contacts, stream) -> None:
    rep = api("rep.south.1")
    contact = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="林晓")))
    t0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    # logged out of order, three of them at the very same instant
    offsets = [5, 1, 9, 3, 3, 3, 7, 0, 12, 2]
    logged = [_log(rep, contact.id, f"第{i}次", t0 + timedelta(hours=h)) for i, h in enumerate(offsets)]
    expected = sorted(range(len(offsets)), key=lambda i: (offsets[i], i), reverse=True)

    for size in (1, 3, 4, 50):
        timeline = _timeline(rep, contact.id, page_size=size)
        assert [e.id for e in timeline] == [logged[i].id for i in expected], f"page size {size}"
    first = timeline[0]
    assert first.interaction.subject == "第8次" and first.source_service == "contacts"
    assert first.author_id == "rep.south.1" and first.reference_id == first.id
    assert stream.subjects(contacts, contact.id) == ["crm.contacts.contact.created"] + [
        "crm.contacts.interaction.logged"] * len(offsets)
    # logging an interaction does not change the contact itself
    assert rep.GetContact(pb.GetContactRequest(id=contact.id)).version == 1


def test_interaction_without_a_time_is_stamped_now_and_comes_first(api) -> None:
    rep = api("rep.south.1")
    contact = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="郭靖")))
    _log(rep, contact.id, "昨天", datetime.now(UTC) - timedelta(days=1))
    now = _log(rep, contact.id, "刚刚")
    assert now.occurred_at.seconds > 0 and now.author_id == "rep.south.1"
    assert [e.id for e in _timeline(rep, contact.id)][0] == now.id
