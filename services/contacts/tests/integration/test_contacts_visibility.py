"""Visibility through the real API: a rep cannot reach another rep's customer by any call (and
cannot even learn it exists), a manager works their region, support reads but never writes."""
from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc import StatusCode

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as ev

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def book(api) -> dict[str, pb.Contact]:
    """One customer per rep, created by the reps themselves."""
    return {
        user: api(user).CreateContact(pb.CreateContactRequest(contact=pb.Contact(name=f"{user} 的客户", tags=["t"])))
        for user in ("rep.north.1", "rep.north.2", "rep.south.1", "rep.south.2")
    }


def _listed(client) -> set[str]:
    return {c.name for c in client.ListContacts(pb.ListContactsRequest()).contacts}


def test_reps_list_only_their_own_customers_and_managers_their_region(api, book) -> None:
    for user in book:
        assert _listed(api(user)) == {f"{user} 的客户"}
    assert _listed(api("manager.north")) == {"rep.north.1 的客户", "rep.north.2 的客户"}
    assert _listed(api("manager.south")) == {"rep.south.1 的客户", "rep.south.2 的客户"}
    assert _listed(api("admin")) == _listed(api("support.1")) == {c.name for c in book.values()}
    # a filter cannot widen the view
    assert not api("rep.north.2").ListContacts(pb.ListContactsRequest(
        filter=pb.ListFilter(owner_id="rep.north.1"))).contacts


def test_a_rep_cannot_touch_another_reps_customer(api, contacts, stream, book, fails, row_counts) -> None:
    intruder, theirs, mine = api("rep.north.2"), book["rep.north.1"], book["rep.north.2"]
    before = row_counts()
    calls = [
        (intruder.GetContact, pb.GetContactRequest(id=theirs.id), "id"),
        (intruder.UpdateContact, pb.UpdateContactRequest(
            contact=pb.Contact(id=theirs.id, name="hijacked"), update_mask=FieldMask(paths=["name"])), "id"),
        (intruder.UpdateContact, pb.UpdateContactRequest(   # nor move it into their own book
            contact=pb.Contact(id=theirs.id, owner_id="rep.north.2"), update_mask=FieldMask(paths=["owner_id"])),
         "id"),
        (intruder.DeleteContact, pb.DeleteContactRequest(id=theirs.id), "id"),
        (intruder.TagContact, pb.TagContactRequest(id=theirs.id, add=["mine"]), "id"),
        (intruder.MergeContacts, pb.MergeContactsRequest(survivor_id=theirs.id, merged_ids=[mine.id]), "id"),
        (intruder.MergeContacts, pb.MergeContactsRequest(survivor_id=mine.id, merged_ids=[theirs.id]),
         "merged_ids[0]"),
        (intruder.LogInteraction, pb.LogInteractionRequest(interaction=pb.Interaction(
            contact_id=theirs.id, kind="note", content="peek")), "id"),
        (intruder.ListTimeline, pb.ListTimelineRequest(contact_id=theirs.id), "id"),
    ]
    for call, request, field in calls:
        failure = fails(StatusCode.NOT_FOUND, call, request)
        assert failure.field == field
        assert theirs.id in failure.message   # the same answer as for an id that does not exist
    missing = fails(StatusCode.NOT_FOUND, intruder.GetContact, pb.GetContactRequest(id="00000000-0000-0000-0000-0"))
    assert missing.field == "id"

    assert row_counts() == before
    assert api("admin").GetContact(pb.GetContactRequest(id=theirs.id)) == theirs
    assert api("admin").GetContact(pb.GetContactRequest(id=mine.id)) == mine
    assert stream.subjects(contacts, theirs.id, mine.id) == ["crm.contacts.contact.created"] * 2


