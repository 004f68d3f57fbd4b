"""The documented maxima of contacts (crmkit.limits) through the use cases: lists and texts over
a maximum refused naming the field before any work, an update held only to what it changes, and
the duplicate bookkeeping linear in the phones it is given."""
from __future__ import annotations

from datetime import timedelta

import pytest

from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts import store
from crm_contacts.rules import records as rules
from crm_contacts.usecases import duplicates, records
from crmkit import limits
from crmkit.errors import InvalidArgument


def create(contacts, contact: pb.Contact, user: str = "rep.north.1") -> pb.Contact:
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users[user], now=contacts.now, record=contact, allow_duplicate=False))


def phones(n: int, prefix: str = "139") -> list[pb.Phone]:
    return [pb.Phone(number=f"+86 {prefix}{i:08d}") for i in range(n)]


@pytest.mark.parametrize(("field", "contact"), [
    ("phones", pb.Contact(name="总机", phones=phones(limits.MAX_PHONES + 1))),
    ("emails", pb.Contact(name="群发", emails=[pb.Email(address=f"a{i}@example.com")
                                              for i in range(limits.MAX_EMAILS + 1)])),
    ("addresses", pb.Contact(name="多址", addresses=[pb.Address(country="CN")] * (limits.MAX_ADDRESSES + 1))),
    ("tags", pb.Contact(name="标签", tags=[f"t{i}" for i in range(limits.MAX_TAGS + 1)])),
    ("title", pb.Contact(name="头衔", title="经" * (limits.MAX_SHORT_TEXT + 1))),
    ("addresses[0].street", pb.Contact(name="长街", addresses=[pb.Address(country="CN",
                                                                            street="路" * (limits.MAX_SHORT_TEXT + 1))])),
    ("social.wechat", pb.Contact(name="微信", social={"wechat": "w" * (limits.MAX_SHORT_TEXT + 1)})),
])
def test_a_record_over_a_documented_maximum_is_refused_naming_the_field(contacts, field, contact) -> None:
    with pytest.raises(InvalidArgument) as refused:
        create(contacts, contact)
    assert refused.value.field == field


def test_a_custom_field_key_longer_than_any_definition_is_named_shortly(contacts) -> None:
    contact = pb.Contact(name="键")
    contact.custom_fields.update({"键" * 10_000: 1})
    with pytest.raises(InvalidArgument) as refused:
        create(contacts, contact)
    assert refused.value.field == "custom_fields." + "键" * limits.MAX_CUSTOM_FIELD_KEY  # fits in a trailer


def test_a_custom_field_value_longer_than_documented_is_refused(contacts) -> None:
    contact = pb.Contact(name="长值")
    contact.custom_fields.update({"industry_code": "C" * (limits.MAX_CUSTOM_FIELD_VALUE + 1)})
    with pytest.raises(InvalidArgument) as refused:
        create(contacts, contact)
    assert refused.value.field == "custom_fields.industry_code"


def test_an_update_is_held_to_the_maxima_of_what_it_changes_only(contacts) -> None:
    made = create(contacts, pb.Contact(name="合并后", phones=phones(limits.MAX_PHONES)))
    # A merge may leave a survivor above the maximum; it must stay editable.
    with contacts.db.unit_of_work() as uow:
        record = store.load(uow.session, pb.Contact, made.id)
        assert record is not None
        record.phones.extend(phones(5, prefix="137"))
        store.update_record(uow.session, record)
        uow.commit()
    later = contacts.now + timedelta(minutes=5)
    renamed = contacts.write(lambda uow: records.update_record(
        uow, principal=contacts.users["rep.north.1"], now=later, patch=pb.Contact(id=made.id, title="总监"),
        mask=["title"], expected_version=0))
    assert renamed.title == "总监" and len(renamed.phones) == limits.MAX_PHONES + 5
    with pytest.raises(InvalidArgument) as refused:
        contacts.write(lambda uow: records.update_record(
            uow, principal=contacts.users["rep.north.1"], now=later,
            patch=pb.Contact(id=made.id, phones=phones(limits.MAX_PHONES + 1, prefix="136")),
            mask=["phones"], expected_version=0))
    assert refused.value.field == "phones"


def test_a_duplicates_check_is_bounded_by_the_phones_a_record_may_have(contacts) -> None:
    with pytest.raises(InvalidArgument) as refused:
        contacts.read(lambda s: duplicates.find_duplicates(s, principal=contacts.users["rep.north.1"],
                                                           candidate=pb.Contact(phones=phones(5_000))))
    assert refused.value.field == "phones"


def test_the_same_phone_typed_many_ways_is_kept_once() -> None:
    typed = ["+86 139-0000-0001", "0086 13900000001", "13900000001", "+8613900000001"]
    contact = pb.Contact(name="同号", phones=[pb.Phone(number=t) for t in typed])
    rules.normalize_contact(contact)
    assert [p.number for p in contact.phones] == ["+8613900000001"]
    survivor, other = pb.Contact(phones=contact.phones), pb.Contact(phones=[*contact.phones, pb.Phone(number="+8613900000002")])
    assert rules.merge_into(survivor, other) == ["phones"]
    assert [p.number for p in survivor.phones] == ["+8613900000001", "+8613900000002"]
