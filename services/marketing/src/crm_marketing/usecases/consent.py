"""Consent decisions owed to contacts (an unsubscribe withdraws marketing consent there): the
jobs written with the unsubscribe are retried with backoff until contacts took them. The call
carries the job's idempotency key, so a retry after a lost answer records nothing twice."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import Consent
from crm_marketing.store import sending
from crmkit.db import UnitOfWork

MAX_BACKOFF = timedelta(hours=1)


def due(session: Session, *, now: datetime, limit: int) -> list[Row[Any]]:
    return sending.due_consent_jobs(session, now, limit)


def consent_of(job: Row[Any]) -> Consent:
    return Consent(purpose=job.purpose, granted=bool(job.granted), lawful_basis="consent", source=job.source,
                   evidence=job.evidence)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... up to an hour."""
    return min(timedelta(seconds=5 * 2 ** min(attempts, 12)), MAX_BACKOFF)


def finished(uow: UnitOfWork, *, job: Row[Any], now: datetime, note: str = "") -> None:
    sending.finish_consent_job(uow.session, job.seq, done_at=now, next_attempt_at=None, error=note)


def failed(uow: UnitOfWork, *, job: Row[Any], now: datetime, error: str) -> None:
    sending.finish_consent_job(uow.session, job.seq, done_at=None, next_attempt_at=now + backoff(job.attempts),
                               error=error)
