"""The import use cases every importing service shares: create (idempotent on the file's hash and
the options), upload in chunks, start, progress (rate and ETA), the report of rejected rows, and
one batch of a run (the rows themselves are the service's `Importer`), its rejected rows and
checkpoint (`rows_done`) in the batch's transaction, so a restart resumes after the last
committed batch. A dry run goes through the same rows and writes only the report."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from crm.common.v1.imports_pb2 import (
    CreateImportRequest,
    ImportJob,
    ImportProblem,
    ListImportsRequest,
    ListImportsResponse,
)
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crmkit.imports import cells, files, listing
from crmkit.imports import mapping as mapping_rules
from crmkit.imports.mapping import Problem
from crmkit.imports.store import RUNNABLE, ImportStore
from crmkit.records import new_id

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_CHUNK_BYTES = 4 * 1024 * 1024
PROBLEMS_SHOWN = 50  # on the job; the report has every one
UPLOAD_ABANDONED_AFTER = timedelta(days=1)  # a 256 MB file takes minutes; a day is a client gone
ABANDONED_UPLOAD = "the upload was not finished within a day of its start: send the file again"
ON_DUPLICATE = ("flag", "merge", "create")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class EntityRules:
    """What a file of one entity may hold and who may import it."""
    what: str                                  # plural, for messages: "leads"
    targets: tuple[str, ...]                   # fields a column may map to
    roles: tuple[str, ...]                     # who may import (admins always)
    picklists: Mapping[str, Sequence[str]] = field(default_factory=dict)
    merge: bool = True                         # on_duplicate=merge is offered
    create: bool = True                        # on_duplicate=create is offered (not where the key is unique)
    custom_fields: bool = False                # custom_fields.<key> targets


@dataclass(frozen=True)
class ImportKind:
    """A service's imports: its entities, and the prefix of its job ids (how the gateway finds
    a job's service)."""
    entities: Mapping[str, EntityRules]
    store: ImportStore
    id_prefix: str = ""


@dataclass
class RunState:
    """What a run keeps between batches in memory: the file's columns, and the identities (email,
    phone, SKU, external id) of the rows seen so far, for duplicates within the file. Rebuilt on a
    resume from the header; the rows before the checkpoint are then found in the database."""
    header: list[str]
    targets: list[str]
    seen: dict[str, tuple[int, str]] = field(default_factory=dict)  # identity → (row, record id)

    def duplicate(self, values: Sequence[str]) -> tuple[int, str, str] | None:
        for value in values:
            if value in self.seen:
                n, record_id = self.seen[value]
                return n, record_id, value
        return None

    def remember(self, values: Sequence[str], n: int, record_id: str) -> None:
        for value in values:
            self.seen.setdefault(value, (n, record_id))


@dataclass
class Rejected:
    """A row for the report: refused (`problems` are its reasons), or, `kept`, written or merged
    with remarks (`problems` are its notes: a phone kept unverified, a value kept as a tag, a
    file's value a merge did not apply). Only the refused ones count as rejected."""
    row: int
    problems: list[Problem]
    values: list[str]
    kept: bool = False


class Importer(Protocol):
    """A service's rows: validate each (every problem), find duplicates, write the good ones in bulk
    (unless the job is a dry run) and count them on the job (accepted, merged, warnings)."""

    def batch(self, uow: UnitOfWork, *, now: datetime, job: ImportJob, principal: Principal, first_row: int,
              rows: Sequence[list[str]], state: RunState) -> list[Rejected]: ...


def principal_doc(p: Principal) -> dict[str, Any]:
    return {"user_id": p.user_id, "roles": list(p.roles), "team": p.team, "region": p.region, "name": p.name}


def principal_of(doc: dict[str, Any]) -> Principal:
    return Principal(doc["user_id"], tuple(doc["roles"]), doc["team"], doc["region"], doc.get("name", ""))


def _content_key(request: CreateImportRequest, mapping_bytes: bytes) -> str:
    options = f"{request.content_sha256}|{request.entity}|{int(request.dry_run)}|{request.on_duplicate}|"
    return hashlib.sha256(options.encode() + mapping_bytes).hexdigest()


