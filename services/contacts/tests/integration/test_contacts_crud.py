"""Creating, reading, changing and deleting customers through the real gRPC API, and the events
each write puts on JetStream."""
from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc import StatusCode

from crm.common.v1.types_pb2 import PageRequest
from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub

pytestmark = pytest.mark.integration

CREATED, UPDATED, DELETED = "crm.contacts.contact.created", "crm.contacts.contact.updated", "crm.contacts.contact.deleted"


def e164(typed: str) -> str:
    return "+" + "".join(ch for ch in typed if ch.isdigit())


def test_create_normalizes_and_get_returns_the_same_record(api, stream, contacts, new_phone, new_email) -> None:
    rep = api("rep.north.1")
    phone, email = new_phone(), new_email()
    created = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(
        name="  张伟  ", title="采购经理", company_name="北京顺纽科技有限公司", source="trade_show", level="vip",
        phones=[pb.Phone(number=phone), pb.Phone(number=phone.replace("+86", "0086"), kind="work")],
        emails=[pb.Email(address=f"  {email} ")],
        addresses=[pb.Address(kind="office", country="CN", province="北京市", city="北京市", district="海淀区")],
        tags=["展会2024", " 展会2024 ", "华北"],
    )))
    assert created.id and created.version == 1 and not created.deleted
    assert created.name == "张伟"
    assert [(p.number, p.kind, p.raw) for p in created.phones] == [(e164(phone), "mobile", phone)]
    assert [e.address for e in created.emails] == [email.lower()]
    assert list(created.tags) == ["展会2024", "华北"]
    assert (created.owner_id, created.team, created.region) == ("rep.north.1", "north-sales", "north")
    assert created.created_at.seconds > 0 and created.created_at == created.updated_at

    assert rep.GetContact(pb.GetContactRequest(id=created.id)) == created

    (subject, env), = stream.events(contacts, created.id)
    assert subject == CREATED
    assert (env.aggregate_type, env.aggregate_version) == ("contact", 1)
    assert env.actor.user_id == "rep.north.1" and env.actor.region == "north"
    body = ev.ContactCreated()
    assert env.payload.Unpack(body)
    assert body.contact == created


def test_duplicate_phone_or_email_is_refused_with_the_existing_id(
        api, stream, contacts, new_phone, new_email, fails, row_counts) -> None:
    rep = api("rep.north.1")
    phone, email = new_phone(), new_email()
    first = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(
        name="王芳", phones=[pb.Phone(number=phone)], emails=[pb.Email(address=email)])))
    before = row_counts()

    # the same mobile typed differently, by someone else who cannot even see the first record:
    # refused, without naming the record they may not see
    same_phone = pb.Contact(name="Wang Fang", phones=[pb.Phone(number=phone.replace("+86 ", "0086").replace("-", ""))])
    failure = fails(StatusCode.ALREADY_EXISTS, api("rep.south.1").CreateContact,
                    pb.CreateContactRequest(contact=same_phone))
    assert failure.details == {} and first.id not in failure.message
    assert failure.field == "phones"

    same_email = pb.Contact(name="王芳", emails=[pb.Email(address=email.upper())])
    failure = fails(StatusCode.ALREADY_EXISTS, rep.CreateContact, pb.CreateContactRequest(contact=same_email))
    assert failure.details == {"existing_id": first.id}
    assert failure.field == "emails"
    assert row_counts() == before

    second = api("rep.south.1").CreateContact(pb.CreateContactRequest(contact=same_phone, allow_duplicate=True))
    assert second.id != first.id
    assert [p.number for p in second.phones] == [e164(phone)]
    after = row_counts()
    assert after["contacts"] == before["contacts"] + 1
    assert stream.subjects(contacts, first.id, second.id) == [CREATED, CREATED]

    matches = rep.FindDuplicates(pb.FindDuplicatesRequest(candidate=pb.Contact(phones=[pb.Phone(number=phone)])))
    assert {m.id for m in matches.matches} == {first.id}  # rep.north.1 cannot see the south rep's copy
    matches = api("admin").FindDuplicates(pb.FindDuplicatesRequest(candidate=pb.Contact(phones=[pb.Phone(number=phone)])))
    assert {m.id for m in matches.matches} == {first.id, second.id}


