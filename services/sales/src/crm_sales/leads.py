"""Lead use cases: capture, scoring, assignment with response deadlines, status changes.
Conversion lives in conversion.py (it talks to contacts)."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import ImportLeadsResponse, ImportRowResult, Lead, LeadFilter, SalesSettings
from crm_sales import assignment, jobs, money, scoring, store, work
from crm_sales.common import SYSTEM, audit, bump, check_version, delegators, emit, settings, stamp_new, visible
from crm_sales.tables import leads
from crm_sales.visibility import check_assignable, require_manager, visible_clause
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

SOURCES = ("web_form", "import", "event", "campaign", "api", "referral", "other")
STATUSES = ("new", "working", "qualified", "disqualified", "nurturing", "converted")
TRANSITIONS = {
    "new": ("working", "qualified", "disqualified", "nurturing"),
    "working": ("qualified", "disqualified", "nurturing"),
    "qualified": ("working", "disqualified", "nurturing"),
    "nurturing": ("working", "qualified", "disqualified"),
    "disqualified": ("working",),
    "converted": (),
}
OPEN = ("new", "working")
RESPONDING = ("outbound_email", "call", "meeting")   # the owner acting on the lead
EDITABLE = ("name", "company", "title", "phone", "email", "industry", "province", "city", "region", "notes",
            "company_size", "budget", "currency_code", "campaign_id", "source")
CSV_FIELDS = ("name", "company", "title", "phone", "email", "industry", "province", "city", "region", "source",
              "campaign_id", "company_size", "budget", "currency_code", "notes")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize(lead: Lead) -> None:
    lead.name = lead.name.strip()
    lead.company = lead.company.strip()
    if not lead.name and not lead.company:
        raise InvalidArgument("a lead needs a name or a company", field="name")
    if len(lead.name) > 300 or len(lead.company) > 300:
        raise InvalidArgument("at most 300 characters", field="name" if len(lead.name) > 300 else "company")
    if lead.email:
        lead.email = lead.email.strip().lower()
        if not _EMAIL.match(lead.email):
            raise InvalidArgument(f"'{lead.email}' is not an email address", field="email")
    if lead.phone:
        raw = lead.phone.strip()
        try:
            parsed = phonenumbers.parse("+" + raw[2:] if raw.startswith("00") else raw, "CN")
        except phonenumbers.NumberParseException:
            raise InvalidArgument(f"'{raw}' is not a phone number", field="phone") from None
        if not phonenumbers.is_valid_number(parsed):
            raise InvalidArgument(f"'{raw}' is not a valid phone number", field="phone")
        lead.phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if lead.source and lead.source not in SOURCES:
        raise InvalidArgument(f"must be one of {', '.join(SOURCES)}", field="source")
    if lead.budget:
        lead.budget = str(money.cents(money.parse(lead.budget, "budget")))
        lead.currency_code = money.check_currency(lead.currency_code or "CNY", "currency_code")


# -- assignment

def _deadline_job(uow: UnitOfWork, lead: Lead) -> None:
    jobs.schedule(uow.session, "lead_response", f"lead_response:{lead.id}:{lead.assigned_at.ToJsonString()}",
                  store.dt(lead.response_due_at), lead.id, {"owner_id": lead.owner_id})


def _give(uow: UnitOfWork, lead: Lead, owner_id: str, team: str, rule_id: str, hours: int, now: datetime) -> None:
    lead.owner_id = owner_id
    lead.team = team or lead.team
    lead.assignment_rule_id = rule_id
    lead.assigned_at.FromDatetime(now)
    lead.response_due_at.FromDatetime(now + timedelta(hours=hours))
    lead.ClearField("first_response_at")
    _deadline_job(uow, lead)


def auto_assign(uow: UnitOfWork, lead: Lead, cfg: SalesSettings, now: datetime, exclude: Sequence[str] = ()) -> bool:
    """Apply the assignment rules; True when the lead got an owner."""
    if not cfg.assignment_rules:
        return False  # nothing can place it: skip reading reps and cursors
    session = uow.session
    reps = store.all_reps(session)
    # Open-lead counts only for the reps a least-load rule could pick: counting every owner's open
    # leads on each new lead grows with the table (and no rule may need them at all).
    loaded = {r.user_id for rule in cfg.assignment_rules if rule.strategy == "load"
              for r in assignment.candidates(rule, reps, exclude)}
    counts = store.open_lead_counts(session, loaded) if loaded else {}
    chosen = assignment.assign(lead, cfg.assignment_rules, reps, counts, store.cursors(session), exclude)
    if chosen is None:
        return False
    store.set_cursor(session, chosen.rule_id, chosen.owner_id)
    _give(uow, lead, chosen.owner_id, chosen.team, chosen.rule_id, chosen.response_hours, now)
    return True


def _rescore(uow: UnitOfWork, lead: Lead, cfg: SalesSettings, now: datetime) -> bool:
    changed = scoring.apply(lead, cfg.scoring_rules, now)
    decay = scoring.next_decay_at(lead, cfg.scoring_rules)
    if decay is not None and lead.status in (*OPEN, "qualified", "nurturing"):
        jobs.schedule(uow.session, "lead_rescore", f"lead_rescore:{lead.id}:{decay.isoformat()}", decay, lead.id)
    return changed


# -- commands

def create_lead(uow: UnitOfWork, principal: Principal, lead: Lead, now: datetime, *, channel: str = "api") -> Lead:
    if channel == "web_form":
        if not principal.has_role("marketing", "manager"):
            raise PermissionDenied("lead capture is for marketing forms and service accounts")
    elif not principal.has_role("rep", "manager", "marketing"):
        raise PermissionDenied("your role cannot create leads")
    normalize(lead)
    if lead.owner_id:
        check_assignable(principal, lead.owner_id)  # before any write: an import row fails whole
    lead.source = lead.source or {"web_form": "web_form", "import": "import"}.get(channel, "api")
    for server_owned in ("score", "score_breakdown", "status_reason", "converted_opportunity_id",
                         "converted_account_id", "converted_contact_id", "assignment_rule_id"):
        lead.ClearField(server_owned)
    stamp_new(lead, now)
    lead.status = "new"
    cfg = settings(uow.session)
    _rescore(uow, lead, cfg, now)
    requested_owner = lead.owner_id
    lead.owner_id = ""
    hours = assignment.DEFAULT_RESPONSE_HOURS
    if requested_owner:
        _give(uow, lead, requested_owner, lead.team or principal.team, "", hours, now)
    elif not auto_assign(uow, lead, cfg, now) and principal.has_role("rep") and not principal.is_admin:
        _give(uow, lead, principal.user_id, principal.team, "", hours, now)
    if not lead.team and lead.owner_id == principal.user_id:
        lead.team = principal.team
    lead.region = lead.region or (principal.region if lead.owner_id == principal.user_id else "")
    store.insert_record(uow.session, lead)
    emit(uow, principal, "lead", "created", lead.id, lead.version, ev.LeadCreated(lead=lead), now)
    if lead.owner_id:
        emit(uow, principal, "lead", "assigned", lead.id, lead.version,
             ev.LeadAssigned(lead=lead, reason="rule" if lead.assignment_rule_id else "manual"), now)
    return lead


def import_leads(uow: UnitOfWork, principal: Principal, text: str, default_source: str, now: datetime) -> ImportLeadsResponse:
    """Every valid row becomes a lead; invalid rows are reported by number and field, and do not
    stop the others (validation runs before any write of a row)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "name" not in reader.fieldnames and "company" not in reader.fieldnames:
        raise InvalidArgument("the first row must be a header with at least name or company", field="csv")
    unknown = [f for f in reader.fieldnames if f and f.strip() not in CSV_FIELDS]
    if unknown:
        raise InvalidArgument(f"unknown columns: {', '.join(unknown)} (known: {', '.join(CSV_FIELDS)})", field="csv")
    result = ImportLeadsResponse()
    for number, row in enumerate(reader, start=1):
        if number > 10_000:
            raise InvalidArgument("at most 10000 rows per import", field="csv")
        lead = Lead(**{k.strip(): (v or "").strip() for k, v in row.items() if k and k.strip() in CSV_FIELDS})
        lead.source = lead.source or default_source or "import"
        try:
            created = create_lead(uow, principal, lead, now, channel="import")
        except DomainError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            result.rows.append(ImportRowResult(row=number, error=exc.message, field=exc.field or ""))
            result.failed += 1
            continue
        result.rows.append(ImportRowResult(row=number, lead_id=created.id))
        result.created += 1
    return result


