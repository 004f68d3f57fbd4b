"""Customer imports as jobs through crmkit.imports (the job, its upload, progress, report, the
runner and its resume are shared with sales and support). Contacts' own part is `ContactImporter`:
a batch of rows → contacts or accounts with every problem, duplicates (within the file and against
the database) flagged or merged, the good ones written in bulk with their events, in the batch's
transaction with its rejected rows and checkpoint. A dry run goes through the same rows and writes
only the report."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from crm.common.v1.imports_pb2 import CreateImportRequest, ImportJob, ListImportsRequest, ListImportsResponse
from crm.contacts.v1.contacts_pb2 import Contact
from crm.contacts.v1.events_pb2 import ContactCreated
from crm_contacts import store
from crm_contacts.events import emit
from crm_contacts.rules import import_rows
from crm_contacts.rules import records as rules
from crm_contacts.rules.visibility import VISIBILITY
from crm_contacts.store import Record
from crm_contacts.store import imports as import_store
from crm_contacts.store.picklists import PICKLISTS as VOCABULARY
from crm_contacts.usecases import subject
from crm_contacts.usecases.records import CREATORS, record_changed
from crmkit import shredding
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import DomainError
from crmkit.imports import jobs as import_jobs
from crmkit.imports.jobs import Rejected, RunState
from crmkit.privacy import SuppressionList
from crmkit.records import bump, new_id, stamp_new
from crmkit.visibility import check_assignable, check_scope

BATCH_ROWS = 5000  # rows per transaction: amortizes the commit and the per-batch lookups; resumes cheaply
MAX_CHUNK_BYTES = import_jobs.MAX_CHUNK_BYTES
# Accounts are not merged: a merge folds one person into another (rules.merge_into).
KIND = import_jobs.ImportKind(entities={
    "contact": import_jobs.EntityRules(what="customers", targets=import_rows.TARGETS["contact"], roles=CREATORS,
                                       picklists=import_rows.PICKLISTS, custom_fields=True),
    "account": import_jobs.EntityRules(what="accounts", targets=import_rows.TARGETS["account"], roles=CREATORS,
                                       picklists=import_rows.PICKLISTS, merge=False, custom_fields=True),
}, store=import_store.STORE)


def create_import(uow: UnitOfWork, *, principal: Principal, now: datetime, request: CreateImportRequest) -> ImportJob:
    return import_jobs.create_import(uow, kind=KIND, principal=principal, now=now, request=request)


def append_chunk(uow: UnitOfWork, *, principal: Principal, job_id: str, offset: int, data: bytes) -> int:
    return import_jobs.append_chunk(uow, kind=KIND, principal=principal, job_id=job_id, offset=offset, data=data)


def start_import(uow: UnitOfWork, *, principal: Principal, now: datetime, job_id: str) -> ImportJob:
    return import_jobs.start_import(uow, kind=KIND, principal=principal, now=now, job_id=job_id)


def get_import(session: Session, *, principal: Principal, now: datetime, job_id: str) -> ImportJob:
    return import_jobs.get_import(session, kind=KIND, principal=principal, now=now, job_id=job_id)


def list_imports(session: Session, *, principal: Principal, now: datetime,
                 request: ListImportsRequest) -> ListImportsResponse:
    """The caller's jobs (an admin's: everyone's), newest first, without their problems."""
    return import_jobs.list_imports(session, kind=KIND, principal=principal, now=now, request=request)


def report_csv(session: Session, *, principal: Principal, job_id: str) -> bytes:
    """Every rejected row and every row kept with remarks: its number, every reason or remark, its
    cells as typed, its outcome (rejected / kept) (UTF-8 with a BOM)."""
    return import_jobs.report_csv(session, kind=KIND, principal=principal, job_id=job_id)


