"""Resources leave the gateway in the proto JSON mapping (proto field names, every field, RFC 3339
timestamps, exact int64 as numbers): the fast serializer says exactly what MessageToDict says."""
from __future__ import annotations

import pytest
from google.protobuf import json_format

from crm.contacts.v1 import contacts_pb2 as pb
from crm.reporting.v1 import reporting_pb2
from crm_gateway.serialize import to_json


def full_contact() -> pb.Contact:
    contact = pb.Contact(
        id="c-1", name="王芳 Wang Fang", title="采购经理", account_id="a-1", company_name="华为",
        phones=[pb.Phone(number="+8613800138000", kind="mobile", raw="138 0013 8000")],
        emails=[pb.Email(address="wang.fang@example.cn", kind="work")],
        addresses=[pb.Address(kind="office", country="CN", province="广东省", city="深圳")],
        tags=["高意向", "vip"], social={"wechat": "wf88"}, preferences={"language": "zh"},
        version=2**60 + 1, deleted=True, merged_into_id="c-0", lifecycle_stage="customer",
    )
    contact.created_at.FromJsonString("2025-01-31T08:00:00.123Z")
    contact.custom_fields.update({"budget": 5000, "nested": {"a": [1, "x", None, True]}})
    return contact


@pytest.mark.parametrize(
    "message",
    [
        full_contact(),
        pb.Contact(),
        pb.Account(name="北京数据", version=3, custom_fields={"k": "v"}),
        pb.TimelineEntry(id="t", interaction=pb.Interaction(id="i", duration_seconds=-5)),
        reporting_pb2.CustomerCounts(total=9, by_tag=[reporting_pb2.CountBucket(key="vip", count=2)]),
    ],
    ids=["full contact", "empty contact", "account", "timeline entry", "customer counts"],
)
def test_output_equals_the_proto_json_mapping(message):
    expected = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True,
        unquote_int64_if_possible=True,
    )
    assert to_json(message) == expected


def test_fields_come_out_in_proto_order_and_big_versions_stay_exact():
    body = to_json(full_contact())
    assert list(body)[:4] == ["id", "name", "title", "account_id"]
    assert body["version"] == str(2**60 + 1)  # not representable as a double: quoted
    assert body["created_at"] == "2025-01-31T08:00:00.123Z"
    assert "created_at" in body and "updated_at" not in body  # unset timestamps are omitted
