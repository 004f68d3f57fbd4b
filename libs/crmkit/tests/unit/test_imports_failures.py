"""Files an import cannot take as they are (crmkit.imports, shared by contacts, sales and support):
a start refused for the file or the mapping ends the job as failed with its reason (never left
`uploading` in the user's list); a file whose line no CSV reader can parse, or a job its importer
raises on, fails that job without stopping the jobs queued after it; a row no importer can take (a
NUL character, a typed cell under no column name) is rejected naming the cell, the rows around it
imported; two columns with one header are shown apart; an upload left unfinished for a day fails
saying so (SQLite, and PostgreSQL when reachable)."""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData

from crm.common.v1.imports_pb2 import ColumnMapping, CreateImportRequest, ImportJob, ListImportsRequest
from crmkit.auth import Principal
from crmkit.db import Database, UnitOfWork
from crmkit.errors import InvalidArgument
from crmkit.imports import jobs
from crmkit.imports.runner import ImportRunner
from crmkit.imports.store import ImportStore
from crmkit.imports.tables import ImportTables

NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
RULES = jobs.EntityRules(what="leads", targets=("name", "email"), roles=("rep",))


class CountingImporter:
    """Accepts every row: what a run reached is what it counted; it keeps each row it got, by number."""

    def __init__(self) -> None:
        self.got: dict[int, list[str]] = {}

    def batch(self, uow: UnitOfWork, *, now: datetime, job: ImportJob, principal: Principal, first_row: int,
              rows: Sequence[list[str]], state: jobs.RunState) -> list[jobs.Rejected]:
        job.accepted += len(rows)
        self.got.update({first_row + i: row for i, row in enumerate(rows)})
        return []


@pytest.fixture
def service(database_url: str) -> Iterator[tuple[Database, jobs.ImportKind]]:
    metadata = MetaData()
    tables = ImportTables(metadata)
    db = Database(database_url)
    metadata.create_all(db.engine)
    yield db, jobs.ImportKind(entities={"lead": RULES}, store=ImportStore(tables), id_prefix="sales-")
    db.dispose()


def submit(service: tuple[Database, jobs.ImportKind], file_name: str, content: bytes, **options: Any) -> ImportJob:
    db, kind = service
    return jobs.submit(db, kind=kind, principal=REP, now=NOW, entity="lead", file_name=file_name, content=content,
                       **options)


def my_jobs(service: tuple[Database, jobs.ImportKind]) -> list[ImportJob]:
    db, kind = service
    with db.read() as session:
        return list(jobs.list_imports(session, kind=kind, principal=REP, now=NOW, request=ListImportsRequest()).jobs)


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def test_a_file_that_is_no_workbook_is_refused_and_its_job_listed_as_failed_with_the_reason(
        service: tuple[Database, jobs.ImportKind]) -> None:
    with pytest.raises(InvalidArgument) as refused:
        submit(service, "leads.xlsx", b"\x00\x01 not a zip")
    assert refused.value.field == "file" and "not an xlsx workbook" in refused.value.message
    [job] = my_jobs(service)
    assert (job.status, job.error) == ("failed", refused.value.message)
    assert job.HasField("finished_at")
    db, kind = service
    with db.read() as session:  # the job's page names the field, as the refusal did
        shown = jobs.get_import(session, kind=kind, principal=REP, now=NOW, job_id=job.id)
    assert [(p.row, p.field) for p in shown.problems] == [(0, "file")]
    # trying the same file again is a new attempt (and a new failed job), not the failed one answered
    with pytest.raises(InvalidArgument):
        submit(service, "leads.xlsx", b"\x00\x01 not a zip")
    assert [j.status for j in my_jobs(service)] == ["failed", "failed"]


def test_a_mapping_to_no_field_fails_the_job_naming_the_mapped_column(service: tuple[Database, jobs.ImportKind]) -> None:
    with pytest.raises(InvalidArgument) as refused:
        submit(service, "leads.csv", csv_bytes([["姓名"], ["王芳"]]), mapping=ColumnMapping(columns={"姓名": "nmae"}))
    assert refused.value.field == "mapping.columns.姓名"
    [job] = my_jobs(service)
    assert job.status == "failed" and "'nmae' is not a field" in job.error


