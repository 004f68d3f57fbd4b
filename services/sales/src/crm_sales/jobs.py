"""The scheduler: due jobs in a table, claimed (pending → fired) in the same transaction as
what they cause. Two replicas, a crash after commit, or a restart therefore never fire a job
twice, and a crash before commit leaves it pending for the next tick."""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from crm_sales import store
from crm_sales.tables import scheduled_jobs
from crmkit import logs
from crmkit.db import Database, UnitOfWork

log = logs.get("crm_sales.scheduler")


@dataclass(frozen=True)
class Job:
    seq: int
    kind: str
    ref_id: str
    due_at: datetime
    payload: dict[str, Any]


JobHandler = Callable[[UnitOfWork, Job, datetime], None]


# Built once and run with parameters: new leads and stage changes schedule jobs on every call,
# and building the statements per call cost more than the SQL they run.
_FIND = select(scheduled_jobs.c.seq).where(scheduled_jobs.c.dedupe_key == bindparam("key"))
_INSERT = insert(scheduled_jobs)


def schedule(session: Session, kind: str, dedupe_key: str, due_at: datetime, ref_id: str,
             payload: Mapping[str, Any] | None = None) -> bool:
    """Add a job unless one with this key exists; True when added."""
    if session.execute(_FIND, {"key": dedupe_key}).first():
        return False
    session.execute(_INSERT, {"kind": kind, "dedupe_key": dedupe_key, "due_at": due_at, "status": "pending",
                              "ref_id": ref_id, "payload": dict(payload or {}), "fired_at": None})
    return True


def cancel(session: Session, kind: str, ref_id: str) -> None:
    session.execute(update(scheduled_jobs).where(
        scheduled_jobs.c.kind == kind, scheduled_jobs.c.ref_id == ref_id, scheduled_jobs.c.status == "pending",
    ).values(status="skipped"))


def due(session: Session, now: datetime, limit: int) -> list[Job]:
    rows = session.execute(
        select(scheduled_jobs.c.seq, scheduled_jobs.c.kind, scheduled_jobs.c.ref_id, scheduled_jobs.c.due_at,
               scheduled_jobs.c.payload)
        .where(scheduled_jobs.c.status == "pending", scheduled_jobs.c.due_at <= now)
        .order_by(scheduled_jobs.c.due_at, scheduled_jobs.c.seq).limit(limit)
    ).all()
    return [Job(r.seq, r.kind, r.ref_id, store.aware(r.due_at), dict(r.payload)) for r in rows]  # type: ignore[arg-type]


def run_due(db: Database, handlers: Mapping[str, JobHandler], now: datetime, limit: int = 200) -> int:
    """Fire every job due at `now`; returns how many took effect. A failing job stays pending
    (its transaction rolls back) and is retried on the next tick."""
    with db.read() as session:
        jobs = due(session, now, limit)
    fired = 0
    for job in jobs:
        try:
            with db.unit_of_work() as uow:
                claimed = uow.session.execute(
                    update(scheduled_jobs)
                    .where(scheduled_jobs.c.seq == job.seq, scheduled_jobs.c.status == "pending")
                    .values(status="fired", fired_at=now)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another replica fired it
                handler = handlers.get(job.kind)
                if handler is not None:
                    handler(uow, job, now)
                uow.commit()
                fired += 1
        except Exception:
            log.exception("scheduled job %s (%s) failed; it stays pending", job.seq, job.kind)
    return fired


class SchedulerWorker:
    """A thread that runs due jobs every `interval` seconds until stopped."""

    def __init__(self, db: Database, handlers: Mapping[str, JobHandler], clock: Callable[[], datetime],
                 interval: float) -> None:
        self.db, self.handlers, self.clock, self.interval = db, handlers, clock, interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sales-scheduler", daemon=True)
        self.ticks = 0  # completed runs, so tests and health checks can wait for one

    def start(self) -> SchedulerWorker:
        self._thread.start()
        return self

    def tick(self) -> None:
        """Run now rather than at the next interval (tests and operators)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                run_due(self.db, self.handlers, self.clock())
            except Exception:
                log.exception("scheduler tick failed")
            self.ticks += 1
            self._wake.wait(self.interval)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