class ContactImporter:
    """crmkit.imports.jobs.Importer for contacts and accounts. `suppression`: erased people's
    emails and phones, refused as rejected rows."""

    def __init__(self, suppression: SuppressionList | None = None) -> None:
        self.suppression = suppression

    def batch(self, uow: UnitOfWork, *, now: datetime, job: ImportJob, principal: Principal, first_row: int,
              rows: Sequence[list[str]], state: RunState) -> list[Rejected]:
        """Rows `first_row`.. (1-based data rows) validated, de-duplicated and written; the
        rejected ones returned with every reason, and the kept ones with remarks (notes, a merged
        row's values the survivor did not take) marked kept (the runner stores them for the report
        with the checkpoint)."""
        definitions = store.definitions(uow.session, job.entity)
        vocabulary = VOCABULARY.current(uow.session)
        built = [import_rows.build_row(job.entity, state.header, state.targets, values, job.mapping, definitions,
                                       vocabulary) for values in rows]
        # each row's identities, once: a row's own record does not change them before it is written
        # (a merge changes the survivor's, which store.insert_records reads again)
        identities: list[list[tuple[str, str]]] = [
            [] if row.problems else rules.identity_values(row.record) for row in built]
        # one indexed lookup per identity kind for the whole batch (earlier batches are committed)
        owners = import_store.identity_owners(uow.session, job.entity, [
            pair for pairs in identities for pair in pairs])
        created = _timestamp(now)
        fresh: list[Record] = []
        pending: dict[str, Record] = {}
        merged: dict[str, Contact] = {}
        rejected: list[Rejected] = []
        for offset, (row, values, pairs) in enumerate(zip(built, rows, identities, strict=True)):
            n = first_row + offset
            record = row.record
            typed = {name: getattr(record, name) for name in import_rows.ASSIGNMENT}  # as the file gave them
            if not row.problems:
                _assign(record, principal, row)
            if not row.problems and isinstance(record, Contact):
                try:   # an erased person's email or phone is not imported again
                    subject.refuse_suppressed(self.suppression, record)
                except DomainError as exc:
                    row.problems.append(import_rows.Problem(exc.field or "emails", "", exc.message, ""))
            if not row.problems:
                duplicate = _duplicate_of(record, pairs, state, owners)
                if duplicate is not None and job.on_duplicate != "create":
                    where, match_id, value = duplicate
                    field = "phones" if value.lstrip("+").isdigit() else "emails"
                    access = "own" if match_id in pending else _access(uow, principal, type(record), match_id)
                    if access == "hidden":  # no id the uploader may not see, as the API's 404 names none
                        where = f"a{'' if isinstance(record, Contact) else 'n'} {_kind(record)} you cannot see"
                    if job.on_duplicate == "flag":
                        row.problems.append(import_rows.Problem(
                            field, "", f"duplicate of {where} ({value}): choose on_duplicate merge or create to keep it",
                            value))
                    elif access != "own":
                        row.problems.append(import_rows.Problem(
                            field, "", f"duplicate of {where} ({value}), which you may not change: choose "
                            "on_duplicate create to keep it", value))
                    else:  # a dry run merges too, in memory, to report what would not be applied
                        target = merged.get(match_id) or pending.get(match_id) or store.load(
                            uow.session, Contact, match_id, for_update=not job.dry_run)
                        notes = list(row.notes)
                        if isinstance(target, Contact) and isinstance(record, Contact):
                            notes += import_rows.not_applied(target, record, typed, where)
                            rules.merge_into(target, record)
                            if match_id not in pending:
                                merged[match_id] = target
                        if notes:  # in the report, as kept: nothing of the row left out silently
                            job.warnings += 1
                            rejected.append(Rejected(n, notes, list(values), kept=True))
                        job.merged += 1
                        if not job.dry_run:
                            _remember(pairs, state, n, match_id)
                        continue
            if row.problems:
                rejected.append(Rejected(n, row.problems, list(values)))
                continue
            if row.notes:
                job.warnings += 1
                rejected.append(Rejected(n, list(row.notes), list(values), kept=True))
            record.id = new_id()
            stamp_new(record, created)  # the batch's `now`, converted once
            _remember(pairs, state, n, record.id)
            pending[record.id] = record
            fresh.append(record)
            job.accepted += 1
        if not job.dry_run:
            _write(uow, now=now, job=job, principal=principal, fresh=fresh, merged=merged)
        return rejected


def _write(uow: UnitOfWork, *, now: datetime, job: ImportJob, principal: Principal, fresh: list[Record],
           merged: dict[str, Contact]) -> None:
    """The batch's new records in bulk, the merged ones updated, an event (and audit entry) each."""
    import_store.widen_cache(uow.session)
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


def _timestamp(now: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(now)
    return stamp


def _assign(record: Record, principal: Principal, row: import_rows.Row) -> None:
    record.owner_id = record.owner_id or principal.user_id
    record.team = record.team or principal.team
    record.region = record.region or principal.region
    try:
        check_assignable(principal, record.owner_id)
    except DomainError as exc:
        _refused(record, row, exc, "owner_id")
    try:
        check_scope(principal, team=record.team, region=record.region)
    except DomainError as exc:
        _refused(record, row, exc, "team")


def _refused(record: Record, row: import_rows.Row, exc: DomainError, name: str) -> None:
    # the value of the field refused (check_scope names region or team), as the row gave it
    field = exc.field or name
    row.problems.append(import_rows.Problem(field, "", exc.message, str(getattr(record, field, ""))))


def _kind(record: Record) -> str:
    return "contact" if isinstance(record, Contact) else "account"


def _access(uow: UnitOfWork, principal: Principal, kind: type[Record], record_id: str) -> str:
    """What the uploader may do with the record a row duplicates: own (change it), read, or hidden."""
    found = store.load(uow.session, kind, record_id)
    if found is None or found.deleted or not VISIBILITY.can_read(principal, found.owner_id, found.team,
                                                                 found.region):
        return "hidden"
    return "own" if VISIBILITY.can_write(principal, found.owner_id, found.team, found.region) else "read"


def _duplicate_of(record: Record, pairs: list[tuple[str, str]], state: RunState,
                  owners: dict[str, str]) -> tuple[str, str, str] | None:
    for _, value in pairs:
        if value in state.seen:
            n, record_id = state.seen[value]
            return f"row {n} of this file", record_id, value
        if value in owners:
            return f"{_kind(record)} {owners[value]}", owners[value], value
    return None


def _remember(pairs: list[tuple[str, str]], state: RunState, n: int, record_id: str) -> None:
    for _, value in pairs:
        state.seen.setdefault(value, (n, record_id))
