"""The pure customer-data rules: what a user types becomes what we store, or a clear error
that names the field in the API's own terms."""
from __future__ import annotations

import pytest
from google.protobuf.struct_pb2 import Struct

from crm.contacts.v1.contacts_pb2 import Address, Contact, CustomFieldDefinition, Email, Phone
from crm_contacts.rules import records as rules
from crmkit.errors import InvalidArgument


def _contact(**kwargs: object) -> Contact:
    kwargs.setdefault("name", "张伟")
    return Contact(**kwargs)  # type: ignore[arg-type]


def _struct(values: dict) -> Struct:
    s = Struct()
    s.update(values)
    return s


# -- phones ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "+86 138-0013-8000",
    "+8613800138000",
    "13800138000",
    "138 0013 8000",
    "  138-0013-8000  ",
    "0086 138 0013 8000",
    "008613800138000",
    "(+86) 138 0013 8000",
    "8613800138000",
    "１３８００１３８０００",  # full-width digits from a Chinese IME
])
def test_mainland_mobile_in_any_format_becomes_e164(raw: str) -> None:
    assert rules.normalize_phone(raw, "phones[0].number") == "+8613800138000"


@pytest.mark.parametrize(("raw", "e164"), [
    ("010-6552-9988", "+861065529988"),          # Beijing landline, trunk prefix 0
    ("+86 10 6552 9988", "+861065529988"),
    ("+1 (415) 555-2671", "+14155552671"),
    ("001 415 555 2671", "+14155552671"),        # international prefix 00 for any country
    ("+44 20 7946 0958", "+442079460958"),
])
def test_landlines_and_foreign_numbers_become_e164(raw: str, e164: str) -> None:
    assert rules.normalize_phone(raw, "f") == e164


@pytest.mark.parametrize("raw", ["12345", "abc", "+86 138", "", "1380013800", "138001380001", "+999 1234"])
def test_invalid_phone_is_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_phone(raw, "phones[2].number")
    assert err.value.field == "phones[2].number"


def test_contact_phones_are_normalized_deduplicated_and_keep_what_was_typed() -> None:
    contact = _contact(phones=[
        Phone(number="+86 138-0013-8000"),
        Phone(raw="0086 138 0013 8000", kind="work"),   # same number: dropped
        Phone(number="010-6552-9988", kind="work"),
    ])
    rules.normalize_contact(contact)
    assert [(p.number, p.kind, p.raw) for p in contact.phones] == [
        ("+8613800138000", "mobile", "+86 138-0013-8000"),
        ("+861065529988", "work", "010-6552-9988"),
    ]


def test_invalid_phone_in_a_contact_names_its_position() -> None:
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_contact(_contact(phones=[Phone(number="12345")]))
    assert err.value.field == "phones[0].number"
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_contact(_contact(phones=[Phone(number="13800138000"), Phone(number="not a phone")]))
    assert err.value.field == "phones[1].number"


def test_missing_phone_number_and_unknown_kind_are_refused() -> None:
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_contact(_contact(phones=[Phone(kind="mobile")]))
    assert err.value.field == "phones[0].number"
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_contact(_contact(phones=[Phone(number="13800138000", kind="pager")]))
    assert err.value.field == "phones[0].kind"


# -- emails, tags, names, enums, addresses ----------------------------------------------------

def test_emails_are_trimmed_lower_cased_and_deduplicated() -> None:
    contact = _contact(emails=[
        Email(address="  Zhang.Wei@Example.COM "),
        Email(address="zhang.wei@example.com", kind="personal"),
        Email(address="li@example.cn", kind="personal"),
    ])
    rules.normalize_contact(contact)
    assert [(e.address, e.kind) for e in contact.emails] == [
        ("zhang.wei@example.com", "work"), ("li@example.cn", "personal"),
    ]


@pytest.mark.parametrize("raw", ["zhang", "zhang@", "@example.com", "zhang wei@example.com", "a@b", "x" * 320 + "@a.cn"])
def test_invalid_email_is_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_contact(_contact(emails=[Email(address="ok@example.com"), Email(address=raw)]))
    assert err.value.field == "emails[1].address"