def test_a_rep_cannot_give_a_customer_away(api, book, fails) -> None:
    rep = api("rep.south.1")
    failure = fails(StatusCode.PERMISSION_DENIED, rep.UpdateContact, pb.UpdateContactRequest(
        contact=pb.Contact(id=book["rep.south.1"].id, owner_id="rep.south.2"), update_mask=FieldMask(paths=["owner_id"])))
    assert failure.field == "owner_id"
    assert rep.GetContact(pb.GetContactRequest(id=book["rep.south.1"].id)).owner_id == "rep.south.1"


def test_a_manager_works_their_region_only(api, contacts, stream, book, fails) -> None:
    north = api("manager.north")
    theirs = book["rep.north.1"]
    tagged = north.TagContact(pb.TagContactRequest(id=theirs.id, add=["重点"], remove=["t"]))
    assert list(tagged.tags) == ["重点"] and tagged.version == theirs.version + 1
    reassigned = north.UpdateContact(pb.UpdateContactRequest(
        contact=pb.Contact(id=theirs.id, owner_id="rep.north.2"), update_mask=FieldMask(paths=["owner_id"])))
    assert reassigned.owner_id == "rep.north.2"
    assert api("rep.north.2").GetContact(pb.GetContactRequest(id=theirs.id)) == reassigned
    fails(StatusCode.NOT_FOUND, api("rep.north.1").GetContact, pb.GetContactRequest(id=theirs.id))

    south_customer = book["rep.south.2"]
    fails(StatusCode.NOT_FOUND, north.GetContact, pb.GetContactRequest(id=south_customer.id))
    fails(StatusCode.NOT_FOUND, north.TagContact, pb.TagContactRequest(id=south_customer.id, add=["x"]))
    assert api("admin").GetContact(pb.GetContactRequest(id=south_customer.id)) == south_customer
    assert stream.subjects(contacts, theirs.id) == [
        "crm.contacts.contact.created", "crm.contacts.contact.tagged", "crm.contacts.contact.updated"]


def test_support_reads_everything_and_changes_nothing(api, book, fails, row_counts) -> None:
    support = api("support.1")
    target = book["rep.south.1"]
    assert support.GetContact(pb.GetContactRequest(id=target.id)).id == target.id
    before = row_counts()
    fails(StatusCode.PERMISSION_DENIED, support.UpdateContact, pb.UpdateContactRequest(
        contact=pb.Contact(id=target.id, title="x"), update_mask=FieldMask(paths=["title"])))
    fails(StatusCode.PERMISSION_DENIED, support.TagContact, pb.TagContactRequest(id=target.id, add=["x"]))
    fails(StatusCode.PERMISSION_DENIED, support.DeleteContact, pb.DeleteContactRequest(id=target.id))
    fails(StatusCode.PERMISSION_DENIED, support.CreateContact, pb.CreateContactRequest(contact=pb.Contact(name="x")))
    assert row_counts() == before


def test_tagging_adds_and_removes_and_emits_one_event(api, contacts, stream, book) -> None:
    rep = api("rep.south.2")
    mine = book["rep.south.2"]
    tagged = rep.TagContact(pb.TagContactRequest(id=mine.id, add=["展会", " 展会 ", "vip"], remove=["t", "absent"]))
    assert list(tagged.tags) == ["展会", "vip"] and tagged.version == mine.version + 1
    assert rep.TagContact(pb.TagContactRequest(id=mine.id, add=["vip"], remove=["absent"])) == tagged  # no-op
    assert [c.id for c in rep.ListContacts(pb.ListContactsRequest(filter=pb.ListFilter(tag="展会"))).contacts] == [
        mine.id]
    assert not rep.ListContacts(pb.ListContactsRequest(filter=pb.ListFilter(tag="t"))).contacts

    (_, created), (subject, env) = stream.events(contacts, mine.id)
    assert subject == "crm.contacts.contact.tagged"
    body = ev.ContactTagged()
    assert env.payload.Unpack(body)
    assert list(body.added) == ["展会", "vip"] and list(body.removed) == ["t"] and body.contact == tagged
