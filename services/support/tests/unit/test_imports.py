"""Ticket import jobs on the real schema (crmkit.imports with support's importer): every problem of
every bad row reported while the good rows are opened as tickets (numbered, with SLA clocks),
unknown vocabulary mapped or kept as a tag, duplicates by the external id flagged or merged, the
same file twice changes nothing."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from crm.common.v1.imports_pb2 import ColumnMapping, ValueMap
from crm.support.v1.support_pb2 import Ticket
from crm_support.tables import tickets as tickets_table
from crm_support.usecases import imports
from crmkit.auth import Principal
from crmkit.errors import PermissionDenied
from crmkit.imports import jobs
from crmkit.imports.runner import ImportRunner

NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
AGENT = Principal("agent.1", ("support",), "support", "", "客服小王")
REP = Principal("rep.north.1", ("rep",), "north-sales", "north", "张伟")
ROWS = [
    ["编号", "主题", "描述", "优先级", "渠道", "邮箱", "标签"],
    ["OLD-1", "无法登录", "密码错误", "高", "email", "a@example.cn", "登录"],
    ["OLD-2", "", "", "critical", "fax", "not-an-email", ""],   # four problems
    ["OLD-1", "无法登录（重复）", "", "", "", "", ""],              # the same external id as row 1
    ["OLD-3", "发票问题", "", "normal", "telephone", "", "发票;财务"],  # channel kept as a tag
]
MAPPING = ColumnMapping(columns={"编号": "external_ref", "主题": "subject", "描述": "description", "优先级": "priority",
                                 "渠道": "channel", "邮箱": "requester_email", "标签": "tags"},
                        values={"priority": ValueMap(values={"高": "high"})})


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def run(store: Any, content: bytes, **options: Any) -> Any:
    job = jobs.submit(store.db, kind=imports.KIND, principal=AGENT, now=NOW, entity="ticket", file_name="t.csv",
                      content=content, **options)
    ImportRunner("test", store.db, lambda: NOW, kind=imports.KIND, importer=imports.TicketImporter(),
                 batch_rows=2).tick(NOW)
    return store.read(lambda s: jobs.get_import(s, kind=imports.KIND, principal=AGENT, now=NOW, job_id=job.id))


def all_tickets(store: Any) -> list[Ticket]:
    return store.read(lambda s: [Ticket.FromString(d) for d in s.execute(
        select(tickets_table.c.data).order_by(tickets_table.c.seq)).scalars()])


def test_bad_rows_reported_with_every_reason_and_the_rest_opened(store: Any) -> None:
    job = run(store, csv_bytes(ROWS), mapping=MAPPING)
    assert job.id.startswith("support-") and job.status == "done"
    assert (job.accepted, job.rejected) == (1, 3)
    problems = {(p.row, p.field) for p in job.problems}
    assert {(2, "subject"), (2, "priority"), (2, "channel"), (2, "requester_email")} <= problems
    assert (3, "external_ref") in problems and (4, "channel") in problems
    [ticket] = all_tickets(store)
    assert (ticket.external_ref, ticket.priority, ticket.channel) == ("OLD-1", "high", "email")
    assert ticket.number.startswith("T-") and ticket.status == "new" and ticket.tags == ["登录"]
    assert "crm.support.ticket.created" in store.events()


def test_unknown_values_kept_as_tags_duplicates_merged_and_a_second_upload_changes_nothing(store: Any) -> None:
    MAPPING.keep_unknown_values = True
    try:
        content = csv_bytes([ROWS[0], ROWS[1], ROWS[3], ROWS[4]])
        job = run(store, content, mapping=MAPPING, on_duplicate="merge")
        assert (job.accepted, job.merged, job.rejected, job.warnings) == (2, 1, 0, 1)
        by_ref = {t.external_ref: t for t in all_tickets(store)}
        assert by_ref["OLD-3"].tags == ["发票", "财务", "channel:telephone"] and by_ref["OLD-3"].channel == "api"
        again = run(store, content, mapping=MAPPING, on_duplicate="merge")
        assert again.id == job.id and len(all_tickets(store)) == 2
    finally:
        MAPPING.keep_unknown_values = False


def test_only_support_staff_import_tickets(store: Any) -> None:
    with pytest.raises(PermissionDenied):
        jobs.submit(store.db, kind=imports.KIND, principal=REP, now=NOW, entity="ticket", file_name="t.csv",
                    content=csv_bytes(ROWS))


def test_a_helpdesk_export_in_chinese_imports_without_a_mapping(store: Any) -> None:
    rows = [["工单号", "标题", "问题描述", "类型", "优先级", "渠道", "邮箱", "语言"],
            ["HD-1", "无法登录", "密码正确也登录不了", "故障", "紧急", "微信", "wf@example.cn", "zh-CN"]]
    job = run(store, csv_bytes(rows))
    assert (job.accepted, job.rejected, list(job.unmapped_columns)) == (1, 0, [])
    [ticket] = all_tickets(store)
    assert (ticket.external_ref, ticket.subject, ticket.type, ticket.priority, ticket.channel, ticket.language,
            ticket.requester_email) == ("HD-1", "无法登录", "incident", "urgent", "wechat", "zh", "wf@example.cn")


def test_a_ticket_export_imported_again_matches_its_tickets_by_number(store: Any) -> None:
    run(store, csv_bytes([["主题", "标签"], ["无法登录", "登录"], ["发票问题", ""]]))
    first, second = all_tickets(store)
    # the columns of GET /tickets/export (id, number, ..., external_ref): no mapping needed
    header = ["id", "number", "subject", "description", "priority", "status", "tags", "external_ref"]
    exported = [header, [first.id, first.number, first.subject, "", "normal", "new", "登录;已导出", ""],
                [second.id, second.number.lower(), second.subject, "描述", "normal", "new", "", ""]]
    flagged = run(store, csv_bytes(exported))
    assert (flagged.accepted, flagged.rejected) == (0, 2) and len(all_tickets(store)) == 2
    assert {(p.row, p.field, p.value) for p in flagged.problems} == {(1, "number", first.number),
                                                                     (2, "number", second.number)}
    merged = run(store, csv_bytes(exported), on_duplicate="merge")
    assert (merged.accepted, merged.merged, merged.rejected) == (0, 2, 0)
    first, second = all_tickets(store)
    assert (first.tags, second.description) == (["登录", "已导出"], "描述")


def test_a_number_no_ticket_has_is_refused_and_a_repeated_one_is_a_duplicate_of_its_row(store: Any) -> None:
    run(store, csv_bytes([["主题"], ["无法登录"]]))
    [ticket] = all_tickets(store)
    job = run(store, csv_bytes([["number", "subject"], ["T-999999", "别处的工单"], ["12", "不是编号"],
                                [ticket.number, "无法登录"], [ticket.number, "无法登录（再次）"]]), on_duplicate="merge")
    assert (job.accepted, job.merged, job.rejected) == (0, 2, 2)
    assert {(p.row, p.field) for p in job.problems} == {(1, "number"), (2, "number")}
    assert "no ticket T-999999" in next(p.message for p in job.problems if p.row == 1)
    assert len(all_tickets(store)) == 1