def create_import(uow: UnitOfWork, *, kind: ImportKind, principal: Principal, now: datetime,
                  request: CreateImportRequest) -> ImportJob:
    rules = kind.entities.get(request.entity)
    if rules is None:
        raise InvalidArgument(f"must be one of {', '.join(kind.entities)}", field="entity")
    if not principal.has_role(*rules.roles):
        raise PermissionDenied(f"your role cannot import {rules.what}")
    on_duplicate = request.on_duplicate or "flag"
    if on_duplicate not in ON_DUPLICATE:
        raise InvalidArgument(f"must be one of {', '.join(ON_DUPLICATE)}", field="on_duplicate")
    if on_duplicate == "merge" and not rules.merge:
        raise InvalidArgument(f"{rules.what} are flagged or created, not merged", field="on_duplicate")
    if on_duplicate == "create" and not rules.create:
        raise InvalidArgument(f"{rules.what} are flagged or merged: a second one with the same key cannot be "
                              "created", field="on_duplicate")
    if not request.file_name.lower().endswith((".csv", ".xlsx")):
        raise InvalidArgument("a .csv or .xlsx file", field="file_name")
    if not _SHA256.match(request.content_sha256):
        raise InvalidArgument("the file's SHA-256, 64 hex digits", field="content_sha256")
    if not 0 < request.size_bytes <= MAX_FILE_BYTES:
        raise InvalidArgument(f"a file of 1 to {MAX_FILE_BYTES} bytes", field="size_bytes")
    if len(request.source_name) > 200:
        raise InvalidArgument("at most 200 characters", field="source_name")
    mapping = request.mapping
    if not mapping.columns and not mapping.values and request.source_name:
        mapping = kind.store.mapping_for(uow.session, request.entity, request.source_name) or mapping
    request.on_duplicate = on_duplicate
    key = _content_key(request, mapping.SerializeToString(deterministic=True))
    existing = kind.store.job_by_key(uow.session, key, principal.user_id)
    if existing is not None and existing.status == "uploading":
        return existing  # an upload cut short (the service restarted): this one continues it
    if existing is not None:
        existing.reused = True
        return existing  # the same file, the same options: that job, nothing written twice
    job = ImportJob(id=kind.id_prefix + new_id(), entity=request.entity, file_name=request.file_name,
                    source_name=request.source_name, status="uploading", dry_run=request.dry_run,
                    on_duplicate=on_duplicate, content_sha256=request.content_sha256,
                    size_bytes=request.size_bytes, mapping=mapping, owner_id=principal.user_id)
    job.created_at.FromDatetime(now)
    kind.store.insert_job(uow.session, job, content_key=key, principal=principal_doc(principal), now=now)
    return job


def visible_owner(principal: Principal) -> str | None:
    """Whose jobs the caller sees: their own, an admin everyone's (None)."""
    return None if principal.is_admin else principal.user_id


def own_job(session: Session, kind: ImportKind, principal: Principal, job_id: str, *,
            for_update: bool = False) -> ImportJob:
    if not job_id:
        raise InvalidArgument("id is required", field="id")
    found = kind.store.load_job(session, job_id, for_update=for_update)
    owner = visible_owner(principal)
    if found is None or not (owner is None or found[0].owner_id == owner):
        raise NotFound(f"import {job_id} not found", field="id")
    return found[0]


def list_imports(session: Session, *, kind: ImportKind, principal: Principal, now: datetime,
                 request: ListImportsRequest) -> ListImportsResponse:
    """The jobs the caller sees (own_job's rule), newest first, each as get_import answers it
    but without its problems (those are the job's own page)."""
    if not 0 <= request.page_size <= listing.MAX_PAGE:
        raise InvalidArgument(f"1 to {listing.MAX_PAGE} (default {listing.DEFAULT_PAGE})", field="page_size")
    if request.entity and request.entity not in kind.entities:
        raise InvalidArgument(f"must be one of {', '.join(kind.entities)}", field="entity")
    if request.status and request.status not in listing.STATUSES:
        raise InvalidArgument(f"must be one of {', '.join(listing.STATUSES)}", field="status")
    after = listing.parse_cursor(request.page_token) if request.page_token else None
    size = request.page_size or listing.DEFAULT_PAGE
    found = kind.store.list_jobs(session, owner_id=visible_owner(principal), status=request.status,
                                 entity=request.entity, after=after, limit=size + 1)
    page = found[:size]
    for job in page:
        del job.problems[:]
        with_progress(job, now)
    return ListImportsResponse(jobs=page, next_page_token=listing.cursor_of(page[-1]) if len(found) > size else "")