def test_deleted_contact_no_longer_blocks_its_phone(api, new_phone) -> None:
    rep = api("rep.north.2")
    phone = new_phone()
    old = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="李娜", phones=[pb.Phone(number=phone)])))
    rep.DeleteContact(pb.DeleteContactRequest(id=old.id))
    new = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="李娜", phones=[pb.Phone(number=phone)])))
    assert new.id != old.id


def test_update_changes_only_the_masked_fields(api, stream, contacts, new_phone, fails) -> None:
    rep = api("rep.north.1")
    original = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(
        name="赵敏", title="工程师", level="regular", phones=[pb.Phone(number=new_phone())], tags=["a"])))
    phone = new_phone()
    patch = pb.Contact(id=original.id, name="NOT IN THE MASK", title="技术总监", level="vip",
                       phones=[pb.Phone(number=phone)], social={"wechat": "zhaomin88"})
    updated = rep.UpdateContact(pb.UpdateContactRequest(
        contact=patch, update_mask=FieldMask(paths=["title", "level", "phones", "social"]), expected_version=1))
    assert updated.version == 2
    assert (updated.name, updated.title, updated.level) == ("赵敏", "技术总监", "vip")
    assert [p.number for p in updated.phones] == [e164(phone)]
    assert dict(updated.social) == {"wechat": "zhaomin88"}
    assert list(updated.tags) == ["a"]
    assert updated.created_at == original.created_at and updated.updated_at.ToDatetime() >= original.updated_at.ToDatetime()
    assert rep.GetContact(pb.GetContactRequest(id=original.id)) == updated

    events = stream.events(contacts, original.id)
    assert [s for s, _ in events] == [CREATED, UPDATED]
    body = ev.ContactUpdated()
    assert events[1][1].payload.Unpack(body)
    assert list(body.changed_fields) == ["level", "phones", "social", "title"]
    assert body.contact == updated and events[1][1].aggregate_version == 2

    # an update that changes nothing makes no version and no event
    same = rep.UpdateContact(pb.UpdateContactRequest(
        contact=pb.Contact(id=original.id, title="技术总监"), update_mask=FieldMask(paths=["title"])))
    assert same.version == 2
    assert stream.subjects(contacts, original.id) == [CREATED, UPDATED]


def test_stale_expected_version_is_refused_and_changes_nothing(api, stream, contacts, fails, row_counts) -> None:
    rep = api("rep.north.1")
    c = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="孙悦", title="v1")))
    c2 = rep.UpdateContact(pb.UpdateContactRequest(
        contact=pb.Contact(id=c.id, title="v2"), update_mask=FieldMask(paths=["title"]), expected_version=1))
    before = row_counts()
    failure = fails(StatusCode.ABORTED, rep.UpdateContact, pb.UpdateContactRequest(
        contact=pb.Contact(id=c.id, title="lost update"), update_mask=FieldMask(paths=["title"]),
        expected_version=1))
    assert failure.field == "If-Match" and failure.details == {"current_version": 2}
    fails(StatusCode.ABORTED, rep.DeleteContact, pb.DeleteContactRequest(id=c.id, expected_version=1))
    assert row_counts() == before
    assert rep.GetContact(pb.GetContactRequest(id=c.id)) == c2
    assert stream.subjects(contacts, c.id) == [CREATED, UPDATED]


@pytest.mark.parametrize(("mask", "field"), [
    ([], "update_mask"),
    (["version"], "version"),
    (["merged_into_id"], "merged_into_id"),
    (["deleted"], "deleted"),
    (["no_such_field"], "no_such_field"),
    (["name"], "name"),                   # the patch's name is blank
    (["phones"], "phones[0].number"),
])
def test_bad_update_is_refused_naming_the_field(api, fails, row_counts, mask, field) -> None:
    rep = api("rep.north.1")
    c = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="周杰")))
    before = row_counts()
    patch = pb.Contact(id=c.id, name="", phones=[pb.Phone(number="12345")], version=99)
    failure = fails(StatusCode.INVALID_ARGUMENT, rep.UpdateContact,
                    pb.UpdateContactRequest(contact=patch, update_mask=FieldMask(paths=mask)))
    assert failure.field == field
    assert row_counts() == before
    assert rep.GetContact(pb.GetContactRequest(id=c.id)) == c


