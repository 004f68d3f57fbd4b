"""Ticket imports against the real service (gRPC crm.common.v1.Imports and its import worker, SQLite
and PostgreSQL): bad rows reported with every reason, the rest opened as numbered tickets, a
duplicate external id flagged, the same file again is that job."""
from __future__ import annotations

import csv
import io
from typing import Any

from crm.common.v1 import imports_pb2 as pb
from crm.common.v1.imports_pb2_grpc import ImportsStub
from crm.support.v1 import support_pb2
from crmkit.imports.grpc_upload import upload
from crmkit.testing import wait_for


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def test_a_ticket_file_through_the_service(support: Any) -> None:
    imports = support.as_user("agent", ImportsStub)
    content = _csv([["external_ref", "subject", "priority"], ["A-1", "无法登录", "high"], ["A-2", "", "critical"],
                    ["A-1", "重复", ""]])
    job = upload(imports, "ticket", "tickets.csv", content)
    box: list[pb.ImportJob] = []
    wait_for(lambda: box.append(imports.GetImport(pb.GetImportRequest(id=job.id))) or box[-1].status == "done", 30,
             0.1, what="the import")
    done = box[-1]
    assert (done.accepted, done.rejected) == (1, 2)
    assert {(p.row, p.field) for p in done.problems} == {(2, "subject"), (2, "priority"), (3, "external_ref")}
    tickets = support.as_user("agent").ListTickets(support_pb2.ListTicketsRequest()).tickets
    assert [(t.external_ref, t.priority) for t in tickets] == [("A-1", "high")] and tickets[0].number.startswith("T-")
    assert upload(imports, "ticket", "tickets.csv", content).id == job.id
