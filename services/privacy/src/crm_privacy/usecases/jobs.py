"""Export jobs and erasure sagas: created on a DPO's request, advanced step by step by the job
worker (`crm_privacy.jobs`), read back with their progress, their document or their receipt.

Each function takes the unit of work (or a read session) first; none calls another service:
the worker calls, then records what it learnt here, each answer in its own transaction."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crm.privacy.v1 import privacy_pb2 as pb
from crm_privacy import rules, store
from crmkit import audit
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound
from crmkit.privacy import MIN_NEEDLE, suppression_hashes
from crmkit.records import new_id

JobMessage = pb.ExportJob | pb.Erasure


def _named(contact_ids: Sequence[str], emails: Sequence[str], phones: Sequence[str]) -> list[str]:
    """Which identifiers a request named (the audit log keeps the kinds, never the values)."""
    return [name for name, values in (("contact_ids", contact_ids), ("emails", emails), ("phones", phones)) if values]


def _steps(services: Sequence[str]) -> list[str]:
    return [rules.RESOLVE, *services]


def create_export(uow: UnitOfWork, *, principal: Principal, now: datetime, request: pb.CreateExportRequest,
                  services: Sequence[str] = rules.SERVICES) -> pb.ExportJob:
    rules.check_dpo(principal)
    subject = rules.subject_of(request.contact_ids, request.emails, request.phones)
    job = pb.ExportJob(id=new_id(), status="pending", contact_ids=subject.contact_ids, requested_by=principal.user_id)
    job.created_at.FromDatetime(now)
    store.insert_job(uow.session, job_id=job.id, kind=rules.EXPORT, requested_by=principal.user_id, now=now,
                     subject=subject, data=job.SerializeToString(), services=_steps(services))
    audit.record(uow, principal, "export_requested", "privacy_export", job.id, at=now,
                 fields=_named(request.contact_ids, request.emails, request.phones))
    _with_steps(uow.session, job)
    return job


def create_erasure(uow: UnitOfWork, *, principal: Principal, now: datetime, request: pb.CreateErasureRequest,
                   services: Sequence[str] = rules.SERVICES) -> pb.Erasure:
    rules.check_dpo(principal)
    subject = rules.subject_of(request.contact_ids, request.emails, request.phones)
    if len(request.reason) > 1000:
        raise InvalidArgument("at most 1000 characters", field="reason")
    erasure = pb.Erasure(id=new_id(), status="pending", contact_ids=subject.contact_ids,
                         requested_by=principal.user_id, reason=request.reason.strip())
    erasure.created_at.FromDatetime(now)
    store.insert_job(uow.session, job_id=erasure.id, kind=rules.ERASURE, requested_by=principal.user_id, now=now,
                     subject=subject, data=erasure.SerializeToString(), services=_steps(services))
    audit.record(uow, principal, "erasure_requested", "privacy_erasure", erasure.id, at=now,
                 fields=_named(request.contact_ids, request.emails, request.phones))
    _with_steps(uow.session, erasure)
    return erasure


def _load(session: Session, job_id: str, kind: str) -> store.Job:
    job = store.load_job(session, job_id)
    if job is None or job.kind != kind:
        raise NotFound(f"no {kind} {job_id}", field="id")
    return job


def _message(job: store.Job) -> JobMessage:
    message: JobMessage = pb.ExportJob() if job.kind == rules.EXPORT else pb.Erasure()
    message.ParseFromString(job.data)
    message.status = job.status
    return message


def _with_steps(session: Session, message: JobMessage) -> JobMessage:
    del message.steps[:]
    for step in store.steps_of(session, message.id):
        out = pb.ServiceStep(service=step.service, status=step.status, attempts=step.attempts,
                             last_error=step.last_error, records=step.records)
        if step.done_at is not None:
            out.done_at.FromDatetime(step.done_at)
        message.steps.append(out)
    return message


def get_export(session: Session, *, principal: Principal, job_id: str) -> pb.ExportJob:
    rules.check_dpo(principal)
    job = _load(session, job_id, rules.EXPORT)
    message = _with_steps(session, _message(job))
    assert isinstance(message, pb.ExportJob)
    return message


def get_erasure(session: Session, *, principal: Principal, job_id: str) -> pb.Erasure:
    rules.check_dpo(principal)
    job = _load(session, job_id, rules.ERASURE)
    message = _with_steps(session, _message(job))
    assert isinstance(message, pb.Erasure)
    return message


def download(session: Session, *, principal: Principal, job_id: str, fmt: str) -> pb.ExportDownload:
    rules.check_dpo(principal)
    fmt = fmt or "json"
    if fmt not in ("json", "zip"):
        raise InvalidArgument("format is json or zip", field="format")
    job = _load(session, job_id, rules.EXPORT)
    if job.status == "expired":
        raise FailedPrecondition(f"export {job_id} expired; its document was deleted (request a new one)", field="id")
    if job.status != "completed" or job.result is None:
        raise FailedPrecondition(f"export {job_id} is not complete yet ({job.status})", field="id")
    if fmt == "zip":
        return pb.ExportDownload(content_type="application/zip", file_name=f"export-{job_id}.zip",
                                 content=job.archive or b"")
    return pb.ExportDownload(content_type="application/json", file_name=f"export-{job_id}.json", content=job.result)


def get_receipt(session: Session, *, principal: Principal, job_id: str) -> pb.ErasureReceipt:
    rules.check_dpo(principal)
    job = _load(session, job_id, rules.ERASURE)
    if job.status != "completed" or job.result is None:
        raise FailedPrecondition(f"erasure {job_id} is not complete yet: the receipt follows the last service's "
                                 "confirmation", field="id")
    return pb.ErasureReceipt.FromString(job.result)


# -- what the worker records ----------------------------------------------------------------


def resolved(uow: UnitOfWork, *, job_id: str, subject: pb.Subject, key: bytes, now: datetime) -> list[str]:
    """The person as contacts resolved them. An erasure's emails and phones join the suppression
    list at once, before any service is asked to erase: from here on they are refused."""
    job = store.load_job(uow.session, job_id)
    assert job is not None
    merged = pb.Subject(contact_ids=sorted(set(job.subject.contact_ids) | set(subject.contact_ids)),
                        emails=sorted(set(job.subject.emails) | set(subject.emails)),
                        phones=sorted(set(job.subject.phones) | set(subject.phones)),
                        names=sorted(set(subject.names)))
    store.set_resolved(uow.session, job_id, merged)
    store.record_step(uow.session, job_id, rules.RESOLVE, now=now, records=len(merged.contact_ids))
    hashes = suppression_hashes(key, merged.emails, merged.phones)
    if job.kind == rules.ERASURE:
        store.suppress(uow.session, hashes, erasure_id=job_id, now=now)
    message = _message(job)
    del message.contact_ids[:]
    message.contact_ids.extend(merged.contact_ids)
    store.set_data(uow.session, job_id, message.SerializeToString())
    return hashes


def step_done(uow: UnitOfWork, *, job_id: str, service: str, answer: Message, records: int, now: datetime) -> None:
    store.record_step(uow.session, job_id, service, now=now, answer=answer.SerializeToString(), records=records)


def step_failed(uow: UnitOfWork, *, job_id: str, service: str, reason: str, now: datetime) -> None:
    store.record_step(uow.session, job_id, service, now=now, error=reason or "failed")


def next_round(uow: UnitOfWork, *, job_id: str, now: datetime) -> None:
    """Some service failed: the job is due again after the longest wait its failures ask for."""
    pending = [s for s in store.steps_of(uow.session, job_id) if s.status != "done"]
    wait = max((rules.backoff(s.attempts) for s in pending), default=1.0)
    store.reschedule(uow.session, job_id, now + timedelta(seconds=wait))


def complete(uow: UnitOfWork, *, job_id: str, now: datetime) -> None:
    """Every service answered: the export's document and ZIP, or the erasure's receipt. The
    erasure forgets the person's emails, phones and names (the suppression list keeps hashes)."""
    job = store.load_job(uow.session, job_id)
    assert job is not None
    message = _message(job)
    message.status = "completed"
    message.completed_at.FromDatetime(now)
    answers = [s for s in store.steps_of(uow.session, job_id) if s.service != rules.RESOLVE and s.answer]
    if isinstance(message, pb.ExportJob):
        parts = [pb.SubjectPart.FromString(s.answer or b"") for s in answers]
        message.records = sum(p.records for p in parts)
        message.attachments = sum(len(p.attachments) for p in parts)
        document = rules.export_document(message, job.subject, parts, now)
        store.finish(uow.session, job_id, now=now, data=message.SerializeToString(), subject=job.subject,
                     result=document, archive=rules.export_archive(document, parts),
                     expires_at=now + rules.EXPORT_KEPT)
        store.drop_answers(uow.session, job_id)
        return
    confirmations = [pb.EraseSubjectResponse.FromString(s.answer or b"") for s in answers]
    receipt = rules.receipt(message, confirmations, store.suppressed_by(uow.session, job_id))
    audit.record(uow, SYSTEM, "erasure_completed", "privacy_erasure", job_id, at=now,
                 details={"services": [c.service for c in confirmations]})
    store.finish(uow.session, job_id, now=now, data=message.SerializeToString(),
                 subject=pb.Subject(contact_ids=job.subject.contact_ids), result=receipt.SerializeToString())


def forget_person(uow: UnitOfWork, *, job_id: str) -> None:
    """Every service confirmed: this database forgets the person too (the erasure keeps the contact
    ids; exports about them go), before the file is compacted and the receipt written."""
    job = store.load_job(uow.session, job_id)
    assert job is not None
    needles = {v for v in (*job.subject.contact_ids, *job.subject.emails, *job.subject.phones) if len(v) >= MIN_NEEDLE}
    store.forget_exports(uow.session, sorted(v.encode() for v in needles))
    store.set_subject(uow.session, job_id, pb.Subject(contact_ids=job.subject.contact_ids))


def list_suppressions(session: Session, *, principal: Principal, after_seq: int) -> pb.ListSuppressionsResponse:
    rules.check_dpo(principal)  # services call with their own credential (role service)
    return pb.ListSuppressionsResponse(suppressions=store.list_suppressions(session, after_seq))