def test_tags_are_trimmed_and_deduplicated_in_order_keeping_case() -> None:
    assert rules.normalize_tags([" VIP ", "华北", "vip", "VIP", "华北", "展会"]) == ["VIP", "华北", "vip", "展会"]


def test_blank_or_too_long_tag_and_too_many_tags_are_refused() -> None:
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_tags(["ok", "  "])
    assert err.value.field == "tags[1]"
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_tags(["x" * 101], "add")
    assert err.value.field == "add[0]"
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_tags([f"t{i}" for i in range(rules.MAX_TAGS + 1)])
    assert err.value.field == "tags"
    assert len(rules.normalize_tags([f"t{i}" for i in range(rules.MAX_TAGS)] + ["t0"])) == rules.MAX_TAGS


def test_contact_tags_are_normalized_in_place() -> None:
    contact = _contact(tags=["展会 ", "展会", "vip"])
    rules.normalize_contact(contact)
    assert list(contact.tags) == ["展会", "vip"]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": "   "}, "name"),
    ({"name": "x" * 301}, "name"),
    ({"source": "billboard"}, "source"),
    ({"level": "gold"}, "level"),
    ({"lifecycle_stage": "married"}, "lifecycle_stage"),
    ({"addresses": [Address(kind="moon")]}, "addresses[0].kind"),
    ({"addresses": [Address(country="China")]}, "addresses[0].country"),
    ({"addresses": [Address(country="CN"), Address(city="上海")]}, "addresses[1].country"),
])
def test_bad_contact_fields_are_refused_naming_the_field(kwargs: dict, field: str) -> None:
    kwargs.setdefault("name", "张伟")
    with pytest.raises(InvalidArgument) as err:
        rules.normalize_contact(Contact(**kwargs))
    assert err.value.field == field


def test_name_is_trimmed_and_known_values_pass() -> None:
    contact = Contact(name="  王芳 ", source="trade_show", level="vip", lifecycle_stage="customer",
                      addresses=[Address(kind="office", country="CN", province="北京", city="北京")])
    rules.normalize_contact(contact)
    assert contact.name == "王芳"
    assert (contact.source, contact.level, contact.lifecycle_stage) == ("trade_show", "vip", "customer")


# -- custom fields ----------------------------------------------------------------------------

DEFS = {
    "budget": CustomFieldDefinition(entity="contact", key="budget", type="number"),
    "wechat_group": CustomFieldDefinition(entity="contact", key="wechat_group", type="text"),
    "signed": CustomFieldDefinition(entity="contact", key="signed", type="boolean"),
    "first_met": CustomFieldDefinition(entity="contact", key="first_met", type="date"),
    "tier": CustomFieldDefinition(entity="contact", key="tier", type="choice", choices=["A", "B"]),
}


def test_custom_field_values_of_the_declared_type_pass() -> None:
    values = _struct({"budget": 12000.5, "wechat_group": "华北客户群", "signed": False,
                      "first_met": "2024-02-29", "tier": "B"})
    rules.check_custom_fields(values, DEFS, creating=True)


@pytest.mark.parametrize(("key", "value"), [
    ("budget", "12000"),
    ("budget", True),            # a boolean is not a number
    ("wechat_group", 3),
    ("signed", "yes"),
    ("signed", 1),
    ("first_met", "2024-02-30"),
    ("first_met", "20240101"),
    ("first_met", "2024-01-01T10:00:00"),
    ("first_met", 20240101),
    ("tier", "C"),
    ("tier", "a"),
])
def test_custom_field_of_the_wrong_type_is_refused(key: str, value: object) -> None:
    with pytest.raises(InvalidArgument) as err:
        rules.check_custom_fields(_struct({key: value}), DEFS, creating=False)
    assert err.value.field == f"custom_fields.{key}"


def test_unknown_custom_field_is_refused() -> None:
    with pytest.raises(InvalidArgument) as err:
        rules.check_custom_fields(_struct({"budget": 1, "shoe_size": 42}), DEFS, creating=False)
    assert err.value.field == "custom_fields.shoe_size"