def append_chunk(uow: UnitOfWork, *, kind: ImportKind, principal: Principal, job_id: str, offset: int,
                 data: bytes) -> int:
    job = own_job(uow.session, kind, principal, job_id, for_update=True)
    got = kind.store.received(uow.session, job.id)
    if job.status != "uploading" or offset + len(data) <= got:
        return got  # a resent chunk (or one after the start): already there
    if offset < got:  # resent in other chunks: the part not there yet
        data, offset = data[got - offset:], got
    if offset > got:
        raise InvalidArgument(f"the next chunk starts at {got}", field="offset")
    if not data or len(data) > MAX_CHUNK_BYTES or got + len(data) > job.size_bytes:
        raise InvalidArgument(f"1 to {MAX_CHUNK_BYTES} bytes, within the declared size", field="data")
    kind.store.add_chunk(uow.session, job.id, offset, data)
    return got + len(data)


def start_import(uow: UnitOfWork, *, kind: ImportKind, principal: Principal, now: datetime,
                 job_id: str) -> ImportJob:
    """The job queued for its run, or, when the file or the mapping cannot be imported at all, the
    job failed with the reason (a problem naming the field at row 0): it is written with this
    transaction, and the caller refuses the start with it (`refusal`), so no job is left
    `uploading` in the caller's list. An upload not yet whole (FailedPrecondition) is raised: the
    missing chunks may still come."""
    job = own_job(uow.session, kind, principal, job_id, for_update=True)
    if job.status != "uploading":
        return job  # started already (or refused): starting again changes nothing
    try:
        targets, header = _checked_file(uow.session, kind, job)
    except InvalidArgument as exc:
        job.status, job.error = "failed", exc.message
        job.problems.append(ImportProblem(row=0, field=exc.field or "file", message=exc.message))
        job.finished_at.FromDatetime(now)
        kind.store.save_job(uow.session, job, now)
        return job
    labels = column_labels(header)
    ignored = {c for c, target in job.mapping.columns.items() if target == "ignore"}
    del job.unmapped_columns[:]
    job.unmapped_columns.extend(label for label, column, target in zip(labels, header, targets, strict=True)
                                if column.strip() and not target and column not in ignored)
    job.columns.clear()
    job.columns.update({label: target for label, target in zip(labels, targets, strict=True) if label.strip()})
    if job.source_name:
        kind.store.remember_mapping(uow.session, job.entity, job.source_name, job.mapping, now)
    job.status = "queued"
    kind.store.save_job(uow.session, job, now)
    return job


def refusal(job: ImportJob) -> InvalidArgument | None:
    """Why start_import refused the job's file or mapping (None when it did not): the error a
    caller raises after the job's failure is committed."""
    if job.status != "failed" or job.HasField("started_at"):
        return None
    found = next((p for p in job.problems if p.row == 0), None)
    return InvalidArgument(job.error, field=found.field if found else "file")


def column_labels(header: Sequence[str]) -> list[str]:
    """Each column's name on the job: its header, and for a header an earlier column has too, the
    header with its place ("email (column 3)"), so the job shows what each column fills."""
    seen: set[str] = set()
    labels = []
    for i, column in enumerate(header):
        labels.append(f"{column} (column {i + 1})" if column.strip() and column in seen else column)
        seen.add(column)
    return labels


def _checked_file(session: Session, kind: ImportKind, job: ImportJob) -> tuple[list[str], list[str]]:
    """The upload checked (check_upload) and its header resolved through the mapping: each
    column's target, the header."""
    header = check_upload(session, kind.store, job)
    if not header or not any(h.strip() for h in header):
        raise InvalidArgument("the first row must name the columns", field="file")
    if len(header) > files.MAX_COLUMNS:
        raise InvalidArgument(f"at most {files.MAX_COLUMNS} columns", field="file")
    rules = kind.entities[job.entity]
    targets, _ = mapping_rules.resolve(job.entity, rules.targets, rules.picklists, header, job.mapping,
                                       custom_fields=rules.custom_fields)
    return targets, header


