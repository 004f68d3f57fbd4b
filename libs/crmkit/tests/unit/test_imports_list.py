"""Listing import jobs (crmkit.imports.jobs.list_imports, what ListImports serves): a user finds
the jobs they started after closing the tab, newest first, page after page with nothing repeated
or skipped; a rep never sees a colleague's jobs, an admin sees everyone's; the entity and status
filters; each job with its progress but not its problems; bad input is refused naming the field
(SQLite, and PostgreSQL when reachable)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData

from crm.common.v1.imports_pb2 import CreateImportRequest, ImportJob, ListImportsRequest, ListImportsResponse
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.errors import InvalidArgument
from crmkit.imports import jobs
from crmkit.imports.store import ImportStore
from crmkit.imports.tables import ImportTables
from crmkit.paging import encode_key

T0 = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
COLLEAGUE = Principal("rep.north.2", ("rep",), "north-sales", "north")
ADMIN = Principal("admin.1", ("admin",), "", "")
RULES = jobs.EntityRules(what="leads", targets=("name", "email"), roles=("rep",))


@pytest.fixture
def service(database_url: str) -> Iterator[tuple[Database, jobs.ImportKind]]:
    metadata = MetaData()
    tables = ImportTables(metadata)
    db = Database(database_url)
    metadata.create_all(db.engine)
    kind = jobs.ImportKind(entities={"lead": RULES, "product": RULES}, store=ImportStore(tables), id_prefix="sales-")
    yield db, kind
    db.dispose()


def create(service: tuple[Database, jobs.ImportKind], who: Principal, n: int, *, entity: str = "lead",
           at: datetime | None = None) -> ImportJob:
    db, kind = service
    with db.unit_of_work() as uow:
        job = jobs.create_import(uow, kind=kind, principal=who, now=at or T0 + timedelta(minutes=n),
                                 request=CreateImportRequest(
                                     entity=entity, file_name=f"file-{n}.csv", size_bytes=10,
                                     content_sha256=hashlib.sha256(f"{who.user_id}{n}".encode()).hexdigest()))
        uow.commit()
    return job


def listed(service: tuple[Database, jobs.ImportKind], who: Principal, now: datetime = T0 + timedelta(hours=1),
           **fields: object) -> ListImportsResponse:
    db, kind = service
    with db.read() as session:
        return jobs.list_imports(session, kind=kind, principal=who, now=now, request=ListImportsRequest(**fields))


def names(answer: ListImportsResponse) -> list[str]:
    return [job.file_name for job in answer.jobs]


def test_a_rep_finds_their_own_jobs_newest_first_and_not_a_colleagues(service: tuple[Database, jobs.ImportKind]) -> None:
    for n in range(3):
        create(service, REP, n)
    create(service, COLLEAGUE, 10)
    assert names(listed(service, REP)) == ["file-2.csv", "file-1.csv", "file-0.csv"]
    assert names(listed(service, COLLEAGUE)) == ["file-10.csv"]
    assert listed(service, REP).next_page_token == ""


def test_an_admin_sees_everyones_jobs(service: tuple[Database, jobs.ImportKind]) -> None:
    create(service, REP, 1)
    create(service, COLLEAGUE, 2)
    create(service, ADMIN, 3)
    answer = listed(service, ADMIN)
    assert names(answer) == ["file-3.csv", "file-2.csv", "file-1.csv"]
    assert [job.owner_id for job in answer.jobs] == [ADMIN.user_id, COLLEAGUE.user_id, REP.user_id]


def test_pages_walk_every_job_once_even_with_equal_creation_times(service: tuple[Database, jobs.ImportKind]) -> None:
    for n in range(5):
        create(service, REP, n)
    for n in range(5, 8):  # three jobs created in the same microsecond: the id orders them
        create(service, REP, n, at=T0 + timedelta(minutes=30))
    create(service, COLLEAGUE, 20)
    seen: list[str] = []
    token, pages = "", 0
    while True:
        answer = listed(service, REP, page_size=3, page_token=token)
        assert len(answer.jobs) <= 3
        seen += [job.id for job in answer.jobs]
        pages += 1
        token = answer.next_page_token
        if not token:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 8
    everything = listed(service, REP)
    assert [job.id for job in everything.jobs] == seen
    tied = [job for job in everything.jobs if job.file_name in ("file-5.csv", "file-6.csv", "file-7.csv")]
    assert [job.id for job in tied] == sorted((job.id for job in tied), reverse=True)


def test_the_default_page_is_fifty(service: tuple[Database, jobs.ImportKind]) -> None:
    for n in range(51):
        create(service, REP, n)
    first = listed(service, REP)
    assert len(first.jobs) == 50 and first.next_page_token
    assert names(listed(service, REP, page_token=first.next_page_token)) == ["file-0.csv"]


def test_filters_by_entity_and_status(service: tuple[Database, jobs.ImportKind]) -> None:
    db, kind = service
    lead = create(service, REP, 1)
    create(service, REP, 2, entity="product")
    done = create(service, REP, 3)
    done.status = "done"
    with db.unit_of_work() as uow:
        kind.store.save_job(uow.session, done, T0)
        uow.commit()
    assert names(listed(service, REP, entity="product")) == ["file-2.csv"]
    assert names(listed(service, REP, entity="lead")) == ["file-3.csv", "file-1.csv"]
    assert names(listed(service, REP, status="done")) == ["file-3.csv"]
    assert [j.id for j in listed(service, REP, entity="lead", status="uploading").jobs] == [lead.id]
    assert names(listed(service, COLLEAGUE, entity="lead")) == []


def test_the_entity_filter_pages_past_many_other_jobs(service: tuple[Database, jobs.ImportKind]) -> None:
    create(service, REP, 0, entity="product")
    for n in range(1, 260):  # more than one scan of the store between the two products
        create(service, REP, n)
    create(service, REP, 300, entity="product")
    first = listed(service, REP, entity="product", page_size=1)
    assert names(first) == ["file-300.csv"] and first.next_page_token
    second = listed(service, REP, entity="product", page_size=1, page_token=first.next_page_token)
    assert names(second) == ["file-0.csv"] and second.next_page_token == ""


def test_each_job_has_its_progress_but_not_its_problems(service: tuple[Database, jobs.ImportKind]) -> None:
    db, kind = service
    job = create(service, REP, 1)
    job.status, job.rows_total, job.rows_done, job.started_rows = "running", 1000, 300, 0
    job.started_at.FromDatetime(T0 + timedelta(minutes=2))
    job.problems.add(row=3, field="email", message="not an email")
    with db.unit_of_work() as uow:
        kind.store.save_job(uow.session, job, T0)
        uow.commit()
    [shown] = listed(service, REP, now=T0 + timedelta(minutes=3)).jobs
    assert (shown.rows_done, shown.rows_per_second, shown.eta_seconds) == (300, 5.0, 140.0)
    assert len(shown.problems) == 0


@pytest.mark.parametrize(("fields", "field"), [
    ({"page_size": 201}, "page_size"),
    ({"page_size": -1}, "page_size"),
    ({"entity": "ticket"}, "entity"),
    ({"status": "finished"}, "status"),
    ({"page_token": "not-a-token"}, "page_token"),
    ({"page_token": encode_key("yesterday", "sales-1")}, "page_token"),
    ({"page_token": encode_key("2026-06-15T08:00:00", "sales-1")}, "page_token"),  # no time zone: not ours
])
def test_bad_input_is_refused_naming_the_field(service: tuple[Database, jobs.ImportKind], fields: dict[str, object],
                                               field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        listed(service, REP, **fields)
    assert refused.value.field == field
