"""Tagging a contact, finding its duplicates and merging them, through the use cases on the real
schema."""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as ev
from crm_contacts import store
from crm_contacts.tables import merges
from crm_contacts.usecases import duplicates, records, tags, timeline
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied
from crmkit.servicer import copy


def create(contacts, contact: pb.Contact, user: str = "rep.north.1") -> pb.Contact:
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users[user], now=contacts.now, record=contact,
        allow_duplicate=True))


def tag(contacts, contact_id: str, add: Sequence[str], remove: Sequence[str] = (), user: str = "rep.north.1") -> pb.Contact:
    return contacts.write(lambda uow: tags.tag_contact(
        uow, principal=contacts.users[user], now=contacts.now, contact_id=contact_id, add=add, remove=remove))


def merge(contacts, survivor_id: str, merged_ids: list[str], user: str = "rep.north.1") -> pb.Contact:
    return contacts.write(lambda uow: duplicates.merge_contacts(
        uow, principal=contacts.users[user], now=contacts.now, survivor_id=survivor_id, merged_ids=merged_ids))


def test_tags_are_added_and_removed_in_one_change_with_their_own_event(contacts) -> None:
    made = create(contacts, pb.Contact(name="张伟", tags=["展会", "old"]))
    tagged = tag(contacts, made.id, add=[" vip ", "展会"], remove=["old"])
    assert list(tagged.tags) == ["展会", "vip"] and tagged.version == 2
    assert contacts.subjects()[-1] == "crm.contacts.contact.tagged"
    assert contacts.payload() == ev.ContactTagged(contact=tagged, added=["vip"], removed=["old"])
    listed, _ = contacts.read(lambda s: store.list_records(s, pb.Contact, contacts.users["rep.north.1"],
                                                           pb.ListFilter(tag="vip"), 10, ""))
    assert [c.id for c in listed] == [made.id], "the tag side table follows"


def test_tagging_with_nothing_new_changes_nothing_and_bad_tags_name_their_field(contacts) -> None:
    made = create(contacts, pb.Contact(name="张伟", tags=["vip"]))
    assert tag(contacts, made.id, add=["vip"], remove=["absent"]).version == 1
    assert contacts.subjects() == ["crm.contacts.contact.created"]
    with pytest.raises(InvalidArgument) as bad:
        tag(contacts, made.id, add=["ok", " "])
    assert bad.value.field == "add[1]"
    with pytest.raises(PermissionDenied):
        tag(contacts, made.id, add=["x"], user="support.1")


def test_duplicates_are_found_by_phone_or_email_among_what_the_caller_may_see(contacts) -> None:
    mine = create(contacts, pb.Contact(name="张伟", phones=[pb.Phone(raw="13800138000")]))
    theirs = create(contacts, pb.Contact(name="张伟", emails=[pb.Email(address="zw@example.cn")]), "rep.north.2")
    candidate = pb.Contact(phones=[pb.Phone(raw="+86 138 0013 8000")], emails=[pb.Email(address="ZW@example.cn")])

    def found(user: str) -> set[str]:
        return {c.id for c in contacts.read(lambda s: duplicates.find_duplicates(
            s, principal=contacts.users[user], candidate=copy(candidate)))}

    assert found("rep.north.1") == {mine.id}
    assert found("manager.north") == {mine.id, theirs.id}
    # picklist values of the candidate play no part: one the list does not hold refuses nothing
    candidate.source, candidate.lifecycle_stage = "no-such-source", "retired-stage"
    assert found("manager.north") == {mine.id, theirs.id}


def test_a_merge_moves_everything_onto_the_survivor_and_retires_the_others(contacts) -> None:
    survivor = create(contacts, pb.Contact(name="周杰", phones=[pb.Phone(raw="13800138000")], tags=["a"]))
    dup = create(contacts, pb.Contact(name="周杰 (展会)", title="经理", phones=[pb.Phone(raw="13900139000")],
                                      tags=["b"], social={"wechat": "zj"}))
    logged = contacts.write(lambda uow: timeline.log_interaction(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now,
        interaction=pb.Interaction(contact_id=dup.id, kind="call", subject="报价")))

    merged = merge(contacts, survivor.id, [dup.id])
    assert merged.title == "经理" and merged.social["wechat"] == "zj" and list(merged.tags) == ["a", "b"]
    assert [p.number for p in merged.phones] == ["+8613800138000", "+8613900139000"]
    assert merged.version == survivor.version + 1

    retired = contacts.read(lambda s: store.load(s, pb.Contact, dup.id))
    assert retired.deleted and retired.merged_into_id == survivor.id
    [row] = contacts.rows(merges)
    assert (row.survivor_id, row.merged_id, row.merged_by) == (survivor.id, dup.id, "rep.north.1")
    entries, _ = contacts.read(lambda s: timeline.list_timeline(
        s, principal=contacts.users["rep.north.1"], contact_id=survivor.id, page_size=10, page_token=""))
    assert {e.kind for e in entries} == {"merged", "call"} and logged.id in {e.id for e in entries}
    assert contacts.subjects()[-2:] == ["crm.contacts.contact.deleted", "crm.contacts.contact.merged"]
    assert contacts.payload() == ev.ContactsMerged(survivor=merged, merged_ids=[dup.id], merged_by="rep.north.1")
    with pytest.raises(NotFound) as again:
        merge(contacts, survivor.id, [dup.id])
    assert again.value.field == "merged_ids[0]"


@pytest.mark.parametrize("merged_ids", [[], ["self"], ["x", "x"]])
def test_a_merge_needs_distinct_others(contacts, merged_ids: list[str]) -> None:
    survivor = create(contacts, pb.Contact(name="周杰"))
    with pytest.raises(InvalidArgument) as bad:
        merge(contacts, survivor.id, [survivor.id if i == "self" else i for i in merged_ids])
    assert bad.value.field == "merged_ids"
