"""Due work in the `scheduled_jobs` table. Use cases schedule a job in their own transaction;
the scheduler (crm_sales.jobs) claims it (pending → fired) in the transaction that acts on it, so
two replicas, a crash after commit, or a restart never fire a job twice, and a crash before
commit leaves it pending for the next tick."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from crm_sales.store import changed
from crm_sales.tables import scheduled_jobs as t
from crmkit.records import aware

# The kinds of job; crm_sales.jobs maps each to what it does.
LEAD_RESPONSE = "lead_response"        # the owner's response deadline lapsed
LEAD_RESCORE = "lead_rescore"          # an inactivity rule changes the score now
STAGE_STALL = "stage_stall"            # too long in a stage: a follow-up task
QUOTE_FOLLOW_UP = "quote_follow_up"    # days after a quote was sent: a follow-up task
TASK_REMINDER = "task_reminder"        # a task's reminder time


@dataclass(frozen=True)
class Job:
    seq: int
    kind: str
    ref_id: str
    due_at: datetime
    payload: dict[str, Any]


# New leads and stage changes schedule jobs on every call.
_FIND = select(t.c.seq).where(t.c.dedupe_key == bindparam("key"))
_INSERT = insert(t)
_CANCEL = update(t).where(t.c.kind == bindparam("job_kind"), t.c.ref_id == bindparam("ref"),
                          t.c.status == "pending").values(status="skipped")
_DUE = (select(t.c.seq, t.c.kind, t.c.ref_id, t.c.due_at, t.c.payload)
        .where(t.c.status == "pending", t.c.due_at <= bindparam("now"))
        .order_by(t.c.due_at, t.c.seq).limit(bindparam("limit")))
_CLAIM = update(t).where(t.c.seq == bindparam("job_seq"), t.c.status == "pending").values(
    status="fired", fired_at=bindparam("at"))


def schedule(session: Session, kind: str, dedupe_key: str, due_at: datetime, ref_id: str,
             payload: Mapping[str, Any] | None = None) -> bool:
    """Add a job unless one with this key exists; True when added."""
    if session.execute(_FIND, {"key": dedupe_key}).first():
        return False
    session.execute(_INSERT, {"kind": kind, "dedupe_key": dedupe_key, "due_at": due_at, "status": "pending",
                              "ref_id": ref_id, "payload": dict(payload or {}), "fired_at": None})
    return True


def cancel(session: Session, kind: str, ref_id: str) -> None:
    session.execute(_CANCEL, {"job_kind": kind, "ref": ref_id})


def due(session: Session, now: datetime, limit: int) -> list[Job]:
    rows = session.execute(_DUE, {"now": now, "limit": limit}).all()
    return [Job(r.seq, r.kind, r.ref_id, aware(r.due_at), dict(r.payload)) for r in rows]


def claim(session: Session, job: Job, now: datetime) -> bool:
    """Mark the job fired; False when another replica fired it first."""
    return changed(session, _CLAIM, {"job_seq": job.seq, "at": now}) == 1
