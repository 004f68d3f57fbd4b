"""Scheduled work: each tick of the scheduler (crmkit.scheduler.PeriodicWorker) fires the jobs that
are due, each in its own transaction that claims the job (store.jobs) and does what it causes,
so it takes effect exactly once. A failing job stays pending (its transaction rolls back) and is
retried on the next tick. The public pool's worker (`return_stale_leads`) scans for the leads
nobody followed up instead: there is no due row to schedule for "nothing happened"."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm_sales.store import jobs
from crm_sales.store.jobs import Job
from crm_sales.usecases import leads, pool, tasks
from crmkit import logs
from crmkit.db import Database, UnitOfWork

log = logs.get("crm_sales.jobs")

JobHandler = Callable[[UnitOfWork, Job, datetime], None]


def _lead_response(uow: UnitOfWork, job: Job, now: datetime) -> None:
    leads.response_lapsed(uow, now=now, lead_id=job.ref_id, owner_id=job.payload.get("owner_id"))


def _lead_rescore(uow: UnitOfWork, job: Job, now: datetime) -> None:
    leads.rescore_due(uow, now=now, lead_id=job.ref_id)


def _stage_stall(uow: UnitOfWork, job: Job, now: datetime) -> None:
    p = job.payload
    tasks.stage_stalled(uow, now=now, opportunity_id=job.ref_id, stage=p["stage"], visit=p["visit"],
                        rule_id=p["rule_id"], title=p["title"], kind=p.get("kind", ""))


def _quote_follow_up(uow: UnitOfWork, job: Job, now: datetime) -> None:
    p = job.payload
    tasks.quote_unanswered(uow, now=now, quote_id=job.ref_id, rule_id=p["rule_id"], title=p["title"],
                           kind=p.get("kind", ""))


def _task_reminder(uow: UnitOfWork, job: Job, now: datetime) -> None:
    tasks.task_reminder_due(uow, now=now, task_id=job.ref_id)


HANDLERS: dict[str, JobHandler] = {
    jobs.LEAD_RESPONSE: _lead_response,
    jobs.LEAD_RESCORE: _lead_rescore,
    jobs.STAGE_STALL: _stage_stall,
    jobs.QUOTE_FOLLOW_UP: _quote_follow_up,
    jobs.TASK_REMINDER: _task_reminder,
}


def return_stale_leads(db: Database, now: datetime, limit: int = 500) -> int:
    """The public pool's tick: every held lead its team's rule takes back goes to the pool, each in
    its own transaction that checks the rule again under the row lock, so a lead returns once
    whatever the restarts and replicas; returns how many went back."""
    with db.read() as session:
        stale = pool.stale_leads(session, now=now, limit=limit)
    returned = 0
    for lead_id in stale:
        try:
            with db.unit_of_work() as uow:
                if pool.return_if_stale(uow, now=now, lead_id=lead_id):
                    uow.commit()
                    returned += 1
        except Exception:
            log.exception("returning lead %s to the pool failed; the next tick tries again", lead_id)
    if returned:
        log.info("%d leads returned to their team's pool", returned)
    return returned


def run_due(db: Database, now: datetime, limit: int = 200) -> int:
    """Fire every job due at `now`; returns how many took effect."""
    with db.read() as session:
        due = jobs.due(session, now, limit)
    fired = 0
    for job in due:
        try:
            with db.unit_of_work() as uow:
                if not jobs.claim(uow.session, job, now):
                    continue  # another replica fired it
                handler = HANDLERS.get(job.kind)
                if handler is not None:
                    handler(uow, job, now)
                uow.commit()
                fired += 1
        except Exception:
            log.exception("scheduled job %s (%s) failed; it stays pending", job.seq, job.kind)
    return fired