def update_lead(uow: UnitOfWork, principal: Principal, patch: Lead, mask: Sequence[str], expected: int,
                now: datetime) -> Lead:
    lead = visible(uow.session, principal, Lead, patch.id, now, write=True)
    check_version(lead.version, expected)
    paths = [p.split(".")[0] for p in mask]
    if not paths:
        raise InvalidArgument("nothing to update: the update mask is empty", field="update_mask")
    for path in paths:
        if path not in EDITABLE:
            raise InvalidArgument(f"'{path}' cannot be updated here (editable: {', '.join(EDITABLE)})",
                                  field="update_mask")
        setattr(lead, path, getattr(patch, path))
    normalize(lead)
    _rescore(uow, lead, settings(uow.session), now)
    bump(lead, now)
    store.update_record(uow.session, lead)
    emit(uow, principal, "lead", "updated", lead.id, lead.version, ev.LeadUpdated(lead=lead, changed_fields=paths), now)
    return lead


def _responded(lead: Lead, now: datetime) -> None:
    if not lead.HasField("first_response_at"):
        lead.first_response_at.FromDatetime(now)


def change_status(uow: UnitOfWork, principal: Principal, lead_id: str, status: str, reason: str, expected: int,
                  now: datetime) -> Lead:
    lead = visible(uow.session, principal, Lead, lead_id, now, write=True)
    check_version(lead.version, expected)
    if status not in STATUSES or status == "converted":
        raise InvalidArgument("must be one of working, qualified, disqualified, nurturing", field="status")
    if status not in TRANSITIONS[lead.status]:
        raise FailedPrecondition(f"a {lead.status} lead cannot become {status}", field="status")
    if status in ("disqualified", "nurturing") and not reason.strip():
        raise InvalidArgument(f"say why the lead is {status}", field="reason")
    previous = lead.status
    lead.status = status
    lead.status_reason = reason.strip()
    _responded(lead, now)
    bump(lead, now)
    store.update_record(uow.session, lead)
    emit(uow, principal, "lead", "status_changed", lead.id, lead.version,
         ev.LeadStatusChanged(lead=lead, previous_status=previous), now)
    if status == "nurturing":
        emit(uow, principal, "lead", "nurturing", lead.id, lead.version,
             ev.LeadSentToNurturing(lead=lead, reason=lead.status_reason), now)
    return lead