def test_soft_delete_hides_the_contact_from_get_and_list(api, stream, contacts, fails, stored) -> None:
    rep = api("rep.south.2")
    keep = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="保留", tags=["del-test"])))
    gone = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="删除", tags=["del-test"])))
    rep.DeleteContact(pb.DeleteContactRequest(id=gone.id, expected_version=1))

    fails(StatusCode.NOT_FOUND, rep.GetContact, pb.GetContactRequest(id=gone.id))
    fails(StatusCode.NOT_FOUND, api("admin").GetContact, pb.GetContactRequest(id=gone.id))
    listed = rep.ListContacts(pb.ListContactsRequest(filter=pb.ListFilter(tag="del-test")))
    assert [c.id for c in listed.contacts] == [keep.id]
    fails(StatusCode.NOT_FOUND, rep.DeleteContact, pb.DeleteContactRequest(id=gone.id))
    fails(StatusCode.NOT_FOUND, rep.UpdateContact, pb.UpdateContactRequest(
        contact=pb.Contact(id=gone.id, title="x"), update_mask=FieldMask(paths=["title"])))

    row = stored(gone.id)
    assert row.deleted and row.version == 2 and row.name == "删除"   # kept, only hidden
    events = stream.events(contacts, gone.id)
    assert [s for s, _ in events] == [CREATED, DELETED]
    body = ev.ContactDeleted()
    assert events[1][1].payload.Unpack(body)
    assert body.contact.deleted and body.contact.version == 2 and events[1][1].actor.user_id == "rep.south.2"


BAD_CREATES = [
    (pb.Contact(name="  "), "name"),
    (pb.Contact(name="x", phones=[pb.Phone(number="+86 138-0013-800")]), "phones[0].number"),
    (pb.Contact(name="x", phones=[pb.Phone(number="13800138000"), pb.Phone(number="call me")]), "phones[1].number"),
    (pb.Contact(name="x", emails=[pb.Email(address="not-an-email")]), "emails[0].address"),
    (pb.Contact(name="x", level="gold"), "level"),
    (pb.Contact(name="x", source="billboard"), "source"),
    (pb.Contact(name="x", tags=["ok", " "]), "tags[1]"),
    (pb.Contact(name="x", addresses=[pb.Address(city="上海")]), "addresses[0].country"),
    (pb.Contact(name="x", owner_id="rep.north.2"), "owner_id"),   # a rep cannot give a customer away
]


@pytest.mark.parametrize(("contact", "field"), BAD_CREATES, ids=[f for _, f in BAD_CREATES])
def test_bad_create_is_refused_naming_the_field_and_writes_nothing(api, fails, row_counts, contact, field) -> None:
    before = row_counts()
    code = StatusCode.PERMISSION_DENIED if field == "owner_id" else StatusCode.INVALID_ARGUMENT
    failure = fails(code, api("rep.north.1").CreateContact, pb.CreateContactRequest(contact=contact),
                    key=f"bad-{uuid.uuid4()}")
    assert failure.field == field
    assert row_counts() == before


