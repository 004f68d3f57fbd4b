"""Files an import cannot take at all (crmkit.imports, shared by contacts, sales and support): a
start refused for the file or the mapping ends the job as failed with its reason (it is never left
`uploading` in the user's list) (SQLite, and PostgreSQL when reachable)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import MetaData

from crm.common.v1.imports_pb2 import ColumnMapping, ImportJob, ListImportsRequest
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.errors import InvalidArgument
from crmkit.imports import jobs
from crmkit.imports.store import ImportStore
from crmkit.imports.tables import ImportTables

NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
RULES = jobs.EntityRules(what="leads", targets=("name", "email"), roles=("rep",))


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