def check_upload(session: Session, store: ImportStore, job: ImportJob) -> list[str]:
    """The uploaded file is whole and is the one declared (size, SHA-256, read a chunk at a time:
    a 100 MB file is never held whole); its header."""
    digest, size = hashlib.sha256(), 0
    for chunk in store.chunks_in(session, job.id):
        digest.update(chunk)
        size += len(chunk)
    if size != job.size_bytes:
        raise FailedPrecondition(f"{size} of {job.size_bytes} bytes received", field="data")
    if digest.hexdigest() != job.content_sha256:
        raise InvalidArgument("the bytes received do not have this SHA-256", field="content_sha256")
    try:
        return files.first_row(job.file_name, lambda: store.chunks_in(session, job.id))
    except (files.FileError, csv.Error) as exc:
        raise InvalidArgument(str(exc), field="file") from None


def get_import(session: Session, *, kind: ImportKind, principal: Principal, now: datetime,
               job_id: str) -> ImportJob:
    job = own_job(session, kind, principal, job_id)
    with_progress(job, now)
    for n, doc in kind.store.rejects(session, job.id, PROBLEMS_SHOWN, kept=False):
        for f, column, message, value in doc["problems"]:
            job.problems.append(ImportProblem(row=n, field=f, column=column, message=message, value=value))
    return job


def with_progress(job: ImportJob, now: datetime) -> None:
    """Rate and ETA of a running job, from this run's start (a resumed run counts from its resumption)."""
    if job.HasField("started_at") and job.status == "running":
        elapsed = (now - job.started_at.ToDatetime().replace(tzinfo=now.tzinfo)).total_seconds()
        done = job.rows_done - job.started_rows
        job.rows_per_second = round(done / elapsed, 1) if elapsed > 0 and done > 0 else 0.0
        left = max(job.rows_total - job.rows_done, 0)
        job.eta_seconds = round(left / job.rows_per_second, 1) if job.rows_per_second else 0.0


