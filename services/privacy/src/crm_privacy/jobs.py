"""The job worker: every tick (and at once when a request arrives) it claims the due jobs and
advances each: contacts resolves the person, then every service is asked for its part (export)
or to erase (erasure), each answer recorded in its own transaction. A service that fails is asked
again with backoff while the others go on; a worker that dies mid-job leaves a lease that runs
out, and the job resumes where its steps say (asking a service to erase twice is harmless)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from google.protobuf.message import Message

from crm_privacy import metrics, rules, store
from crm_privacy.ports import DataSubjects, ServiceDown
from crm_privacy.usecases import jobs
from crmkit import logs
from crmkit.db import Database
from crmkit.privacy import compact, suppression_hashes
from crmkit.scheduler import PeriodicWorker

log = logs.get("crm_privacy.jobs")


def run_due(db: Database, subjects: DataSubjects, key: bytes, now: datetime,
            clock: Callable[[], datetime] | None = None) -> int:
    """Advance every due job; returns how many were claimed."""
    clock = clock or (lambda: now)
    with db.unit_of_work() as uow:
        expired = store.expire_exports(uow.session, now)
        uow.commit()
    if expired:
        log.info("exports expired", extra={"fields": {"count": expired}})
    with db.read() as session:
        due = store.due(session, now)
    claimed = 0
    for job_id in due:
        with db.unit_of_work() as uow:
            mine = store.claim(uow.session, job_id, now, rules.LEASE)
            uow.commit()
        if mine:
            claimed += 1
            advance(db, subjects, key, job_id, clock)
    return claimed


def advance(db: Database, subjects: DataSubjects, key: bytes, job_id: str, clock: Callable[[], datetime]) -> None:
    with db.read() as session:
        job = store.load_job(session, job_id)
        steps = store.steps_of(session, job_id) if job is not None else []
    if job is None or job.status == "completed":
        return
    subject, hashes = job.subject, []
    failed = False
    if not job.resolved:
        try:
            resolved = subjects.resolve(job.subject)
        except ServiceDown as exc:
            _failed(db, job.kind, job_id, rules.RESOLVE, str(exc), clock)
            with db.unit_of_work() as uow:
                jobs.next_round(uow, job_id=job_id, now=clock())
                uow.commit()
            return  # nothing can be asked before the person is known
        with db.unit_of_work() as uow:
            hashes = jobs.resolved(uow, job_id=job_id, subject=resolved, key=key, now=clock())
            uow.commit()
        with db.read() as session:
            reloaded = store.load_job(session, job_id)
        assert reloaded is not None
        subject = reloaded.subject
    else:
        hashes = suppression_hashes(key, subject.emails, subject.phones)
    for step in steps:
        if step.service == rules.RESOLVE or step.status == "done":
            continue
        answer: Message
        try:
            if job.kind == rules.EXPORT:
                part = subjects.export(step.service, subject, job_id)
                answer, records = part, int(part.records)
            else:
                confirmation = subjects.erase(step.service, subject, job_id, hashes)
                answer, records = confirmation, sum(int(c.rows) for c in confirmation.counts)
        except ServiceDown as exc:
            failed = True
            _failed(db, job.kind, job_id, step.service, str(exc), clock)
            continue
        with db.unit_of_work() as uow:
            jobs.step_done(uow, job_id=job_id, service=step.service, answer=answer, records=records, now=clock())
            uow.commit()
    if not failed and job.kind == rules.ERASURE:
        # The person's identifiers were in this file too (the job, exports about them): gone, and
        # the file compacted, before the receipt says the erasure is complete.
        with db.unit_of_work() as uow:
            jobs.forget_person(uow, job_id=job_id)
            uow.commit()
        compact(db)
    with db.unit_of_work() as uow:
        if failed:
            jobs.next_round(uow, job_id=job_id, now=clock())
        else:
            jobs.complete(uow, job_id=job_id, now=clock())
        uow.commit()
    if not failed:
        metrics.JOBS_COMPLETED.labels(job.kind).inc()
        log.info("privacy job completed", extra={"fields": {"job_id": job_id, "kind": job.kind}})


def _failed(db: Database, kind: str, job_id: str, service: str, reason: str, clock: Callable[[], datetime]) -> None:
    metrics.STEP_FAILURES.labels(kind, service).inc()
    log.warning("privacy step failed", extra={"fields": {"job_id": job_id, "service": service, "reason": reason}})
    with db.unit_of_work() as uow:
        jobs.step_failed(uow, job_id=job_id, service=service, reason=reason, now=clock())
        uow.commit()


def worker(db: Database, subjects: DataSubjects, key: bytes, clock: Callable[[], datetime],
           interval: float) -> PeriodicWorker:
    return PeriodicWorker("privacy-jobs", lambda now: run_due(db, subjects, key, now, clock), clock, interval)