def test_required_custom_field_is_enforced_on_create_only() -> None:
    defs = {**DEFS, "contract_no": CustomFieldDefinition(entity="contact", key="contract_no", type="text",
                                                        required=True)}
    for values in ({}, {"budget": 5}, {"contract_no": ""}, {"contract_no": None}):
        with pytest.raises(InvalidArgument) as err:
            rules.check_custom_fields(_struct(values), defs, creating=True)
        assert err.value.field == "custom_fields.contract_no"
    rules.check_custom_fields(_struct({"contract_no": "HT-2024-001"}), defs, creating=True)
    rules.check_custom_fields(_struct({"budget": 5}), defs, creating=False)


@pytest.mark.parametrize(("definition", "field"), [
    (CustomFieldDefinition(entity="deal", key="x", type="text"), "entity"),
    (CustomFieldDefinition(entity="contact", key="Budget", type="text"), "key"),
    (CustomFieldDefinition(entity="contact", key="1x", type="text"), "key"),
    (CustomFieldDefinition(entity="contact", key="x" * 65, type="text"), "key"),
    (CustomFieldDefinition(entity="contact", key="x", type="money"), "type"),
    (CustomFieldDefinition(entity="contact", key="x", type=""), "type"),
    (CustomFieldDefinition(entity="contact", key="x", type="choice"), "choices"),
])
def test_bad_custom_field_definition_is_refused(definition: CustomFieldDefinition, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        rules.check_definition(definition)
    assert err.value.field == field


def test_good_custom_field_definition_passes() -> None:
    rules.check_definition(CustomFieldDefinition(entity="account", key="credit_limit_2", type="number"))
    rules.check_definition(CustomFieldDefinition(entity="contact", key="tier", type="choice", choices=["A"]))


# -- merge ------------------------------------------------------------------------------------

def test_merge_unites_lists_and_fills_only_blank_scalars() -> None:
    survivor = Contact(
        id="s", name="张伟", title="", company_name="顺纽科技", level="vip",
        phones=[Phone(number="+8613800138000", kind="mobile")],
        emails=[Email(address="zw@example.com")],
        addresses=[Address(kind="office", country="CN", city="北京")],
        tags=["华北", "vip"], social={"wechat": "zhangwei"},
    )
    survivor.custom_fields.update({"tier": "A"})
    other = Contact(
        id="o", name="Zhang Wei", title="采购经理", company_name="别的公司", level="regular", source="trade_show",
        phones=[Phone(number="+8613800138000", kind="work"), Phone(number="+861065529988", kind="work")],
        emails=[Email(address="ZW@example.com".lower()), Email(address="zhang@corp.cn")],
        addresses=[Address(kind="office", country="CN", city="北京"), Address(kind="billing", country="CN")],
        tags=["vip", "展会"], social={"wechat": "other", "linkedin": "zw"},
    )
    other.custom_fields.update({"tier": "B", "budget": 100})
    changed = rules.merge_into(survivor, other)

    assert survivor.name == "张伟" and survivor.company_name == "顺纽科技" and survivor.level == "vip"
    assert survivor.title == "采购经理" and survivor.source == "trade_show"
    assert [p.number for p in survivor.phones] == ["+8613800138000", "+861065529988"]
    assert [e.address for e in survivor.emails] == ["zw@example.com", "zhang@corp.cn"]
    assert [a.kind for a in survivor.addresses] == ["office", "billing"]
    assert list(survivor.tags) == ["华北", "vip", "展会"]
    assert dict(survivor.social) == {"wechat": "zhangwei", "linkedin": "zw"}
    assert dict(survivor.custom_fields.items()) == {"tier": "A", "budget": 100}
    assert changed == sorted(["title", "source", "phones", "emails", "addresses", "tags", "social",
                              "custom_fields"])


def test_merging_a_subset_changes_nothing() -> None:
    survivor = Contact(name="A", title="CEO", phones=[Phone(number="+8613800138000")], tags=["x"])
    before = survivor.SerializeToString(deterministic=True)
    assert rules.merge_into(survivor, Contact(name="B", phones=[Phone(number="+8613800138000")], tags=["x"])) == []
    assert survivor.SerializeToString(deterministic=True) == before


def test_identity_values_are_the_normalized_phones_and_emails() -> None:
    contact = _contact(phones=[Phone(number="138 0013 8000")], emails=[Email(address="A@B.CN")])
    rules.normalize_contact(contact)
    assert rules.identity_values(contact) == [("phone", "+8613800138000"), ("email", "a@b.cn")]