def test_other_bad_requests_name_the_field_and_write_nothing(api, fails, row_counts) -> None:
    rep = api("rep.north.1")
    c = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="钱进")))
    before = row_counts()
    cases = [
        (rep.GetContact, pb.GetContactRequest(id=""), "id"),
        (rep.TagContact, pb.TagContactRequest(id=c.id, add=["ok", ""]), "add[1]"),
        (rep.TagContact, pb.TagContactRequest(id=c.id, remove=["x" * 101]), "remove[0]"),
        (rep.MergeContacts, pb.MergeContactsRequest(survivor_id=c.id), "merged_ids"),
        (rep.MergeContacts, pb.MergeContactsRequest(survivor_id=c.id, merged_ids=[c.id]), "merged_ids"),
        (rep.ListContacts, pb.ListContactsRequest(page=PageRequest(page_token="garbage!")), "page_token"),
        (rep.ListTimeline, pb.ListTimelineRequest(contact_id=c.id, page=PageRequest(page_token="czE")),
         "page_token"),
        (rep.LogInteraction, pb.LogInteractionRequest(interaction=pb.Interaction(
            contact_id=c.id, kind="telegram", content="hi")), "kind"),
        (rep.LogInteraction, pb.LogInteractionRequest(interaction=pb.Interaction(
            contact_id=c.id, kind="call", content="  ")), "content"),
    ]
    for call, request, field in cases:
        failure = fails(StatusCode.INVALID_ARGUMENT, call, request)
        assert failure.field == field, (request, failure.message)
    assert row_counts() == before
    assert rep.GetContact(pb.GetContactRequest(id=c.id)) == c


def test_calls_without_a_valid_token_are_refused(contacts, fails) -> None:
    with grpc.insecure_channel(contacts.address) as channel:
        stub = ContactsServiceStub(channel)
        fails(StatusCode.UNAUTHENTICATED, stub.ListContacts, pb.ListContactsRequest(), timeout=5)
        fails(StatusCode.UNAUTHENTICATED, stub.ListContacts, pb.ListContactsRequest(), timeout=5,
              metadata=[("authorization", "Bearer not.a.jwt")])


# -- idempotency -------------------------------------------------------------------------------

def test_same_idempotency_key_and_request_returns_the_first_answer(api, stream, contacts, new_phone, row_counts) -> None:
    rep = api("rep.north.1")
    key = f"create-{uuid.uuid4()}"
    request = pb.CreateContactRequest(contact=pb.Contact(name="马超", phones=[pb.Phone(number=new_phone())]))
    first = rep.CreateContact(request, key=key)
    before = row_counts()
    again = rep.CreateContact(request, key=key)
    assert again == first
    assert row_counts() == before
    assert stream.subjects(contacts, first.id) == [CREATED]

    # the same for an update: a retried call does not bump the version twice
    update = pb.UpdateContactRequest(contact=pb.Contact(id=first.id, title="总经理"),
                                     update_mask=FieldMask(paths=["title"]), expected_version=1)
    u1 = rep.UpdateContact(update, key=f"update-{uuid.uuid4()}")
    u_key = f"update-{uuid.uuid4()}"
    update2 = pb.UpdateContactRequest(contact=pb.Contact(id=first.id, title="董事长"),
                                      update_mask=FieldMask(paths=["title"]), expected_version=2)
    u2 = rep.UpdateContact(update2, key=u_key)
    assert rep.UpdateContact(update2, key=u_key) == u2   # would be ABORTED (stale version) without the key
    assert (u1.version, u2.version) == (2, 3)
    assert stream.subjects(contacts, first.id) == [CREATED, UPDATED, UPDATED]


def test_same_idempotency_key_with_another_request_is_refused(api, new_phone, fails, row_counts) -> None:
    rep = api("rep.north.1")
    key = f"create-{uuid.uuid4()}"
    rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="黄忠")), key=key)
    before = row_counts()
    failure = fails(StatusCode.ABORTED, rep.CreateContact,
                    pb.CreateContactRequest(contact=pb.Contact(name="黄忠 (typo fixed)")), key=key)
    assert failure.field == "Idempotency-Key"
    assert row_counts() == before
    # keys belong to the caller: another user's identical key is a different request
    other = api("rep.north.2").CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="黄忠")), key=key)
    assert other.owner_id == "rep.north.2"


# -- custom fields -----------------------------------------------------------------------------

