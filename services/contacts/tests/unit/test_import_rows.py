"""Import rows: every problem of a row at once, the mapping, nothing typed lost."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from crm.common.v1.imports_pb2 import ColumnMapping, ValueMap
from crm.common.v1.picklists_pb2 import Picklist
from crm.contacts.v1.contacts_pb2 import Contact
from crm_contacts.rules import import_rows
from crmkit import picklists
from crmkit.errors import InvalidArgument

HEADER = ["姓名", "手机", "邮箱", "来源", "级别"]
MAPPING = ColumnMapping(columns={"姓名": "name", "手机": "mobile", "邮箱": "email", "来源": "source", "级别": "level"})


def build(values: list[str], mapping: ColumnMapping = MAPPING) -> import_rows.Row:
    targets, _ = import_rows.resolve_mapping("contact", HEADER, mapping)
    return import_rows.build_row("contact", HEADER, targets, values, mapping, {})


def test_a_row_reports_every_bad_field_not_only_the_first() -> None:
    row = build(["", "13800138000", "not-an-email", "webinar", "gold"])
    assert sorted(p.field for p in row.problems) == ["emails[0].address", "level", "name", "source"]
    by_field = {p.field: p for p in row.problems}
    assert by_field["source"].column == "来源" and by_field["source"].value == "webinar"
    assert "mapping.values.source" in by_field["source"].message  # the way out is named


def test_an_invalid_mobile_prefix_is_kept_as_typed_unverified_and_the_row_accepted() -> None:
    row = build(["王芳", "140 1234 5678", "", "", ""])
    assert row.problems == []
    [phone] = row.record.phones
    assert (phone.raw, phone.number, phone.unverified) == ("140 1234 5678", "14012345678", True)
    assert row.notes and "unverified" in row.notes[0].message


def test_a_valid_phone_is_normalized_and_verified() -> None:
    row = build(["王芳", "138-0013-8000", "", "", ""])
    assert [(p.number, p.unverified) for p in row.record.phones] == [("+8613800138000", False)]


def test_unknown_picklist_values_are_mapped_or_kept_per_the_mapping() -> None:
    mapped = ColumnMapping()
    mapped.CopyFrom(MAPPING)
    mapped.values["source"].CopyFrom(ValueMap(values={"webinar": "event"}))
    assert build(["A", "", "", "webinar", ""], mapped).record.source == "event"
    kept = ColumnMapping()
    kept.CopyFrom(MAPPING)
    kept.keep_unknown_values = True
    row = build(["A", "", "", "cold_call", ""], kept)
    assert row.problems == [] and row.record.source == "" and "source:cold_call" in row.record.tags


def test_a_value_map_to_a_key_that_does_not_exist_is_a_problem() -> None:
    bad = ColumnMapping()
    bad.CopyFrom(MAPPING)
    bad.values["source"].CopyFrom(ValueMap(values={"webinar": "webinars"}))
    assert [p.field for p in build(["A", "", "", "webinar", ""], bad).problems] == ["source"]


def test_headers_named_like_fields_map_themselves_and_the_rest_are_reported() -> None:
    targets, unmapped = import_rows.resolve_mapping("contact", ["name", "Email", "备注"], ColumnMapping())
    assert targets == ["name", "email", ""] and unmapped == ["备注"]


def test_a_mapping_naming_an_unknown_field_or_picklist_is_refused_naming_it() -> None:
    with pytest.raises(InvalidArgument) as exc:
        import_rows.resolve_mapping("contact", HEADER, ColumnMapping(columns={"姓名": "full_name"}))
    assert exc.value.field == "mapping.columns.姓名"
    with pytest.raises(InvalidArgument) as exc:
        import_rows.resolve_mapping("contact", HEADER, ColumnMapping(values={"title": ValueMap()}))
    assert exc.value.field == "mapping.values.title"  # a title is no picklist


def test_csv_in_gb18030_with_semicolons_and_xlsx_read_alike() -> None:
    csv_bytes = "姓名;手机\n王芳;13800138000\n".encode("gb18030")
    assert list(import_rows.read_rows("a.csv", csv_bytes)) == [["姓名", "手机"], ["王芳", "13800138000"]]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "手机"])
    sheet.append(["王芳", 13800138000])
    out = io.BytesIO()
    book.save(out)
    assert list(import_rows.read_rows("a.xlsx", out.getvalue())) == [["姓名", "手机"], ["王芳", "13800138000"]]


def test_a_file_that_is_not_a_workbook_is_a_file_error() -> None:
    with pytest.raises(import_rows.FileError):
        list(import_rows.read_rows("a.xlsx", b"not a zip"))


def test_an_unverified_phone_survives_a_later_normal_update() -> None:
    from crm_contacts.rules import records

    row = build(["王芳", "1401234567", "", "", ""])
    contact = Contact()
    contact.CopyFrom(row.record)
    records.normalize(contact)  # what an update runs again on the stored record
    assert contact.phones[0].unverified and contact.phones[0].number == "1401234567"


def test_picklist_labels_as_another_crm_exports_them_name_their_keys() -> None:
    header = ["姓名", "来源", "等级", "行业", "生命周期"]
    targets, unmapped = import_rows.resolve_mapping("contact", header, ColumnMapping())
    assert unmapped == []
    row = import_rows.build_row("contact", header, targets, ["王芳", "官网", "VIP", "制造业", "成交客户"],
                                ColumnMapping(), {})
    record = row.record
    assert row.problems == [] and (record.source, record.level, record.industry, record.lifecycle_stage) == (
        "website", "vip", "manufacturing", "customer")
    # industry takes any text while the administrator has not restricted it: kept as typed
    row = import_rows.build_row("contact", header, targets, ["王芳", "Trade Show", "", "造船与海工", ""],
                                ColumnMapping(), {})
    assert row.problems == [] and (row.record.source, row.record.industry) == ("trade_show", "造船与海工")


def test_a_restricted_industry_refuses_what_it_lacks_unless_the_mapping_keeps_it() -> None:
    document = picklists.defaults()
    restricted = Picklist()
    restricted.CopyFrom(next(p for p in document.picklists if p.name == "industry"))
    restricted.restricted = True
    vocabulary = picklists.Vocabulary(picklists.updated(document, restricted))
    header = ["姓名", "行业"]
    targets, _ = import_rows.resolve_mapping("contact", header, ColumnMapping())
    row = import_rows.build_row("contact", header, targets, ["王芳", "造船"], ColumnMapping(), {}, vocabulary)
    assert [(p.field, p.value) for p in row.problems] == [("industry", "造船")]
    kept = import_rows.build_row("contact", header, targets, ["王芳", "造船"],
                                 ColumnMapping(keep_unknown_values=True), {}, vocabulary)
    assert kept.problems == [] and kept.record.industry == "" and "industry:造船" in kept.record.tags
