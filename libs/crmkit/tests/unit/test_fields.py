"""Field behaviour read from the contracts' `(crm.common.v1.field_behavior)` options."""
from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1.options_pb2 import OUTPUT_ONLY
from crm.contacts.v1.contacts_pb2 import Contact
from crm.sales.v1.sales_pb2 import Lead
from crmkit.fields import behaviors, immutable, output_only, patchable


def test_a_lead_declares_what_a_client_may_send_and_change():
    assert {"id", "status", "score", "version", "created_at", "updated_at"} <= output_only(Lead)
    assert "owner_id" in immutable(Lead)
    assert {"name", "company", "email"} <= patchable(Lead)
    assert not patchable(Lead) & (output_only(Lead) | immutable(Lead))


@pytest.mark.parametrize("message", [Lead, Contact, Timestamp])
def test_every_field_is_exactly_one_of_output_only_immutable_or_patchable(message):
    names = {f.name for f in message.DESCRIPTOR.fields}
    out, fixed, free = output_only(message), immutable(message), patchable(message)
    assert out | fixed | free == names
    assert not (out & fixed or out & free or fixed & free)
    assert (out, fixed, free) == (output_only(message.DESCRIPTOR), immutable(message.DESCRIPTOR),
                                  patchable(message.DESCRIPTOR))


def test_a_message_without_options_is_patchable_throughout():
    assert patchable(Timestamp) == {"seconds", "nanos"} and not output_only(Timestamp)
    assert behaviors(Contact.DESCRIPTOR.fields_by_name["name"]) == frozenset()
    assert behaviors(Contact.DESCRIPTOR.fields_by_name["id"]) == frozenset({OUTPUT_ONLY})
