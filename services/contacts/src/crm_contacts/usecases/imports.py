"""Customer imports as jobs: create (idempotent on the file's hash and the options), upload in
chunks, start, then batches run by the import worker (crm_contacts.jobs.imports), each batch's
records, outbox events, rejected rows and checkpoint (`rows_done`) in one transaction, so a
restart resumes after the last committed batch. A dry run goes through the same rows and writes
only the report."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crm.common.v1.imports_pb2 import CreateImportRequest, ImportJob, ImportProblem
from crm.contacts.v1.contacts_pb2 import Contact
from crm.contacts.v1.events_pb2 import ContactCreated
from crm_contacts import store
from crm_contacts.events import emit
from crm_contacts.rules import import_rows
from crm_contacts.rules import records as rules
from crm_contacts.store import Record
from crm_contacts.store import imports as import_store
from crm_contacts.store.picklists import PICKLISTS as VOCABULARY
from crm_contacts.usecases import subject
from crm_contacts.usecases.records import CREATORS, record_changed
from crmkit import shredding
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import DomainError, InvalidArgument, NotFound, PermissionDenied
from crmkit.imports import files
from crmkit.imports import jobs as import_jobs
from crmkit.privacy import SuppressionList
from crmkit.records import bump, new_id, stamp_new
from crmkit.visibility import check_assignable, check_scope

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_CHUNK_BYTES = 4 * 1024 * 1024
BATCH_ROWS = 5000  # rows per transaction: amortizes the commit and the per-batch lookups; resumes cheaply
PROBLEMS_SHOWN = 50  # on the job; the report has every one
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def principal_doc(p: Principal) -> dict[str, Any]:
    return {"user_id": p.user_id, "roles": list(p.roles), "team": p.team, "region": p.region, "name": p.name}


def principal_of(doc: dict[str, Any]) -> Principal:
    return Principal(doc["user_id"], tuple(doc["roles"]), doc["team"], doc["region"], doc.get("name", ""))


def _content_key(request: CreateImportRequest, mapping_bytes: bytes) -> str:
    options = f"{request.content_sha256}|{request.entity}|{int(request.dry_run)}|{request.on_duplicate}|"
    return hashlib.sha256(options.encode() + mapping_bytes).hexdigest()


def create_import(uow: UnitOfWork, *, principal: Principal, now: datetime, request: CreateImportRequest) -> ImportJob:
    if not principal.has_role(*CREATORS):
        raise PermissionDenied("your role cannot import customers")
    if request.entity not in import_rows.ENTITIES:
        raise InvalidArgument(f"must be one of {', '.join(import_rows.ENTITIES)}", field="entity")
    on_duplicate = request.on_duplicate or "flag"
    if on_duplicate not in import_rows.ON_DUPLICATE:
        raise InvalidArgument(f"must be one of {', '.join(import_rows.ON_DUPLICATE)}", field="on_duplicate")
    if on_duplicate == "merge" and request.entity == "account":
        raise InvalidArgument("accounts are flagged or created; merging applies to contacts", field="on_duplicate")
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
        mapping = import_store.mapping_for(uow.session, request.entity, request.source_name) or mapping
    key = _content_key(request, mapping.SerializeToString(deterministic=True))
    existing = import_store.job_by_key(uow.session, key, principal.user_id)
    if existing is not None:
        existing.reused = True
        return existing  # the same file, the same options: that job, nothing written twice
    job = ImportJob(id=new_id(), entity=request.entity, file_name=request.file_name,
                    source_name=request.source_name, status="uploading", dry_run=request.dry_run,
                    on_duplicate=on_duplicate, content_sha256=request.content_sha256,
                    size_bytes=request.size_bytes, mapping=mapping, owner_id=principal.user_id)
    job.created_at.FromDatetime(now)
    import_store.insert_job(uow.session, job, content_key=key, principal=principal_doc(principal), now=now)
    return job


def _own_job(session: Session, principal: Principal, job_id: str, *, for_update: bool = False) -> ImportJob:
    if not job_id:
        raise InvalidArgument("id is required", field="id")
    found = import_store.load_job(session, job_id, for_update=for_update)
    if found is None or not (found[0].owner_id == principal.user_id or principal.is_admin):
        raise NotFound(f"import {job_id} not found", field="id")
    return found[0]


def append_chunk(uow: UnitOfWork, *, principal: Principal, job_id: str, offset: int, data: bytes) -> int:
    job = _own_job(uow.session, principal, job_id, for_update=True)
    got = import_store.received(uow.session, job.id)
    if job.status != "uploading" or offset < got:
        return got  # a resent chunk (or one after the start): already there
    if offset > got:
        raise InvalidArgument(f"the next chunk starts at {got}", field="offset")
    if not data or len(data) > MAX_CHUNK_BYTES or got + len(data) > job.size_bytes:
        raise InvalidArgument(f"1 to {MAX_CHUNK_BYTES} bytes, within the declared size", field="data")
    import_store.add_chunk(uow.session, job.id, offset, data)
    return got + len(data)


def start_import(uow: UnitOfWork, *, principal: Principal, now: datetime, job_id: str) -> ImportJob:
    job = _own_job(uow.session, principal, job_id, for_update=True)
    if job.status != "uploading":
        return job  # started already: starting again changes nothing
    header = import_jobs.check_upload(uow.session, import_store.STORE, job)  # streamed: size, SHA-256, header
    if not header or not any(h.strip() for h in header):
        raise InvalidArgument("the first row must name the columns", field="file")
    if len(header) > import_rows.MAX_COLUMNS:
        raise InvalidArgument(f"at most {import_rows.MAX_COLUMNS} columns", field="file")
    _, unmapped = import_rows.resolve_mapping(job.entity, header, job.mapping)
    del job.unmapped_columns[:]
    job.unmapped_columns.extend(unmapped)
    if job.source_name:
        import_store.remember_mapping(uow.session, job.entity, job.source_name, job.mapping, now)
    job.status = "queued"
    import_store.save_job(uow.session, job, now)
    return job


def get_import(session: Session, *, principal: Principal, now: datetime, job_id: str) -> ImportJob:
    job = _own_job(session, principal, job_id)
    if job.HasField("started_at") and job.status == "running":
        elapsed = (now - job.started_at.ToDatetime().replace(tzinfo=now.tzinfo)).total_seconds()
        done = job.rows_done - job.started_rows
        job.rows_per_second = round(done / elapsed, 1) if elapsed > 0 and done > 0 else 0.0
        left = max(job.rows_total - job.rows_done, 0)
        job.eta_seconds = round(left / job.rows_per_second, 1) if job.rows_per_second else 0.0
    for n, doc in import_store.rejects(session, job.id, PROBLEMS_SHOWN):
        for f, column, message, value in doc["problems"]:
            job.problems.append(ImportProblem(row=n, field=f, column=column, message=message, value=value))
    return job


def report_csv(session: Session, *, principal: Principal, job_id: str) -> bytes:
    """Every rejected row: its number, every reason, then its cells as typed (UTF-8 with a BOM, so
    Excel shows Chinese text intact)."""
    job = _own_job(session, principal, job_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "reasons", *job_header(session, job)])
    for n, doc in import_store.rejects(session, job.id):
        reasons = "; ".join(f"{c or f}: {m}" + (f" ('{v}')" if v else "") for f, c, m, v in doc["problems"])
        writer.writerow([n, reasons, *doc["values"]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def job_header(session: Session, job: ImportJob) -> list[str]:
    return files.first_row(job.file_name, lambda: import_store.STORE.chunks_in(session, job.id))


# -- the run, one batch per transaction (driven by crm_contacts.jobs.imports)
@dataclass
class RunState:
    """What a run keeps between batches in memory: the file's columns, and the phones and emails
    of the rows seen so far (duplicates within the file). Rebuilt on a resume from the header;
    the rows before the checkpoint are found as duplicates in the database instead."""
    header: list[str]
    targets: list[str]
    seen: dict[str, tuple[int, str]] = field(default_factory=dict)  # identity → (row, record id)


def begin_run(uow: UnitOfWork, *, now: datetime, job_id: str, rows_total: int) -> ImportJob | None:
    found = import_store.load_job(uow.session, job_id, for_update=True)
    if found is None or found[0].status not in import_store.RUNNABLE:
        return None
    job = found[0]
    job.status = "running"
    job.rows_total = rows_total
    job.started_at.FromDatetime(now)
    job.started_rows = job.rows_done
    import_store.save_job(uow.session, job, now)
    return job


def fail_run(uow: UnitOfWork, *, now: datetime, job_id: str, error: str) -> None:
    found = import_store.load_job(uow.session, job_id, for_update=True)
    if found is not None:
        job = found[0]
        job.status, job.error = "failed", error
        job.finished_at.FromDatetime(now)
        import_store.save_job(uow.session, job, now)


def run_batch(uow: UnitOfWork, *, now: datetime, job_id: str, first_row: int, rows: Sequence[list[str]],
              state: RunState, last: bool, suppression: SuppressionList | None = None) -> ImportJob | None:
    """Rows `first_row`.. of the job (1-based data rows): validated, de-duplicated, written; the
    rejected ones stored with every reason; the checkpoint moved past them. None when the job is
    no longer this run's (another replica moved it on, or it was finished)."""
    found = import_store.load_job(uow.session, job_id, for_update=True)
    if found is None or found[0].status != "running" or found[0].rows_done != first_row - 1:
        return None
    job, principal = found[0], principal_of(found[1])
    definitions = store.definitions(uow.session, job.entity)
    vocabulary = VOCABULARY.current(uow.session)
    built = [import_rows.build_row(job.entity, state.header, state.targets, values, job.mapping, definitions,
                                   vocabulary) for values in rows]
    owners = import_store.identity_owners(uow.session, job.entity, [
        v for row in built if not row.problems for _, v in rules.identity_values(row.record)])
    fresh: list[Record] = []
    pending: dict[str, Record] = {}
    merged: dict[str, Contact] = {}
    rejected: list[tuple[int, dict[str, Any]]] = []
    for offset, (row, values) in enumerate(zip(built, rows, strict=True)):
        n = first_row + offset
        record = row.record
        if not row.problems:
            _assign(record, principal, row)
        if not row.problems and isinstance(record, Contact):
            try:   # an erased person's email or phone is not imported again
                subject.refuse_suppressed(suppression, record)
            except DomainError as exc:
                row.problems.append(import_rows.Problem(exc.field or "emails", "", exc.message, ""))
        if not row.problems:
            duplicate = _duplicate_of(record, state, owners)
            if duplicate is not None and job.on_duplicate != "create":
                where, match_id, value = duplicate
                if job.on_duplicate == "flag":
                    row.problems.append(import_rows.Problem(
                        "phones" if value.lstrip("+").isdigit() else "emails", "",
                        f"duplicate of {where} ({value}): choose on_duplicate merge or create to keep it", value))
                elif not job.dry_run:
                    target = merged.get(match_id) or pending.get(match_id) or store.load(
                        uow.session, Contact, match_id, for_update=True)
                    if isinstance(target, Contact) and isinstance(record, Contact):
                        rules.merge_into(target, record)
                        if match_id not in pending:
                            merged[match_id] = target
                    job.merged += 1
                    _remember(record, state, n, match_id)
                    continue
                else:
                    job.merged += 1
                    continue
        if row.problems:
            job.rejected += 1
            rejected.append((n, {"problems": [[p.field, p.column, p.message, p.value] for p in row.problems],
                                 "values": list(values)}))
            continue
        if row.notes:
            job.warnings += 1
        record.id = new_id()
        stamp_new(record, now)
        _remember(record, state, n, record.id)
        pending[record.id] = record
        fresh.append(record)
        job.accepted += 1
    if not job.dry_run:
        import_store.insert_records(uow.session, fresh)
        # the people's data keys for the whole batch at once (crmkit.shredding seals each event)
        people = [r.id for r in fresh if isinstance(r, Contact)] + list(merged)
        shredding.key_for_records(uow.session, emit.producer, "contact", people, ContactCreated)
        for record in fresh:
            record_changed(uow, principal=principal, now=now, action="created", record=record,
                           detail=f"import {job.id}")
        for survivor in merged.values():
            bump(survivor, now)
            store.update_record(uow.session, survivor)
            record_changed(uow, principal=principal, now=now, action="updated", record=survivor,
                           detail=f"import {job.id}: merged a duplicate row")
    import_store.add_rejects(uow.session, job.id, rejected)
    job.rows_done = first_row - 1 + len(rows)
    if last:
        job.status = "done"
        job.finished_at.FromDatetime(now)
    import_store.save_job(uow.session, job, now)
    return job


def _assign(record: Record, principal: Principal, row: import_rows.Row) -> None:
    record.owner_id = record.owner_id or principal.user_id
    record.team = record.team or principal.team
    record.region = record.region or principal.region
    for name, check in (("owner_id", lambda: check_assignable(principal, record.owner_id)),
                        ("team", lambda: check_scope(principal, team=record.team, region=record.region))):
        try:
            check()
        except DomainError as exc:
            # the value of the field refused (check_scope names region or team), as the row gave it
            field = exc.field or name
            row.problems.append(import_rows.Problem(field, "", exc.message, str(getattr(record, field, ""))))


def _duplicate_of(record: Record, state: RunState, owners: dict[str, str]) -> tuple[str, str, str] | None:
    for _, value in rules.identity_values(record):
        if value in state.seen:
            n, record_id = state.seen[value]
            return f"row {n} of this file", record_id, value
        if value in owners:
            return f"{'contact' if isinstance(record, Contact) else 'account'} {owners[value]}", owners[value], value
    return None


def _remember(record: Record, state: RunState, n: int, record_id: str) -> None:
    for _, value in rules.identity_values(record):
        state.seen.setdefault(value, (n, record_id))
