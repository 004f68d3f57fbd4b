"""What marketing owes the other services after a form submission or a qualified contact, as
outbox-style jobs: stored in the transaction that acknowledged them, delivered afterwards by the
scheduler (jobs/delivery.py) with an idempotency key per call, retried with backoff while a
service is away, marked failed (and listed) when one refuses for good.

A submission's delivery: the contact of its email (found, or created when the consent box was
ticked: a consent is recorded on a contact), the consent (RecordConsent, source web_form:<form>),
then the lead (CaptureLead, with the campaign, the UTM parameters and the form). The hand-off
of a marketing-qualified contact is one CaptureLead."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import Consent, Contact, Email, Phone
from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import Form, FormSubmission
from crm.sales.v1.sales_pb2 import Lead
from crm_marketing.events import MARKETING, emit
from crm_marketing.rules import forms as form_rules
from crm_marketing.store import engagement as engagement_store
from crm_marketing.store import forms as form_store
from crm_marketing.usecases import engagement
from crmkit.auth import SYSTEM
from crmkit.db import UnitOfWork

MAX_BACKOFF = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... up to an hour."""
    return min(timedelta(seconds=5 * 2 ** min(attempts, 12)), MAX_BACKOFF)


# -- form submissions


def due_submissions(session: Session, *, now: datetime, limit: int) -> list[tuple[FormSubmission, Form | None]]:
    due = form_store.due_submissions(session, now, limit)
    forms = {s.form_id: form_store.load_form(session, s.form_id) for s in due}
    return [(s, forms[s.form_id]) for s in due]


def contact_of_submission(submission: FormSubmission) -> Contact:
    """The contact created for a submission whose consent box was ticked and whose email
    contacts does not know. Its source (`website`) and stage (`lead`) are what marketing means:
    marketing keeps no copy of the picklists, and contacts settles a key an administrator retired
    on a service's create (the stage: the first active one; the source: blank; the key kept as
    the tag `source:website`) instead of refusing it, so the submission is never lost for it.
    Not the industry the visitor typed: the lead carries it, mapped to a key or kept as typed by
    sales (crm_sales.rules.leads.keep_typed)."""
    values = submission.values
    contact = Contact(name=values.get("name") or values.get("email", "").split("@")[0], title=values.get("title", ""),
                      company_name=values.get("company", ""), source="website", lifecycle_stage="lead",
                      language=submission.language)
    if values.get("email"):
        contact.emails.append(Email(address=values["email"], kind="work"))
    if values.get("phone"):
        contact.phones.append(Phone(number=values["phone"], raw=values["phone"], kind="mobile"))
    return contact


def consent_of_submission(submission: FormSubmission) -> Consent:
    return Consent(purpose=submission.consent_purpose, granted=True, lawful_basis="consent",
                   source=f"web_form:{submission.form_id}", evidence=form_rules.consent_evidence(submission))


def lead_of_submission(submission: FormSubmission, form: Form | None) -> Lead:
    return form_rules.lead_of(form or Form(id=submission.form_id), submission,
                              form_name=form.name if form else submission.form_id)


def keys(submission: FormSubmission) -> dict[str, str]:
    """The idempotency key of each call a submission makes: a retry changes nothing twice."""
    base = f"marketing-form-{submission.id}"
    return {"contact": f"{base}-contact", "consent": f"{base}-consent", "lead": f"{base}-lead"}


def delivered(uow: UnitOfWork, *, submission_id: str, contact_id: str, lead_id: str, now: datetime) -> None:
    submission = form_store.load_submission(uow.session, submission_id, for_update=True)
    if submission is None or submission.status != "pending":
        return  # another replica finished it meanwhile
    submission.status = "delivered"
    submission.contact_id = contact_id
    submission.lead_id = lead_id
    submission.attempts += 1
    submission.last_error = ""
    submission.delivered_at.FromDatetime(now)
    form_store.save_submission(uow.session, submission, None)
    if contact_id:  # the lead first: the touches this ties to the contact must not qualify it for a second
        engagement_store.note_lead(uow.session, contact_id, lead_id, now)
        engagement.identified(uow, now=now, contact_id=contact_id, visitor_id=submission.visitor_id,
                              ref=submission.id)
    event = ev.LeadHandedOver(contact_id=contact_id, lead_id=lead_id, campaign_id=submission.campaign_id,
                              source="web_form", form_id=submission.form_id, submission_id=submission.id,
                              utm=submission.utm, channel="web_form")
    event.at.FromDatetime(now)
    emit(uow, SYSTEM, MARKETING.LEAD_HANDED_OVER, lead_id or submission.id, 1, event, now)


def failed(uow: UnitOfWork, *, submission_id: str, now: datetime, error: str, permanent: bool,
           forget_contact: bool = False) -> None:
    submission = form_store.load_submission(uow.session, submission_id, for_update=True)
    if submission is None or submission.status != "pending":
        return
    submission.attempts += 1
    submission.last_error = error[:2000]
    if forget_contact:  # contacts no longer has it: look the email up again next time
        submission.contact_id = ""
    if permanent:
        submission.status = "failed"
        form_store.save_submission(uow.session, submission, None)
    else:
        form_store.save_submission(uow.session, submission, now + backoff(submission.attempts - 1))


# -- hand-offs of qualified contacts


def due_handoffs(session: Session, *, now: datetime, limit: int) -> list[Row[Any]]:
    return engagement_store.due_handoffs(session, now, limit)


def lead_exists(session: Session, handoff: Row[Any]) -> str:
    """The lead sales already has for the hand-off's contact (a form's delivered since), or ""."""
    row = engagement_store.engagement_of(session, handoff.contact_id)
    return str(row.lead_id) if row is not None and row.lead_id else ""


def already_lead(uow: UnitOfWork, *, handoff: Row[Any], lead_id: str, now: datetime) -> None:
    if engagement_store.finish_handoff(uow.session, handoff.seq, status="already_lead", lead_id=lead_id, now=now):
        engagement_store.note_lead(uow.session, handoff.contact_id, lead_id, now, status="already_lead")


def handed_over(uow: UnitOfWork, *, handoff: Row[Any], lead_id: str, now: datetime) -> None:
    if not engagement_store.finish_handoff(uow.session, handoff.seq, status="delivered", lead_id=lead_id, now=now):
        return
    engagement_store.note_lead(uow.session, handoff.contact_id, lead_id, now, status="delivered")
    event = ev.LeadHandedOver(contact_id=handoff.contact_id, lead_id=lead_id, campaign_id=handoff.campaign_id,
                              source="marketing_qualified", score=handoff.score, channel="email")
    event.at.FromDatetime(now)
    emit(uow, SYSTEM, MARKETING.LEAD_HANDED_OVER, lead_id, 1, event, now)


def handoff_failed(uow: UnitOfWork, *, handoff: Row[Any], now: datetime, error: str, permanent: bool) -> None:
    if permanent:
        if engagement_store.finish_handoff(uow.session, handoff.seq, status="failed", lead_id="", now=now,
                                           error=error):
            engagement_store.note_lead(uow.session, handoff.contact_id, "", now, status="failed")
        return
    engagement_store.retry_handoff(uow.session, handoff.seq, now + backoff(handoff.attempts), error)


def lead_of_handoff(handoff: Row[Any]) -> Lead:
    return Lead.FromString(handoff.lead)