def test_a_file_without_a_header_is_refused_and_not_left_uploading(service: tuple[Database, jobs.ImportKind]) -> None:
    with pytest.raises(InvalidArgument, match="must name the columns"):
        submit(service, "leads.csv", b"\n\n\n")
    assert [j.status for j in my_jobs(service)] == ["failed"]


def test_a_cell_past_the_csv_limit_fails_its_job_and_the_next_job_still_runs(
        service: tuple[Database, jobs.ImportKind]) -> None:
    huge = submit(service, "huge.csv", csv_bytes([["name", "email"], ["王芳", "wf@example.cn"],
                                                  ["李雷", "x" * 200_000]]))
    good = submit(service, "good.csv", csv_bytes([["name"], ["韩梅梅"]]))
    db, kind = service
    ImportRunner("test", db, lambda: NOW, kind=kind, importer=CountingImporter()).tick(NOW)
    found = {j.id: j for j in my_jobs(service)}
    assert found[huge.id].status == "failed" and found[huge.id].accepted == 0  # nothing of it written
    assert "line 3" in found[huge.id].error and "field limit" in found[huge.id].error
    assert (found[good.id].status, found[good.id].accepted) == ("done", 1)


def test_a_row_with_a_nul_or_a_cell_under_no_column_name_is_rejected_naming_it(
        service: tuple[Database, jobs.ImportKind]) -> None:
    job = submit(service, "leads.csv", csv_bytes([
        ["name", "email", ""],
        ["王芳", "wf@example.cn", ""],
        ["李\x00雷", "ll@example.cn", ""],             # a NUL: no API takes one
        ["Huawei", " Inc", "hw@example.cn", "extra"],  # an unquoted comma shifted the row
        ["韩梅梅", "hmm@example.cn", "VIP"],            # typed under the blank header
        ["赵敏", "zm@example.cn"],
    ]))
    db, kind = service
    importer = CountingImporter()
    ImportRunner("test", db, lambda: NOW, kind=kind, importer=importer, batch_rows=10).tick(NOW)
    with db.read() as session:
        done = jobs.get_import(session, kind=kind, principal=REP, now=NOW, job_id=job.id)
        report = list(csv.reader(io.StringIO(jobs.report_csv(session, kind=kind, principal=REP, job_id=job.id)
                                             .decode("utf-8-sig"))))
    assert (done.status, done.accepted, done.rejected) == ("done", 2, 3)
    assert sorted(importer.got) == [1, 5] and importer.got[5][0] == "赵敏"  # numbered as in the file
    assert [(p.row, p.field, p.column) for p in done.problems] == [
        (2, "name", "name"), (3, "", "column 3"), (3, "", "column 4"), (4, "", "column 3")]
    assert "NUL" in done.problems[0].message and done.problems[0].value == "李雷"
    assert "past the header's 3 columns" in done.problems[2].message and done.problems[2].value == "extra"
    assert "blank header" in done.problems[3].message and done.problems[3].value == "VIP"
    assert [row[0] for row in report[1:]] == ["2", "3", "4"]  # every one in the report, its cells as typed
    assert report[0][2:] == ["name", "email", "", "column 4", "outcome"]
    assert report[2][2:] == ["Huawei", " Inc", "hw@example.cn", "extra", "rejected"]


def test_two_columns_with_one_header_are_shown_apart_on_the_job(service: tuple[Database, jobs.ImportKind]) -> None:
    # the second "email" fills nothing (the first does): the job said {"email": ""}, as if no email imported
    job = submit(service, "leads.csv", csv_bytes([["name", "email", "email", "备注", "备注"],
                                                  ["王芳", "a@example.cn", "b@example.cn", "", ""]]),
                 mapping=ColumnMapping(columns={"备注": "ignore"}))
    assert dict(job.columns) == {"name": "name", "email": "email", "email (column 3)": "", "备注": "",
                                 "备注 (column 5)": ""}
    assert list(job.unmapped_columns) == ["email (column 3)"]  # the ignored ones were asked to be left out


