"""Lead-capture forms: define them (shared records, like templates), serve them to the public
with a signed token and a honeypot, and take submissions: every problem named at once, limited
per visitor address and per email, stored with the consent wording shown before the answer, and
delivered to contacts and sales afterwards by the delivery job (usecases/delivery.py)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import (
    Form,
    FormSubmission,
    LocalizedText,
    PublicForm,
    SubmitFormRequest,
    SubmitFormResponse,
)
from crm_marketing.events import MARKETING, emit
from crm_marketing.metrics import FORM_SUBMISSIONS
from crm_marketing.rules import access
from crm_marketing.rules import forms as rules
from crm_marketing.rules.templates import normalize_language
from crm_marketing.store import forms as store
from crm_marketing.store import projection
from crm_marketing.usecases import automation_settings, campaigns, engagement
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from crmkit.fields import patchable
from crmkit.records import bump, check_version, new_id, stamp_new

UPDATABLE = patchable(Form)
_LISTS = ("fields", "embed_origins")
THANK_YOU = LocalizedText(zh="感谢您的提交！我们会尽快与您联系。", en="Thank you! We will be in touch soon.")
FORM_SUBMITTED = "crm.marketing.form.submitted"
STATUSES = ("pending", "delivered", "failed", "spam")
SAME_SUBMISSION = timedelta(minutes=10)  # a resent identical form (a reload, a double click) is the first one


def _check_campaign(session: Session, principal: Principal, form: Form) -> None:
    if form.campaign_id:
        campaigns.get(session, principal=principal, campaign_id=form.campaign_id, field="campaign_id")


def _with_counts(session: Session, items: list[Form]) -> list[Form]:
    counts = store.submission_counts(session, [f.id for f in items])
    for form in items:
        form.submissions = counts.get(form.id, 0)
    return items


def get(session: Session, *, principal: Principal, form_id: str) -> Form:
    access.require_reader(principal)
    form = store.load_form(session, form_id) if form_id else None
    if form is None:
        raise NotFound(f"form {form_id} not found", field="id")
    return _with_counts(session, [form])[0]


def list_forms(session: Session, *, principal: Principal, status: str, page_size: int,
               page_token: str) -> tuple[list[Form], str]:
    access.require_reader(principal)
    if status and status not in rules.STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(rules.STATUSES)}", field="status")
    items, token = store.list_forms(session, status, page_size, page_token)
    return _with_counts(session, items), token


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, form: Form) -> Form:
    access.require_writer(principal)
    rules.check_form(form)
    _check_campaign(uow.session, principal, form)
    form.id = new_id()
    form.created_by = principal.user_id
    stamp_new(form, now)
    store.save_form(uow.session, form, new=True)
    emit(uow, principal, MARKETING.FORM_CREATED, form.id, form.version, ev.FormChanged(form=form), now)
    return form


def _for_write(uow: UnitOfWork, principal: Principal, form_id: str, expected_version: int) -> Form:
    access.require_writer(principal)
    form = store.load_form(uow.session, form_id, for_update=True) if form_id else None
    if form is None:
        raise NotFound(f"form {form_id} not found", field="id")
    check_version(form.version, expected_version)
    return form


def update(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: Form, paths: Sequence[str],
           expected_version: int) -> Form:
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument(f"{path} cannot be changed here", field=path)
    form = _for_write(uow, principal, patch.id, expected_version)
    for path in paths:
        current, given = getattr(form, path), getattr(patch, path)
        if path in _LISTS:
            del current[:]
            current.extend(given)
        elif hasattr(current, "CopyFrom"):
            current.CopyFrom(given)
        else:
            setattr(form, path, given)
    rules.check_form(form)
    if "campaign_id" in paths:
        _check_campaign(uow.session, principal, form)
    bump(form, now)
    store.save_form(uow.session, form, new=False)
    emit(uow, principal, MARKETING.FORM_UPDATED, form.id, form.version, ev.FormChanged(form=form), now)
    return _with_counts(uow.session, [form])[0]


def delete(uow: UnitOfWork, *, principal: Principal, now: datetime, form_id: str, expected_version: int) -> None:
    form = _for_write(uow, principal, form_id, expected_version)
    if store.has_submissions(uow.session, form.id):
        raise FailedPrecondition("this form has submissions: close it (status closed) instead", field="id")
    store.delete_form(uow.session, form.id)
    emit(uow, principal, MARKETING.FORM_DELETED, form.id, form.version + 1, ev.FormChanged(form=form), now)


# -- the public side


def _live(session: Session, form_id: str) -> Form:
    form = store.load_form(session, form_id) if form_id else None
    if form is None or form.status != "active":
        raise NotFound("this form does not exist or no longer takes submissions", field="form_id")
    return form


def public_form(session: Session, *, now: datetime, key: bytes, form_id: str) -> PublicForm:
    form = _live(session, form_id)
    shown = PublicForm(form_id=form.id, title=form.title, description=form.description, fields=form.fields,
                       submit_label=form.submit_label, default_language=form.default_language,
                       form_token=rules.sign_token(key, form.id, now), honeypot_field=rules.HONEYPOT,
                       embed_origins=form.embed_origins)
    if form.consent.enabled:
        shown.consent.CopyFrom(form.consent)
    return shown


def _cut(value: str, limit: int) -> str:
    return value.strip()[:limit]


def submit(uow: UnitOfWork, *, principal: Principal, now: datetime, key: bytes,
           request: SubmitFormRequest) -> SubmitFormResponse:
    """Store the submission (pending delivery) and answer; a bot's (the honeypot filled) is kept
    as spam and answered the same, so it learns nothing."""
    session = uow.session
    form = _live(session, request.form_id)
    settings = automation_settings.current(session)
    ip = _cut(request.visitor_ip, 64)
    thank_you = form.thank_you if (form.thank_you.zh or form.thank_you.en) else THANK_YOU
    if ip and store.recent_by_ip(session, ip, now - timedelta(hours=1)) >= settings.form_limit_per_address:
        FORM_SUBMISSIONS.labels("limited").inc()
        raise ResourceExhausted("too many submissions from your address; please try again later",
                                field="visitor_ip")
    submission = FormSubmission(
        id=new_id(), form_id=form.id, campaign_id=form.campaign_id, visitor_ip=ip,
        page_url=_cut(request.page_url, 2000), referrer=_cut(request.referrer, 2000),
        user_agent=_cut(request.user_agent, 500), visitor_id=_cut(request.visitor_id, 64),
        language=normalize_language(request.language or form.default_language))
    for name in ("source", "medium", "campaign", "term", "content"):
        setattr(submission.utm, name, _cut(getattr(request.utm, name), 200))
    submission.received_at.FromDatetime(now)
    if request.honeypot.strip():
        submission.status = "spam"
        submission.values.update({k: v[:1000] for k, v in list(request.values.items())[:50]})
        store.insert_submission(session, submission, None)
        FORM_SUBMISSIONS.labels("spam").inc()
        return SubmitFormResponse(submission_id=submission.id, thank_you=thank_you, status="accepted")

    checked = rules.check_submission(form, request.values, request.consent, submission.language)
    errors = list(checked.errors)
    problem = rules.check_token(key, request.form_token, form.id, now, settings.form_min_seconds)
    if problem:
        errors.insert(0, ("form_token", problem))
    if errors:
        FORM_SUBMISSIONS.labels("invalid").inc()
        raise InvalidArgument("; ".join(f"{f}: {m}" for f, m in errors[:5]), field=errors[0][0],
                              errors=[{"field": f, "message": m} for f, m in errors])
    email = checked.values.get("email", "")
    if email:
        earlier = _same(session, form.id, email, checked.values, form.consent.enabled and request.consent, now)
        if earlier is not None:
            return SubmitFormResponse(submission_id=earlier.id, thank_you=thank_you, status="accepted")
        if store.recent_by_email(session, email, now - timedelta(days=1)) >= settings.form_limit_per_email:
            FORM_SUBMISSIONS.labels("limited").inc()
            raise ResourceExhausted("this email address sent this too often today; we have it already",
                                    field="values.email")
    submission.values.update(checked.values)
    if form.consent.enabled and request.consent:
        submission.consent_given = True
        submission.consent_text = rules.text_in(form.consent.text, submission.language)
        submission.consent_purpose = form.consent.purpose
    submission.status = "pending"
    known = projection.contact_by_email(session, email) if email else None
    submission.contact_id = known or ""
    store.insert_submission(session, submission, now)
    event = ev.FormSubmitted(submission_id=submission.id, form_id=form.id, campaign_id=form.campaign_id,
                             utm=submission.utm, email=email, contact_id=submission.contact_id,
                             consent_given=submission.consent_given, channel="web_form",
                             page_url=submission.page_url)
    event.at.FromDatetime(now)
    emit(uow, principal, MARKETING.FORM_SUBMITTED, submission.id, 1, event, now)
    if known and submission.visitor_id:  # the page's visitor is this contact: its earlier views count now
        engagement.identified(uow, now=now, contact_id=known, visitor_id=submission.visitor_id)
    engagement.record(uow, now=now, kind=FORM_SUBMITTED, contact_id=submission.contact_id,
                      visitor_id=submission.visitor_id, url=submission.page_url, campaign_id=form.campaign_id,
                      ref=submission.id)
    FORM_SUBMISSIONS.labels("accepted").inc()
    return SubmitFormResponse(submission_id=submission.id, thank_you=thank_you, status="accepted")


def _same(session: Session, form_id: str, email: str, values: dict[str, str], consent: bool,
          now: datetime) -> FormSubmission | None:
    for earlier in store.recent_by_email_rows(session, email, now - SAME_SUBMISSION):
        if earlier.form_id == form_id and dict(earlier.values) == values and earlier.consent_given == consent:
            return earlier
    return None


# -- submissions, for the marketers


def list_submissions(session: Session, *, principal: Principal, form_id: str, status: str, page_size: int,
                     page_token: str) -> tuple[list[FormSubmission], str]:
    get(session, principal=principal, form_id=form_id)
    if status and status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", field="status")
    return store.list_submissions(session, form_id, status, page_size, page_token)


def retry(uow: UnitOfWork, *, principal: Principal, now: datetime, submission_id: str) -> FormSubmission:
    """A failed delivery (sales or contacts refused it) goes back to pending, due now."""
    access.require_writer(principal)
    submission = store.load_submission(uow.session, submission_id, for_update=True) if submission_id else None
    if submission is None:
        raise NotFound(f"submission {submission_id} not found", field="id")
    if submission.status != "failed":
        raise FailedPrecondition(f"the submission is {submission.status}; only a failed one is retried", field="id")
    submission.status = "pending"
    store.save_submission(uow.session, submission, now)
    return submission
