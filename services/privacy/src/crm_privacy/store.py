"""SQLAlchemy reads and writes of jobs, their steps and the suppression list."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from crm.privacy.v1 import privacy_pb2 as pb
from crm_privacy.tables import jobs, steps, suppressions
from crmkit.privacy import blob_contains
from crmkit.records import aware


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    status: str
    subject: pb.Subject
    resolved: bool
    data: bytes
    result: bytes | None
    archive: bytes | None


@dataclass(frozen=True)
class Step:
    service: str
    status: str
    attempts: int
    last_error: str
    records: int
    done_at: datetime | None
    answer: bytes | None


def insert_job(session: Session, *, job_id: str, kind: str, requested_by: str, now: datetime,
               subject: pb.Subject, data: bytes, services: Sequence[str]) -> None:
    session.execute(insert(jobs).values(
        id=job_id, kind=kind, status="pending", requested_by=requested_by, created_at=now, next_attempt_at=now,
        subject=subject.SerializeToString(), resolved=0, data=data))
    session.execute(insert(steps), [
        {"job_id": job_id, "service": name, "position": i, "status": "pending", "attempts": 0, "last_error": "",
         "records": 0} for i, name in enumerate(services)])


def load_job(session: Session, job_id: str) -> Job | None:
    row = session.execute(select(jobs).where(jobs.c.id == job_id)).first()
    if row is None:
        return None
    return Job(row.id, row.kind, row.status, pb.Subject.FromString(row.subject), bool(row.resolved), row.data,
               row.result, row.archive)


def steps_of(session: Session, job_id: str) -> list[Step]:
    rows = session.execute(select(steps).where(steps.c.job_id == job_id).order_by(steps.c.position))
    return [Step(r.service, r.status, r.attempts, r.last_error, r.records, aware(r.done_at), r.answer) for r in rows]


def due(session: Session, now: datetime, limit: int = 20) -> list[str]:
    rows = session.execute(select(jobs.c.id).where(jobs.c.next_attempt_at <= now)
                           .order_by(jobs.c.next_attempt_at).limit(limit))
    return [r.id for r in rows]


def claim(session: Session, job_id: str, now: datetime, lease: timedelta) -> bool:
    """Take the job for `lease` (compare-and-set on its due time): one worker at a time, and a
    worker that died gives it back when the lease runs out."""
    result = session.execute(update(jobs).where(and_(jobs.c.id == job_id, jobs.c.next_attempt_at <= now))
                             .values(next_attempt_at=now + lease, status="running"))
    return bool(getattr(result, "rowcount", 0))


def set_resolved(session: Session, job_id: str, subject: pb.Subject) -> None:
    session.execute(update(jobs).where(jobs.c.id == job_id).values(subject=subject.SerializeToString(), resolved=1))


def set_subject(session: Session, job_id: str, subject: pb.Subject) -> None:
    session.execute(update(jobs).where(jobs.c.id == job_id).values(subject=subject.SerializeToString()))


def set_data(session: Session, job_id: str, data: bytes) -> None:
    session.execute(update(jobs).where(jobs.c.id == job_id).values(data=data))


def record_step(session: Session, job_id: str, service: str, *, now: datetime, answer: bytes | None = None,
                records: int = 0, error: str = "") -> None:
    where = and_(steps.c.job_id == job_id, steps.c.service == service)
    if error:
        session.execute(update(steps).where(where).values(
            status="retrying", attempts=steps.c.attempts + 1, last_error=error))
    else:
        session.execute(update(steps).where(where).values(
            status="done", attempts=steps.c.attempts + 1, last_error="", records=records, done_at=now, answer=answer))


def reschedule(session: Session, job_id: str, at: datetime) -> None:
    session.execute(update(jobs).where(jobs.c.id == job_id).values(next_attempt_at=at))


def finish(session: Session, job_id: str, *, now: datetime, data: bytes, subject: pb.Subject,
           result: bytes, archive: bytes | None = None, expires_at: datetime | None = None) -> None:
    session.execute(update(jobs).where(jobs.c.id == job_id).values(
        status="completed", next_attempt_at=None, completed_at=now, data=data, subject=subject.SerializeToString(),
        result=result, archive=archive, expires_at=expires_at))


def drop_answers(session: Session, job_id: str) -> None:
    """An erasure's steps keep their confirmation; an export's parts (personal data) go."""
    session.execute(update(steps).where(steps.c.job_id == job_id).values(answer=None))


def expire_exports(session: Session, now: datetime) -> int:
    result = session.execute(update(jobs).where(and_(jobs.c.kind == "export", jobs.c.expires_at <= now,
                                                     jobs.c.status == "completed"))
                             .values(status="expired", result=None, archive=None,
                                     subject=pb.Subject().SerializeToString()))
    return int(getattr(result, "rowcount", 0) or 0)


def forget_exports(session: Session, needles: Sequence[bytes]) -> int:
    """Exports about an erased person: their documents go with the person."""
    if not needles:
        return 0
    about = or_(*(blob_contains(column, n) for n in needles for column in (jobs.c.subject, jobs.c.result)))
    result = session.execute(update(jobs).where(and_(jobs.c.kind == "export", about)).values(
        status="expired", result=None, archive=None, subject=pb.Subject().SerializeToString(), next_attempt_at=None))
    return int(getattr(result, "rowcount", 0) or 0)


def suppress(session: Session, hashes: Sequence[str], *, erasure_id: str, now: datetime) -> None:
    known = set(session.execute(select(suppressions.c.hash).where(suppressions.c.hash.in_(sorted(hashes))))
                .scalars())
    fresh = [h for h in sorted(set(hashes)) if h not in known]
    if fresh:
        session.execute(insert(suppressions), [{"hash": h, "erasure_id": erasure_id, "at": now} for h in fresh])


def suppressed_by(session: Session, erasure_id: str) -> int:
    return int(session.execute(select(func.count()).select_from(suppressions)
                               .where(suppressions.c.erasure_id == erasure_id)).scalar_one())


def list_suppressions(session: Session, after_seq: int, limit: int = 10_000) -> list[pb.Suppression]:
    rows = session.execute(select(suppressions.c.seq, suppressions.c.hash).where(suppressions.c.seq > after_seq)
                           .order_by(suppressions.c.seq).limit(limit))
    return [pb.Suppression(seq=r.seq, hash=r.hash) for r in rows]

