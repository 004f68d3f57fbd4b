"""The scheduler: what marketing owes other services, delivered with an idempotency key per call
and retried with backoff while they are away (usecases/consent.py, usecases/delivery.py):

- consent withdrawals (unsubscribes) to contacts;
- form submissions: the contact of the email (found, or created when the consent box was ticked),
  the consent, then the lead in sales;
- leads of marketing-qualified contacts to sales.

Each job's outcome is its own transaction, opened here after the calls; a crash between a call
and its record repeats the call with the same key, which changes nothing twice."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm.marketing.v1.marketing_pb2 import Form, FormSubmission
from crm_marketing.metrics import CONSENT_JOBS, DELIVERIES, DELIVERY_BACKLOG
from crm_marketing.ports import (
    ContactGone,
    ContactRefused,
    ContactsPort,
    ContactsUnavailable,
    LeadRefused,
    SalesPort,
)
from crm_marketing.store import forms as form_store
from crm_marketing.store import sending as send_store
from crm_marketing.usecases import consent, delivery
from crmkit import logs
from crmkit.db import Database
from crmkit.scheduler import PeriodicWorker

log = logs.get("crm_marketing.jobs")
CONSENT_BATCH = 100
DELIVERY_BATCH = 50


def record_consents(db: Database, contacts: ContactsPort | None, now: datetime, limit: int = CONSENT_BATCH) -> int:
    """Hand contacts the consent decisions owed; returns how many it took."""
    if contacts is None:
        return 0
    with db.read() as session:
        jobs = consent.due(session, now=now, limit=limit)
    done = 0
    for job in jobs:
        note, ok = "", True
        try:
            contacts.record_consent(job.contact_id, consent.consent_of(job), key=job.key)
        except ContactGone:
            note = "the contact is gone from contacts"
        except ContactRefused as exc:  # retrying cannot help: ended, the refusal kept on the job
            note = f"refused by contacts: {exc}"
            log.warning("consent job %s refused by contacts: %s", job.seq, exc)
        except (ContactsUnavailable, Exception) as exc:  # noqa: BLE001 - any failure is retried later
            ok, note = False, f"{type(exc).__name__}: {exc}"
        with db.unit_of_work() as uow:
            if ok:
                consent.finished(uow, job=job, now=now, note=note)
            else:
                consent.failed(uow, job=job, now=now, error=note)
            uow.commit()
        done += ok
    with db.read() as session:
        CONSENT_JOBS.set(send_store.open_consent_jobs(session))
    return done


class Gone(Exception):
    """The contact we had for a submission is gone from contacts: look its email up again."""


def _deliver(submission: FormSubmission, form: Form | None, contacts: ContactsPort,
             sales: SalesPort) -> tuple[str, str]:
    """(contact id, lead id) once every call of the submission succeeded."""
    keys = delivery.keys(submission)
    email = submission.values.get("email", "")
    contact_id = submission.contact_id
    if email and not contact_id:
        contact_id = contacts.find_by_email(email) or ""
    if submission.consent_given:
        if not contact_id:
            contact_id = contacts.create_contact(delivery.contact_of_submission(submission), key=keys["contact"])
        try:
            contacts.record_consent(contact_id, delivery.consent_of_submission(submission), key=keys["consent"])
        except ContactGone:
            raise Gone(contact_id) from None
    lead = sales.capture_lead(delivery.lead_of_submission(submission, form), form_id=submission.form_id,
                              key=keys["lead"])
    return contact_id, lead.id


def deliver_forms(db: Database, contacts: ContactsPort | None, sales: SalesPort | None, now: datetime,
                  limit: int = DELIVERY_BATCH) -> int:
    """Deliver the submissions that are due; returns how many reached sales."""
    if contacts is None or sales is None:
        return 0  # they wait, stored, until this process can reach both
    with db.read() as session:
        due = delivery.due_submissions(session, now=now, limit=limit)
    done = 0
    for submission, form in due:
        error, permanent, forget = "", False, False
        try:
            contact_id, lead_id = _deliver(submission, form, contacts, sales)
        except (ContactRefused, LeadRefused) as exc:
            error, permanent = f"{type(exc).__name__}: {exc}", True
        except Gone:
            error, forget = "the contact is gone from contacts; looking its email up again", True
        except Exception as exc:  # noqa: BLE001 - away, or anything else: retried later
            error = f"{type(exc).__name__}: {exc}"
        with db.unit_of_work() as uow:
            if error:
                delivery.failed(uow, submission_id=submission.id, now=now, error=error, permanent=permanent,
                                forget_contact=forget)
            else:
                delivery.delivered(uow, submission_id=submission.id, contact_id=contact_id, lead_id=lead_id, now=now)
            uow.commit()
        outcome = "failed" if permanent else "retry" if error else "delivered"
        DELIVERIES.labels("form", outcome).inc()
        if permanent:
            log.warning("form submission %s refused: %s", submission.id, error)
        done += not error
    with db.read() as session:
        DELIVERY_BACKLOG.labels("form").set(form_store.pending_submissions(session))
    return done


def deliver_handoffs(db: Database, sales: SalesPort | None, now: datetime, limit: int = DELIVERY_BATCH) -> int:
    """Capture the leads of qualified contacts that are due; returns how many sales took."""
    if sales is None:
        return 0
    with db.read() as session:
        due = delivery.due_handoffs(session, now=now, limit=limit)
    done = 0
    for handoff in due:
        error, permanent, lead_id = "", False, ""
        with db.read() as session:
            existing = delivery.lead_exists(session, handoff)
        if existing:  # a form of the same person reached sales first: one lead is enough
            with db.unit_of_work() as uow:
                delivery.already_lead(uow, handoff=handoff, lead_id=existing, now=now)
                uow.commit()
            continue
        try:
            lead_id = sales.capture_lead(delivery.lead_of_handoff(handoff), form_id="", key=handoff.key).id
        except LeadRefused as exc:
            error, permanent = f"LeadRefused: {exc}", True
        except Exception as exc:  # noqa: BLE001 - retried later
            error = f"{type(exc).__name__}: {exc}"
        with db.unit_of_work() as uow:
            if error:
                delivery.handoff_failed(uow, handoff=handoff, now=now, error=error, permanent=permanent)
            else:
                delivery.handed_over(uow, handoff=handoff, lead_id=lead_id, now=now)
            uow.commit()
        DELIVERIES.labels("mql", "failed" if permanent else "retry" if error else "delivered").inc()
        done += not error
    return done


def scheduler(db: Database, contacts: ContactsPort | None, clock: Callable[[], datetime], interval: float,
              sales: SalesPort | None = None) -> PeriodicWorker:
    def tick(now: datetime) -> None:
        record_consents(db, contacts, now)
        deliver_forms(db, contacts, sales, now)
        deliver_handoffs(db, sales, now)

    return PeriodicWorker("marketing-scheduler", tick, clock, interval)
