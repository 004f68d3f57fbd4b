"""Lead imports against the real service (gRPC crm.common.v1.Imports, its import worker, SQLite
and PostgreSQL): bad rows reported with every reason while the rest become leads, another user
cannot see the job, the same file again is that job."""
from __future__ import annotations

import csv
import io
from typing import Any

from crm.common.v1 import imports_pb2 as pb
from crm.common.v1.imports_pb2_grpc import ImportsStub
from crm.sales.v1 import sales_pb2
from crmkit.imports.grpc_upload import upload
from crmkit.testing import wait_for


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def test_a_lead_file_through_the_service(sales: Any, rpc_error: Any) -> None:
    imports = sales.as_user("rep.north.1", ImportsStub)
    content = _csv([["name", "phone", "email", "source"], ["王芳", "13800138000", "wf@example.cn", "website"],
                    ["", "", "bad", "webinar"], ["李雷", "14012345678", "", ""]])
    job = upload(imports, "lead", "leads.csv", content)
    assert job.id.startswith("sales-") and job.status == "queued"
    box: list[pb.ImportJob] = []
    wait_for(lambda: box.append(imports.GetImport(pb.GetImportRequest(id=job.id))) or box[-1].status == "done", 30,
             0.1, what="the import")
    done = box[-1]
    assert (done.accepted, done.rejected, done.warnings) == (2, 1, 1)
    assert {p.field for p in done.problems if p.row == 2} == {"name", "email", "source"}
    report = imports.GetImportReport(pb.GetImportReportRequest(id=job.id)).csv.decode("utf-8-sig")
    assert "a lead needs a name or a company" in report
    leads = sales.as_user("rep.north.1").ListLeads(sales_pb2.ListLeadsRequest()).leads
    assert sorted(lead.name for lead in leads) == ["李雷", "王芳"]
    assert upload(imports, "lead", "leads.csv", content).id == job.id  # reused: nothing written twice
    assert len(sales.as_user("rep.north.1").ListLeads(sales_pb2.ListLeadsRequest()).leads) == 2
    other = rpc_error(sales.as_user("rep.south.1", ImportsStub).GetImport, pb.GetImportRequest(id=job.id))
    assert other.code().name == "NOT_FOUND"
