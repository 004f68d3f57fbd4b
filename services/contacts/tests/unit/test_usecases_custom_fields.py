"""Custom field definitions through their use cases: an admin defines them, and every create and
update of a record checks its values against them."""
from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.struct_pb2 import Struct

from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.usecases import custom_fields, records
from crmkit.errors import InvalidArgument, PermissionDenied


def define(contacts, definition: pb.CustomFieldDefinition, user: str = "admin") -> pb.CustomFieldDefinition:
    return contacts.write(lambda uow: custom_fields.define_custom_field(
        uow, principal=contacts.users[user], definition=definition))


def create(contacts, values: dict) -> pb.Contact:  # noqa: ANN001 - a Struct's JSON values
    fields = Struct()
    fields.update(values)
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now,
        record=pb.Contact(name="张伟", custom_fields=fields), allow_duplicate=True))


def test_only_an_admin_defines_fields_and_a_definition_is_checked(contacts) -> None:
    with pytest.raises(PermissionDenied):
        define(contacts, pb.CustomFieldDefinition(entity="contact", key="budget", type="number"), "manager.north")
    for bad, field in ((pb.CustomFieldDefinition(entity="lead", key="x", type="text"), "entity"),
                       (pb.CustomFieldDefinition(entity="contact", key="Budget", type="text"), "key"),
                       (pb.CustomFieldDefinition(entity="contact", key="tier", type="choice"), "choices")):
        with pytest.raises(InvalidArgument) as err:
            define(contacts, bad)
        assert err.value.field == field
    assert contacts.read(lambda s: custom_fields.list_custom_fields(s, entity="")) == []


def test_values_follow_their_definitions_on_create_and_update(contacts) -> None:
    define(contacts, pb.CustomFieldDefinition(entity="contact", key="budget", type="number", label="预算"))
    define(contacts, pb.CustomFieldDefinition(entity="contact", key="tier", type="choice", choices=["a", "b"],
                                              required=True))
    listed = contacts.read(lambda s: custom_fields.list_custom_fields(s, entity="contact"))
    assert {(d.key, d.label, d.required) for d in listed} == {("budget", "预算", False), ("tier", "tier", True)}

    made = create(contacts, {"budget": 1200, "tier": "a"})
    assert made.custom_fields["budget"] == 1200
    for values, field in (({"tier": "c"}, "custom_fields.tier"), ({"budget": "many", "tier": "a"}, "custom_fields.budget"),
                          ({"budget": 1}, "custom_fields.tier"), ({"tier": "a", "color": "red"}, "custom_fields.color")):
        with pytest.raises(InvalidArgument) as err:
            create(contacts, values)
        assert err.value.field == field

    patch = pb.Contact(id=made.id)
    patch.custom_fields.update({"budget": 99})  # a required field may be left out of an update
    updated = contacts.write(lambda uow: records.update_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now, patch=patch,
        mask=FieldMask(paths=["custom_fields"]).paths, expected_version=1))
    assert dict(updated.custom_fields) == {"budget": 99}
