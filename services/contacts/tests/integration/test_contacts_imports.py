"""Customer imports against the real service (gRPC, its import worker, SQLite and PostgreSQL):
a job with bad rows, a restart of the service in the middle of a job that then resumes where
its checkpoint stopped, and the same file uploaded again."""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator

import pytest
from grpc import RpcError, StatusCode
from sqlalchemy import func, select

from crm.common.v1 import imports_pb2 as pb
from crm.contacts.v1.imports_pb2_grpc import ContactImportsStub
from crm_contacts import bootstrap
from crm_contacts.tables import contacts as contacts_table
from crm_contacts.tables import import_jobs
from crm_devtools.users import DEMO_USERS
from crmkit.testing import Caller, NatsServer, ServiceHarness, wait_for

ROWS = 1200
BATCH = 20  # 60 transactions: a restart lands between two of them


@pytest.fixture(scope="module")
def harness(module_database_url: str, nats_server: NatsServer, jwt_secret: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceHarness]:
    service = ServiceHarness("contacts", bootstrap.spec, url=module_database_url, nats_url=nats_server.url,
                             tmp=tmp_path_factory.mktemp("contacts-import-data"), secret=jwt_secret,
                             users=DEMO_USERS, import_batch_rows=BATCH)
    service.migrate().start()
    yield service
    service.stop()


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def _upload(imports: Caller, content: bytes, **options: object) -> pb.ImportJob:
    job = imports.CreateImport(pb.CreateImportRequest(
        entity="contact", file_name="客户.csv", content_sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content), **options))
    if job.reused:
        return job
    for offset in range(0, len(content), 16 * 1024):
        imports.AppendImportChunk(pb.AppendImportChunkRequest(id=job.id, offset=offset,
                                                              data=content[offset:offset + 16 * 1024]))
    return imports.StartImport(pb.StartImportRequest(id=job.id))


def _finished(imports: Caller, job_id: str) -> pb.ImportJob:
    box: list[pb.ImportJob] = []

    def done() -> bool:
        box.append(imports.GetImport(pb.GetImportRequest(id=job_id)))
        return box[-1].status in ("done", "failed")

    wait_for(done, 60, 0.1, what="the import to finish")
    return box[-1]


def _live(harness: ServiceHarness, word: str) -> int:
    assert harness.runtime is not None
    with harness.runtime.db.read() as s:
        return int(s.execute(select(func.count()).select_from(contacts_table).where(
            contacts_table.c.deleted.is_(False), contacts_table.c.name.like(f"%{word}%"))).scalar_one())


def test_a_job_with_bad_rows_reports_them_all_and_imports_the_rest(harness: ServiceHarness) -> None:
    imports = harness.as_user("rep.north.1", ContactImportsStub)
    content = _csv([["name", "mobile", "email", "source"],
                    ["赵一 badrows", "13811110001", "", "website"],
                    ["", "13811110002", "nope", "webinar"],
                    ["钱二 badrows", "14311110003", "", ""]])
    job = _finished(imports, _upload(imports, content).id)
    assert (job.status, job.accepted, job.rejected, job.warnings) == ("done", 2, 1, 1)
    assert {p.field for p in job.problems if p.row == 2} == {"name", "emails[0].address", "source"}
    report = imports.GetImportReport(pb.GetImportReportRequest(id=job.id)).csv.decode("utf-8-sig")
    # the rejected row, and the kept one whose phone was stored as typed: its remark shown, not only counted
    lines = list(csv.reader(io.StringIO(report)))
    assert [(line[0], line[-1]) for line in lines] == [("row", "outcome"), ("2", "rejected"), ("3", "kept")]
    assert "mobile" in lines[2][1] and "unverified" in lines[2][1]
    assert _live(harness, "badrows") == 2
    with pytest.raises(RpcError) as exc:  # another rep's import is not theirs to see
        harness.as_user("rep.south.1", ContactImportsStub).GetImport(pb.GetImportRequest(id=job.id))
    assert exc.value.code() == StatusCode.NOT_FOUND


def test_a_restart_mid_job_resumes_after_the_checkpoint_and_loses_or_doubles_nothing(
        harness: ServiceHarness) -> None:
    imports = harness.as_user("rep.north.1", ContactImportsStub)
    content = _csv([["name", "mobile"], *[[f"客户 resume {i}", f"1390000{i:04d}"] for i in range(ROWS)]])
    job = _upload(imports, content)
    wait_for(lambda: imports.GetImport(pb.GetImportRequest(id=job.id)).rows_done > 0, 30, 0.02,
             what="the first batch")
    assert harness.runtime is not None
    harness.runtime.stop()  # the service goes down between two batches
    with harness.runtime.db.read() as s:
        status, done = s.execute(select(import_jobs.c.status, import_jobs.c.rows_done)
                                 .where(import_jobs.c.id == job.id)).one()
    assert status == "running" and 0 < done < ROWS and done % BATCH == 0
    harness.start()
    imports = harness.as_user("rep.north.1", ContactImportsStub)
    finished = _finished(imports, job.id)
    assert (finished.status, finished.rows_done, finished.accepted, finished.rejected) == ("done", ROWS, ROWS, 0)
    assert _live(harness, "resume") == ROWS


def test_the_same_file_again_is_the_same_job_and_writes_nothing(harness: ServiceHarness) -> None:
    imports = harness.as_user("rep.north.1", ContactImportsStub)
    content = _csv([["name", "mobile"], ["孙三 again", "13822220001"], ["李四 again", "13822220002"]])
    first = _finished(imports, _upload(imports, content).id)
    second = _upload(imports, content)
    assert second.reused and second.id == first.id and second.status == "done"
    assert _live(harness, "again") == 2