def record_activity(uow: UnitOfWork, principal: Principal, lead_id: str, kind: str, count: int,
                    occurred_at: datetime | None, now: datetime) -> Lead:
    if kind not in scoring.ACTIVITIES:
        raise InvalidArgument(f"must be one of {', '.join(scoring.ACTIVITIES)}", field="kind")
    if count < 0 or count > 1000:
        raise InvalidArgument("count is 1 to 1000", field="count")
    # Marketing and service accounts report the lead's own activity (emails, visits) for any lead.
    if principal.has_role("marketing") or principal.is_admin:
        lead = store.load(uow.session, Lead, lead_id, for_update=True)
        if lead is None:
            raise NotFound(f"lead {lead_id} not found", field="id")
    else:
        lead = visible(uow.session, principal, Lead, lead_id, now, write=True)
    at = occurred_at or now
    lead.activity[kind] = lead.activity.get(kind, 0) + (count or 1)
    if kind in scoring.ENGAGING and (not lead.HasField("last_activity_at") or store.dt(lead.last_activity_at) < at):
        lead.last_activity_at.FromDatetime(at)
    if kind in RESPONDING and principal.user_id == lead.owner_id:
        _responded(lead, at)
        if lead.status == "new":
            lead.status = "working"
    previous = lead.score
    changed = _rescore(uow, lead, settings(uow.session), now)
    bump(lead, now)
    store.update_record(uow.session, lead)
    if changed:
        emit(uow, principal, "lead", "scored", lead.id, lead.version, ev.LeadScored(lead=lead, previous_score=previous), now)
    return lead