class FailingImporter(CountingImporter):
    """An importer with a bug: a row reading "boom" raises what no rule expects."""

    def batch(self, uow: UnitOfWork, *, now: datetime, job: ImportJob, principal: Principal, first_row: int,
              rows: Sequence[list[str]], state: jobs.RunState) -> list[jobs.Rejected]:
        if ["boom"] in rows:
            raise KeyError("boom")
        return super().batch(uow, now=now, job=job, principal=principal, first_row=first_row, rows=rows, state=state)


def test_a_job_an_importer_fails_on_is_failed_and_the_next_job_still_runs(
        service: tuple[Database, jobs.ImportKind]) -> None:
    broken = submit(service, "broken.csv", csv_bytes([["name"], ["王芳"], ["李雷"], ["boom"], ["韩梅梅"]]))
    good = submit(service, "good.csv", csv_bytes([["name"], ["赵敏"]]))
    db, kind = service
    ImportRunner("test", db, lambda: NOW, kind=kind, importer=FailingImporter(), batch_rows=2).tick(NOW)
    found = {j.id: j for j in my_jobs(service)}
    assert (found[broken.id].status, found[broken.id].rows_done, found[broken.id].accepted) == ("failed", 2, 2)
    assert "internal error" in found[broken.id].error and "boom" not in found[broken.id].error  # no internals shown
    assert (found[good.id].status, found[good.id].accepted) == ("done", 1)


def test_an_upload_cut_short_is_continued_by_the_same_file_sent_again(service: tuple[Database, jobs.ImportKind]) -> None:
    content = csv_bytes([["name"], *[[f"客户{i}"] for i in range(40)]])
    db, kind = service
    with db.unit_of_work() as uow:  # the first try: created, half its chunks, then the service went away
        cut = jobs.create_import(uow, kind=kind, principal=REP, now=NOW, request=CreateImportRequest(
            entity="lead", file_name="leads.csv", size_bytes=len(content),
            content_sha256=hashlib.sha256(content).hexdigest()))
        jobs.append_chunk(uow, kind=kind, principal=REP, job_id=cut.id, offset=0, data=content[:100])
        uow.commit()
    again = submit(service, "leads.csv", content, chunk=64)
    assert again.id == cut.id and not again.reused and again.status == "queued"
    ImportRunner("test", db, lambda: NOW, kind=kind, importer=CountingImporter()).tick(NOW)
    [job] = my_jobs(service)
    assert (job.status, job.accepted) == ("done", 40)
    assert submit(service, "leads.csv", content).reused  # done: the same file again changes nothing


def test_an_upload_left_unfinished_for_a_day_fails_saying_so_and_the_file_sent_later_is_a_new_job(
        service: tuple[Database, jobs.ImportKind]) -> None:
    content = csv_bytes([["name"], *[[f"客户{i}"] for i in range(40)]])
    db, kind = service
    with db.unit_of_work() as uow:  # created, half its chunks, then the client went away for good
        cut = jobs.create_import(uow, kind=kind, principal=REP, now=NOW, request=CreateImportRequest(
            entity="lead", file_name="leads.csv", size_bytes=len(content),
            content_sha256=hashlib.sha256(content).hexdigest()))
        jobs.append_chunk(uow, kind=kind, principal=REP, job_id=cut.id, offset=0, data=content[:100])
        uow.commit()
    runner = ImportRunner("test", db, lambda: NOW, kind=kind, importer=CountingImporter())
    runner.tick(NOW + timedelta(hours=23))
    assert [j.status for j in my_jobs(service)] == ["uploading"]  # a slow client may still finish
    runner.tick(NOW + timedelta(hours=24, minutes=1))
    assert [(j.status, j.error) for j in my_jobs(service)] == [("failed", jobs.ABANDONED_UPLOAD)]
    with db.read() as session:
        job = jobs.get_import(session, kind=kind, principal=REP, now=NOW, job_id=cut.id)
        assert kind.store.received(session, cut.id) == 0  # the half file is not kept
    assert [(p.row, p.field) for p in job.problems] == [(0, "file")]
    again = submit(service, "leads.csv", content)
    assert again.id != cut.id and again.status == "queued"
    runner.tick(NOW + timedelta(hours=25))
    assert {j.id: (j.status, j.accepted) for j in my_jobs(service)} == {
        cut.id: ("failed", 0), again.id: ("done", 40)}