def test_only_an_admin_defines_custom_fields(api, fails, row_counts) -> None:
    definition = pb.CustomFieldDefinition(entity="contact", key="wechat_group", type="text")
    before = row_counts()
    for user in ("rep.north.1", "manager.north", "support.1"):
        fails(StatusCode.PERMISSION_DENIED, api(user).DefineCustomField,
              pb.DefineCustomFieldRequest(definition=definition))
    assert row_counts() == before
    failure = fails(StatusCode.INVALID_ARGUMENT, api("admin").DefineCustomField,
                    pb.DefineCustomFieldRequest(definition=pb.CustomFieldDefinition(
                        entity="contact", key="WeChat Group", type="text")))
    assert failure.field == "key"
    failure = fails(StatusCode.INVALID_ARGUMENT, api("admin").DefineCustomField,
                    pb.DefineCustomFieldRequest(definition=pb.CustomFieldDefinition(
                        entity="contact", key="tier", type="choice")))
    assert failure.field == "choices"
    assert row_counts() == before


def test_custom_field_values_are_validated_against_their_definitions(api, fails, row_counts) -> None:
    admin, rep = api("admin"), api("rep.north.1")
    admin.DefineCustomField(pb.DefineCustomFieldRequest(definition=pb.CustomFieldDefinition(
        entity="contact", key="budget_wan", label="预算（万元）", type="number")))
    admin.DefineCustomField(pb.DefineCustomFieldRequest(definition=pb.CustomFieldDefinition(
        entity="contact", key="tier", label="客户分层", type="choice", choices=["A", "B", "C"])))
    admin.DefineCustomField(pb.DefineCustomFieldRequest(definition=pb.CustomFieldDefinition(
        entity="contact", key="first_met", type="date")))
    listed = rep.ListCustomFields(pb.ListCustomFieldsRequest(entity="contact"))
    assert {d.key: d.type for d in listed.definitions} == {"budget_wan": "number", "tier": "choice",
                                                           "first_met": "date"}

    def contact(values: dict) -> pb.Contact:
        c = pb.Contact(name="刘备")
        c.custom_fields.update(values)
        return c

    before = row_counts()
    for values, field in [({"budget_wan": "很多"}, "custom_fields.budget_wan"),
                          ({"tier": "D"}, "custom_fields.tier"),
                          ({"first_met": "2024-13-01"}, "custom_fields.first_met"),
                          ({"shoe_size": 42}, "custom_fields.shoe_size")]:
        failure = fails(StatusCode.INVALID_ARGUMENT, rep.CreateContact, pb.CreateContactRequest(contact=contact(values)))
        assert failure.field == field
    assert row_counts() == before

    good = rep.CreateContact(pb.CreateContactRequest(contact=contact(
        {"budget_wan": 50, "tier": "A", "first_met": "2024-03-15"})))
    assert dict(rep.GetContact(pb.GetContactRequest(id=good.id)).custom_fields.items()) == {
        "budget_wan": 50, "tier": "A", "first_met": "2024-03-15"}
    patch = contact({"tier": "Z"})
    patch.id = good.id
    failure = fails(StatusCode.INVALID_ARGUMENT, rep.UpdateContact, pb.UpdateContactRequest(
        contact=patch, update_mask=FieldMask(paths=["custom_fields"])))
    assert failure.field == "custom_fields.tier"


def test_required_custom_field_is_enforced_on_create(api, fails) -> None:
    # on accounts, so the other tests' contacts stay free of required fields
    admin, rep = api("admin"), api("rep.north.1")
    admin.DefineCustomField(pb.DefineCustomFieldRequest(definition=pb.CustomFieldDefinition(
        entity="account", key="credit_code", label="统一社会信用代码", type="text", required=True)))
    failure = fails(StatusCode.INVALID_ARGUMENT, rep.CreateAccount,
                    pb.CreateAccountRequest(account=pb.Account(name="上海某某贸易有限公司")))
    assert failure.field == "custom_fields.credit_code"
    account = pb.Account(name="上海某某贸易有限公司")
    account.custom_fields.update({"credit_code": "91310000MA1FL00000"})
    created = rep.CreateAccount(pb.CreateAccountRequest(account=account))
    assert created.custom_fields["credit_code"] == "91310000MA1FL00000"
