"""crmkit.imports.headers: a file exported from another CRM, or typed by hand in Chinese or
English, imports without a mapping; a mapping still wins, and a header nobody knows is reported."""
from __future__ import annotations

from crm.common.v1.imports_pb2 import ColumnMapping
from crmkit.imports import headers, mapping

CONTACT = ("name", "title", "company_name", "mobile", "phone", "work_phone", "email", "source", "level", "city",
           "tags", "industry", "ignore")
LEAD = ("name", "company", "title", "phone", "email", "source", "industry", "notes")
ACCOUNT = ("name", "industry", "website", "phone", "email")
TICKET = ("subject", "description", "priority", "channel", "requester_email", "requester_name", "external_ref")
PRODUCT = ("sku", "name", "description", "unit", "active")


def test_chinese_headers_fill_each_entitys_own_field() -> None:
    header = ["客户名称", "手机号", "邮箱", "来源", "等级", "城市", "公司", "职位", "备注"]
    targets, unmapped = mapping.resolve("contact", CONTACT, {}, header, ColumnMapping())
    assert targets == ["name", "mobile", "email", "source", "level", "city", "company_name", "title", ""]
    assert unmapped == ["备注"]  # a contact has no notes: said, not guessed at
    targets, unmapped = mapping.resolve("lead", LEAD, {}, ["姓名", "公司名称", "电话", "备注"], ColumnMapping())
    assert (targets, unmapped) == (["name", "company", "phone", "notes"], [])
    assert mapping.resolve("account", ACCOUNT, {}, ["公司名称", "官网"], ColumnMapping())[0] == ["name", "website"]


def test_english_headers_in_any_case_or_spacing_and_with_hints() -> None:
    header = ["Company Name", "E-mail", "Mobile Phone", "手机（必填）", "Work_Phone", "Job Title"]
    targets, _ = mapping.resolve("contact", CONTACT, {}, header, ColumnMapping())
    assert targets == ["company_name", "email", "mobile", "phone", "work_phone", "title"]  # 2nd mobile: the phone


def test_tickets_and_products_have_their_own_names() -> None:
    targets, _ = mapping.resolve("ticket", TICKET, {}, ["标题", "问题描述", "优先级", "邮箱", "客户姓名", "工单号"],
                                 ColumnMapping())
    assert targets == ["subject", "description", "priority", "requester_email", "requester_name", "external_ref"]
    targets, _ = mapping.resolve("product", PRODUCT, {}, ["产品编码", "产品名称", "单位", "是否启用"], ColumnMapping())
    assert targets == ["sku", "name", "unit", "active"]


def test_the_mapping_wins_and_a_field_is_filled_by_one_column() -> None:
    header = ["姓名", "联系人", "Name"]
    targets, unmapped = mapping.resolve("contact", CONTACT, {}, header, ColumnMapping(columns={"Name": "title"}))
    assert targets == ["name", "", "title"] and unmapped == ["联系人"]
    assert headers.fields_named("  ", CONTACT) == () and headers.fields_named("传真", CONTACT) == ()