def report_csv(session: Session, *, kind: ImportKind, principal: Principal, job_id: str) -> bytes:
    """Every rejected row and every row kept with remarks: its number, every reason or remark,
    its cells as typed, then its outcome ("rejected" or "kept") after the file's columns (UTF-8
    with a BOM, so Excel shows Chinese text intact)."""
    job = own_job(session, kind, principal, job_id)
    out = io.StringIO()
    writer = csv.writer(out)
    header = files.first_row(job.file_name, lambda: kind.store.chunks_in(session, job.id))
    # a row longer than the header (rejected for it) gets columns of its own: `outcome` stays last
    width = max([len(header), *(len(doc["values"]) for _, doc in kind.store.rejects(session, job.id))])
    writer.writerow(["row", "reasons", *header, *(f"column {i + 1}" for i in range(len(header), width)), "outcome"])
    for n, doc in kind.store.rejects(session, job.id):
        reasons = "; ".join(f"{c or f}: {m}" + (f" ('{v}')" if v else "") for f, c, m, v in doc["problems"])
        cells = [*doc["values"], *[""] * (width - len(doc["values"]))]
        writer.writerow([n, reasons, *cells, "kept" if doc.get("kept") else "rejected"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# -- the run (driven by crmkit.imports.runner)

def fail_abandoned_uploads(uow: UnitOfWork, *, store: ImportStore, now: datetime) -> list[str]:
    """Uploads not finished a day after they began (the client went away and never sent the file
    again) end as failed with the reason, their chunks dropped: no job stays `uploading` in its
    owner's list for good, and the file is not kept. Sending the same file later makes a new job
    (a failed one is never reused). The ids of the jobs it failed."""
    failed = []
    for job_id in store.uploads_started_before(uow.session, now - UPLOAD_ABANDONED_AFTER):
        found = store.load_job(uow.session, job_id, for_update=True)
        if found is None or found[0].status != "uploading":
            continue
        job = found[0]
        job.status, job.error = "failed", ABANDONED_UPLOAD
        job.problems.append(ImportProblem(row=0, field="file", message=ABANDONED_UPLOAD))
        job.finished_at.FromDatetime(now)
        store.save_job(uow.session, job, now)
        store.drop_chunks(uow.session, job_id)
        failed.append(job_id)
    return failed


def begin_run(uow: UnitOfWork, *, store: ImportStore, now: datetime, job_id: str, rows_total: int) -> ImportJob | None:
    found = store.load_job(uow.session, job_id, for_update=True)
    if found is None or found[0].status not in RUNNABLE:
        return None
    job = found[0]
    job.status = "running"
    job.rows_total = rows_total
    job.started_at.FromDatetime(now)
    job.started_rows = job.rows_done
    store.save_job(uow.session, job, now)
    return job


def fail_run(uow: UnitOfWork, *, store: ImportStore, now: datetime, job_id: str, error: str) -> None:
    found = store.load_job(uow.session, job_id, for_update=True)
    if found is not None:
        job = found[0]
        job.status, job.error = "failed", error
        job.finished_at.FromDatetime(now)
        store.save_job(uow.session, job, now)


def run_batch(uow: UnitOfWork, *, store: ImportStore, importer: Importer, now: datetime, job_id: str,
              first_row: int, rows: Sequence[list[str]], state: RunState, last: bool) -> ImportJob | None:
    """Rows `first_row`.. of the job (1-based data rows) through the importer; the rejected ones
    stored with every reason (and the kept ones the importer remarks on, marked kept); the checkpoint moved past them. None when the job is not running."""
    found = store.load_job(uow.session, job_id, for_update=True)
    if found is None or found[0].status != "running" or found[0].rows_done != first_row - 1:
        return None  # no longer this run's: another replica moved it on, or it was finished
    job, doc = found
    rejected = _checked_rows(uow, importer, now=now, job=job, principal=principal_of(doc), first_row=first_row,
                             rows=rows, state=state)
    job.rejected += sum(not r.kept for r in rejected)
    store.add_rejects(uow.session, job.id, [
        (r.row, {"problems": [[p.field, mapping_rules.column_of(p, state.header, state.targets, r.values), p.message,
                               p.value] for p in r.problems], "values": r.values, **({"kept": True} if r.kept else {})})
        for r in rejected])
    job.rows_done = first_row - 1 + len(rows)
    if last:
        job.status = "done"
        job.finished_at.FromDatetime(now)
    store.save_job(uow.session, job, now)
    return job


def _checked_rows(uow: UnitOfWork, importer: Importer, *, now: datetime, job: ImportJob, principal: Principal,
                  first_row: int, rows: Sequence[list[str]], state: RunState) -> list[Rejected]:
    """The rows through the importer but those no importer can take (crmkit.imports.cells),
    rejected here: the importer gets each run of rows between them, numbered as in the file."""
    rejected: list[Rejected] = []
    start = 0
    for i, values in enumerate([*rows, None]):
        found = [] if values is None else cells.problems(state.header, state.targets, values)
        if values is not None and not found:
            continue
        if i > start:
            rejected += importer.batch(uow, now=now, job=job, principal=principal, first_row=first_row + start,
                                       rows=rows[start:i], state=state)
        if values is not None:
            rejected.append(Rejected(first_row + i, found, list(values)))
        start = i + 1
    return rejected


def submit(db: Any, *, kind: ImportKind, principal: Principal, now: datetime, entity: str, file_name: str,
           content: bytes, chunk: int = MAX_CHUNK_BYTES, **options: Any) -> ImportJob:
    """Create, upload and start a job in-process as the gateway does over gRPC, each step its own
    transaction (tests and benches; `db` is a crmkit Database). Options: CreateImportRequest's."""
    request = CreateImportRequest(entity=entity, file_name=file_name, content_sha256=hashlib.sha256(content).hexdigest(),
                                  size_bytes=len(content), **options)
    with db.unit_of_work() as uow:
        job = create_import(uow, kind=kind, principal=principal, now=now, request=request)
        uow.commit()
    if job.reused:
        return job
    for offset in range(0, len(content), chunk):
        with db.unit_of_work() as uow:
            append_chunk(uow, kind=kind, principal=principal, job_id=job.id, offset=offset,
                         data=content[offset:offset + chunk])
            uow.commit()
    with db.unit_of_work() as uow:
        job = start_import(uow, kind=kind, principal=principal, now=now, job_id=job.id)
        uow.commit()
    refused = refusal(job)
    if refused is not None:
        raise refused
    return job