def assign_lead(uow: UnitOfWork, principal: Principal, lead_id: str, owner_id: str, now: datetime) -> Lead:
    require_manager(principal, "assign leads")
    lead = visible(uow.session, principal, Lead, lead_id, now, write=True)
    if lead.status not in (*OPEN, "qualified"):
        raise FailedPrecondition(f"a {lead.status} lead cannot be assigned", field="id")
    previous = lead.owner_id
    if owner_id:
        reps = store.all_reps(uow.session)
        if owner_id in reps and not reps[owner_id].active:
            raise FailedPrecondition(f"{owner_id} is inactive", field="owner_id")
        team = reps[owner_id].team if owner_id in reps else lead.team
        _give(uow, lead, owner_id, team, "", assignment.DEFAULT_RESPONSE_HOURS, now)
    elif not auto_assign(uow, lead, settings(uow.session), now, exclude=[previous] if previous else []):
        raise FailedPrecondition("no assignment rule has an active rep for this lead", field="owner_id")
    bump(lead, now)
    store.update_record(uow.session, lead)
    emit(uow, principal, "lead", "assigned", lead.id, lead.version,
         ev.LeadAssigned(lead=lead, previous_owner_id=previous, reason="manual"), now)
    audit(uow, principal, "assign", "lead", lead.id, now, f"{previous} -> {lead.owner_id}")
    return lead


def list_leads(session: Session, principal: Principal, flt: LeadFilter, page_size: int, page_token: str,
               now: datetime) -> tuple[list[Lead], str]:
    stmt = select(leads.c.data).where(visible_clause(principal, leads, delegators(session, principal, now)))
    for column in ("status", "owner_id", "region", "source", "campaign_id"):
        if value := getattr(flt, column):
            stmt = stmt.where(leads.c[column] == value)
    if flt.min_score:
        stmt = stmt.where(leads.c.score >= flt.min_score)
    if flt.unassigned:
        stmt = stmt.where(leads.c.owner_id == "")
    if flt.query:
        pattern = f"%{flt.query.strip()}%"
        stmt = stmt.where(leads.c.name.ilike(pattern) | leads.c.company.ilike(pattern))
    return store.page(session, Lead, stmt, page_size, page_token)


# -- scheduler jobs

def on_response_due(uow: UnitOfWork, job: jobs.Job, now: datetime) -> None:
    """The owner did not respond in time: remind them, and hand the lead to the next rep."""
    lead = store.load(uow.session, Lead, job.ref_id, for_update=True)
    if (lead is None or lead.status != "new" or lead.HasField("first_response_at")
            or lead.owner_id != job.payload.get("owner_id")):
        return  # answered, reassigned or closed in the meantime
    lapsed_owner = lead.owner_id
    work.remind(uow, lapsed_owner, f"线索 {lead.name or lead.company} 响应超时 / response deadline lapsed",
                "lead", lead.id, now)
    if not auto_assign(uow, lead, settings(uow.session), now, exclude=[lapsed_owner]):
        return  # nobody else can take it: the reminder stands
    bump(lead, now)
    store.update_record(uow.session, lead)
    emit(uow, SYSTEM, "lead", "assigned", lead.id, lead.version,
         ev.LeadAssigned(lead=lead, previous_owner_id=lapsed_owner, reason="response_deadline_lapsed"), now)
    work.remind(uow, lead.owner_id, f"新线索 / new lead reassigned to you: {lead.name or lead.company}",
                "lead", lead.id, now)


def on_rescore(uow: UnitOfWork, job: jobs.Job, now: datetime) -> None:
    lead = store.load(uow.session, Lead, job.ref_id, for_update=True)
    if lead is None or lead.status == "converted":
        return
    previous = lead.score
    if _rescore(uow, lead, settings(uow.session), now):
        bump(lead, now)
        store.update_record(uow.session, lead)
        emit(uow, SYSTEM, "lead", "scored", lead.id, lead.version, ev.LeadScored(lead=lead, previous_score=previous), now)

