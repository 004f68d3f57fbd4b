"""Accounts and contacts through their use cases, on the real schema: create with normalization
and duplicate detection, update with the version check and the contract's patchable fields,
delete, visibility, listing, and ownership transfers."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from google.protobuf.struct_pb2 import Struct

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as ev
from crm_contacts.usecases import records
from crmkit.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PermissionDenied
from crmkit.fields import patchable
from crmkit.records import dt
from crmkit.runtime_tables import audit_row
from crmkit.servicer import copy

# What UpdateContact / UpdateAccount refused before the contract declared it (OUTPUT_ONLY).
SERVER_OWNED = {"id", "version", "created_at", "updated_at", "deleted", "merged_into_id", "consents",
                # an account's public pool state (usecases/pool.py)
                "in_pool", "pool_reason", "pooled_at", "assigned_at", "previous_owner_id"}


def create(contacts, contact: pb.Contact, user: str = "rep.north.1", *,
           allow_duplicate: bool = False) -> pb.Contact:
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users[user], now=contacts.now, record=contact, allow_duplicate=allow_duplicate))


def update(contacts, patch: pb.Contact | pb.Account, paths: list[str], expected_version: int = 0,
           user: str = "rep.north.1") -> pb.Contact | pb.Account:
    later = contacts.now + timedelta(minutes=5)
    return contacts.write(lambda uow: records.update_record(
        uow, principal=contacts.users[user], now=later, patch=patch, mask=paths,
        expected_version=expected_version))


def get(contacts, contact_id: str, user: str = "rep.north.1") -> pb.Contact:
    return contacts.read(lambda s: records.get_record(s, principal=contacts.users[user], kind=pb.Contact,
                                                      record_id=contact_id))


def test_create_normalizes_fills_ownership_stamps_and_emits_the_snapshot(contacts) -> None:
    made = create(contacts, pb.Contact(
        id="chosen-by-the-client", name="  张伟 ", phones=[pb.Phone(raw="138-0013-8000")],
        emails=[pb.Email(address="Zhang.Wei@Example.COM")], tags=["展会", " 展会 ", "vip"]))

    assert made.name == "张伟"
    assert [(p.number, p.kind) for p in made.phones] == [("+8613800138000", "mobile")]
    assert [e.address for e in made.emails] == ["zhang.wei@example.com"]
    assert list(made.tags) == ["展会", "vip"]
    assert (made.owner_id, made.team, made.region) == ("rep.north.1", "north-sales", "north")
    assert made.id != "chosen-by-the-client" and made.version == 1
    assert dt(made.created_at) == contacts.now == dt(made.updated_at)
    assert get(contacts, made.id) == made

    [env] = contacts.events
    assert (env.event_type, env.aggregate_type, env.aggregate_id, env.aggregate_version) == (
        "crm.contacts.contact.created", "contact", made.id, 1)
    assert env.producer == "contacts" and env.actor.user_id == "rep.north.1"
    assert dt(env.occurred_at) == contacts.now
    assert contacts.payload() == ev.ContactCreated(contact=made)
    [audit] = contacts.rows(audit_row)
    assert (audit.actor, audit.action, audit.record_type, audit.record_id, audit.event_id) == (
        "rep.north.1", "created", "contact", made.id, env.event_id)


def test_a_second_contact_with_the_same_phone_is_refused_unless_duplicates_are_allowed(contacts) -> None:
    first = create(contacts, pb.Contact(name="张伟", phones=[pb.Phone(raw="+86 138 0013 8000")]))
    with pytest.raises(AlreadyExists) as refused:
        create(contacts, pb.Contact(name="张伟 (展会)", phones=[pb.Phone(raw="0086 13800138000")]))
    assert refused.value.field == "phones" and refused.value.details == {"existing_id": first.id}
    with pytest.raises(AlreadyExists) as by_email:
        create(contacts, pb.Contact(name="Other", emails=[pb.Email(address="X@Y.CN")]))
        create(contacts, pb.Contact(name="Other again", emails=[pb.Email(address="x@y.cn")]))
    assert by_email.value.field == "emails"
    assert contacts.subjects() == ["crm.contacts.contact.created"] * 2, "a refused create emits nothing"

    again = create(contacts, pb.Contact(name="张伟 (展会)", phones=[pb.Phone(raw="13800138000")]), allow_duplicate=True)
    assert again.id != first.id


def test_a_second_account_with_the_same_phone_is_refused_in_plain_english(contacts) -> None:
    first = create(contacts, pb.Account(name="华为", phones=[pb.Phone(raw="010-12345678")]))
    with pytest.raises(AlreadyExists) as refused:
        create(contacts, pb.Account(name="华为技术", phones=[pb.Phone(raw="+86 10 1234 5678")]))
    assert refused.value.message.startswith(f"an account with the same phone or email exists: {first.id}")


@pytest.mark.parametrize(("user", "owner", "error"), [
    ("support.1", "", PermissionDenied),        # support reads customers, never creates them
    ("finance.hq", "", PermissionDenied),
    ("rep.north.1", "rep.north.2", PermissionDenied),  # a rep owns what they create
])
def test_who_may_create_what(contacts, user: str, owner: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        create(contacts, pb.Contact(name="客户", owner_id=owner), user)
    assert contacts.events == []


def test_a_manager_assigns_and_marketing_creates_its_own(contacts) -> None:
    assigned = create(contacts, pb.Contact(name="客户", owner_id="rep.north.2"), "manager.north")
    assert assigned.owner_id == "rep.north.2"
    assert create(contacts, pb.Contact(name="活动客户"), "mkt.1").owner_id == "mkt.1"


def test_invalid_input_names_its_field(contacts) -> None:
    for contact, field in ((pb.Contact(name=" "), "name"), (pb.Contact(name="x", level="gold"), "level"),
                           (pb.Contact(name="x", phones=[pb.Phone(raw="12")]), "phones[0].number")):
        with pytest.raises(InvalidArgument) as err:
            create(contacts, contact)
        assert err.value.field == field


def test_update_applies_the_mask_only_bumps_the_version_and_names_the_changed_fields(contacts) -> None:
    made = create(contacts, pb.Contact(name="李娜", title="采购", tags=["a"]))
    changed = update(contacts, pb.Contact(id=made.id, name="李娜娜", title="ignored: not in the mask"),
                     ["name"], expected_version=1)
    assert (changed.name, changed.title, changed.version) == ("李娜娜", "采购", 2)
    assert dt(changed.updated_at) == contacts.now + timedelta(minutes=5)
    assert changed.created_at == made.created_at
    assert contacts.subjects()[-1] == "crm.contacts.contact.updated"
    assert contacts.payload() == ev.ContactUpdated(contact=changed, changed_fields=["name"])


def test_a_stale_version_conflicts_and_changes_nothing(contacts) -> None:
    made = create(contacts, pb.Contact(name="李娜"))
    update(contacts, pb.Contact(id=made.id, title="经理"), ["title"], expected_version=1)
    with pytest.raises(Conflict) as stale:
        update(contacts, pb.Contact(id=made.id, title="总监"), ["title"], expected_version=1)
    assert stale.value.field == "If-Match" and stale.value.details == {"current_version": 2}
    assert get(contacts, made.id).title == "经理"
    assert len(contacts.events) == 2


def test_an_update_that_changes_nothing_keeps_the_version_and_emits_nothing(contacts) -> None:
    made = create(contacts, pb.Contact(name="李娜", phones=[pb.Phone(raw="13800138000")]))
    same = update(contacts, pb.Contact(id=made.id, name=" 李娜 ", phones=[pb.Phone(raw="13800138000")]),
                  ["name", "phones"])
    assert same.version == 1 and contacts.subjects() == ["crm.contacts.contact.created"]


@pytest.mark.parametrize("message", [pb.Contact, pb.Account])
def test_the_contract_declares_the_fields_an_update_may_name(message: type[pb.Contact | pb.Account]) -> None:
    every = {f.name for f in message.DESCRIPTOR.fields}
    assert patchable(message) == every - SERVER_OWNED


@pytest.mark.parametrize("field", [f.name for f in pb.Contact.DESCRIPTOR.fields])
def test_update_accepts_exactly_the_patchable_fields(contacts, field: str) -> None:
    made = create(contacts, pb.Contact(name="王芳", title="采购"))
    patch = copy(made)  # every field as it is, so a path refused is refused for what it names
    if field in patchable(pb.Contact):
        assert update(contacts, patch, [field]).id == made.id
    else:
        with pytest.raises(InvalidArgument) as refused:
            update(contacts, patch, [field])
        assert refused.value.field == field and "set by the server" in refused.value.message


def test_unknown_or_empty_masks_are_refused(contacts) -> None:
    made = create(contacts, pb.Contact(name="王芳"))
    for paths, field in ((["nickname"], "nickname"), ([], "update_mask")):
        with pytest.raises(InvalidArgument) as err:
            update(contacts, pb.Contact(id=made.id), paths)
        assert err.value.field == field


def test_accounts_share_the_rules(contacts) -> None:
    account = contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now,
        record=pb.Account(name="华为技术有限公司", custom_fields=Struct()), allow_duplicate=False))
    renamed = update(contacts, pb.Account(id=account.id, name="华为"), ["name"])
    assert renamed.name == "华为" and renamed.version == 2
    assert contacts.subjects() == ["crm.contacts.account.created", "crm.contacts.account.updated"]
    with pytest.raises(InvalidArgument):
        update(contacts, pb.Account(id=account.id), ["deleted"])


def test_delete_hides_the_record_and_checks_the_version(contacts) -> None:
    made = create(contacts, pb.Contact(name="赵敏", phones=[pb.Phone(raw="13800138000")]))

    def delete(expected: int) -> None:
        contacts.write(lambda uow: records.delete_record(
            uow, principal=contacts.users["rep.north.1"], now=contacts.now, kind=pb.Contact, record_id=made.id,
            expected_version=expected))

    with pytest.raises(Conflict):
        delete(7)
    delete(1)
    with pytest.raises(NotFound):
        get(contacts, made.id)
    assert contacts.subjects()[-1] == "crm.contacts.contact.deleted"
    assert create(contacts, pb.Contact(name="赵敏", phones=[pb.Phone(raw="13800138000")])).id, \
        "a deleted record is no duplicate"


def test_others_records_are_not_found_and_read_only_callers_cannot_change_them(contacts) -> None:
    made = create(contacts, pb.Contact(name="钱进"))
    with pytest.raises(NotFound):
        get(contacts, made.id, "rep.north.2")
    with pytest.raises(NotFound):
        get(contacts, made.id, "manager.south")
    assert get(contacts, made.id, "support.1").id == made.id
    with pytest.raises(PermissionDenied):
        update(contacts, pb.Contact(id=made.id, title="x"), ["title"], user="support.1")
    assert update(contacts, pb.Contact(id=made.id, title="x"), ["title"], user="manager.north").version == 2


def test_list_pages_with_opaque_tokens_and_applies_visibility(contacts) -> None:
    mine = [create(contacts, pb.Contact(name=f"客户 {i}", level="vip" if i % 2 else "")).id for i in range(5)]
    create(contacts, pb.Contact(name="别人的客户"), "rep.north.2")

    def page(token: str, user: str = "rep.north.1", flt: pb.ListFilter | None = None) -> tuple[list[str], str]:
        found, next_token = contacts.read(lambda s: records.list_records(
            s, principal=contacts.users[user], kind=pb.Contact, filter=flt or pb.ListFilter(), page_size=2,
            page_token=token))
        return [r.id for r in found], next_token

    seen, token = page("")
    while token:
        more, token = page(token)
        seen += more
    assert seen == mine
    assert page("", flt=pb.ListFilter(level="vip"))[0] == [mine[1], mine[3]]
    assert len(page("", "manager.north")[0]) == 2 and page("", "rep.south.1") == ([], "")
    with pytest.raises(InvalidArgument) as bad:
        page("not-a-token")
    assert bad.value.field == "page_token"


def test_a_transfer_moves_only_what_the_leaving_rep_still_owns_once(contacts) -> None:
    theirs = create(contacts, pb.Contact(name="甲"))
    reassigned = create(contacts, pb.Contact(name="乙"))
    update(contacts, pb.Contact(id=reassigned.id, owner_id="rep.south.1"), ["owner_id"], user="manager.north")

    def transfer(record_id: str) -> bool:
        return contacts.write(lambda uow: records.transfer_owner(
            uow, principal=contacts.users["manager.north"], now=contacts.now, kind=pb.Contact, record_id=record_id,
            from_user="rep.north.1", to_user="rep.north.2", reason="离职"))

    assert transfer(theirs.id) and not transfer(theirs.id), "a repeat changes nothing"
    assert not transfer(reassigned.id) and not transfer("no-such-contact")
    moved = get(contacts, theirs.id, "rep.north.2")
    assert (moved.owner_id, moved.version) == ("rep.north.2", 2)
    assert contacts.payload() == ev.ContactUpdated(contact=moved, changed_fields=["owner_id"])
    last = max(contacts.rows(audit_row), key=lambda row: row.seq)
    assert json.loads(last.details)["note"] == "owner rep.north.1 -> rep.north.2; 离职"
