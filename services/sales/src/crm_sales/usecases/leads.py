"""Lead use cases: capture and import, scoring, assignment with response deadlines, status
changes, activity. Conversion is in conversion.py (it needs contacts first)."""
from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import ImportLeadsResponse, ImportRowResult, Lead, LeadFilter, SalesSettings
from crm_sales.events import SALES, emit
from crm_sales.metrics import LEAD_RESPONSE_SECONDS
from crm_sales.rules import assignment, pool, scoring
from crm_sales.rules import leads as rules
from crm_sales.rules.access import masked_lead
from crm_sales.rules.fields import listed
from crm_sales.store import audit, jobs, people, records
from crm_sales.store.picklists import PICKLISTS
from crm_sales.usecases import pool as pool_cases
from crm_sales.usecases import settings, tasks
from crm_sales.usecases.access import delegators, visible
from crmkit import limits
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crmkit.fields import patchable
from crmkit.imports.files import unguard
from crmkit.records import bump, check_version, dt, stamp_new
from crmkit.visibility import check_assignable, check_scope, require_manager

EDITABLE = patchable(Lead)


# -- assignment

def _deadline_job(uow: UnitOfWork, lead: Lead) -> None:
    jobs.schedule(uow.session, jobs.LEAD_RESPONSE, f"lead_response:{lead.id}:{lead.assigned_at.ToJsonString()}",
                  dt(lead.response_due_at), lead.id, {"owner_id": lead.owner_id})


def _give(uow: UnitOfWork, lead: Lead, owner_id: str, team: str, rule_id: str, hours: int, now: datetime) -> None:
    lead.owner_id = owner_id
    lead.team = team or lead.team
    pool.take_out(lead)  # whoever gets it holds it: it leaves its team's pool
    lead.assignment_rule_id = rule_id
    lead.assigned_at.FromDatetime(now)
    lead.response_due_at.FromDatetime(now + timedelta(hours=hours))
    lead.ClearField("first_response_at")
    _deadline_job(uow, lead)


def _auto_assign(uow: UnitOfWork, lead: Lead, cfg: SalesSettings, now: datetime, exclude: Sequence[str] = ()) -> bool:
    """Apply the assignment rules; True when the lead got an owner."""
    if not cfg.assignment_rules:
        return False  # nothing can place it: skip reading reps and cursors
    session = uow.session
    reps = people.all_reps(session)
    # Open-lead counts only for the reps a least-load rule could pick: counting every owner's open
    # leads on each new lead grows with the table (and no rule may need them at all).
    loaded = {r.user_id for rule in cfg.assignment_rules if rule.strategy == "load"
              for r in assignment.candidates(rule, reps, exclude)}
    counts = records.open_lead_counts(session, loaded) if loaded else {}
    chosen = assignment.assign(lead, cfg.assignment_rules, reps, counts, people.cursors(session), exclude)
    if chosen is None:
        return False
    people.set_cursor(session, chosen.rule_id, chosen.owner_id)
    _give(uow, lead, chosen.owner_id, chosen.team, chosen.rule_id, chosen.response_hours, now)
    return True


def _rescore(uow: UnitOfWork, lead: Lead, cfg: SalesSettings, now: datetime) -> bool:
    changed = scoring.apply(lead, cfg.scoring_rules, now)
    decay = scoring.next_decay_at(lead, cfg.scoring_rules)
    if decay is not None and lead.status in (*rules.OPEN, "qualified", "nurturing"):
        jobs.schedule(uow.session, jobs.LEAD_RESCORE, f"lead_rescore:{lead.id}:{decay.isoformat()}", decay, lead.id)
    return changed


# -- commands

def create_lead(uow: UnitOfWork, *, principal: Principal, now: datetime, lead: Lead, channel: str = "api",
                refuse: Callable[[Lead], None] | None = None) -> Lead:
    """`refuse(lead)`, given the normalized lead, raises when it may not be created (an erased
    person's email or phone: usecases.subject.refuse_suppressed)."""
    if channel == "web_form":
        if not principal.has_role("marketing", "manager"):
            raise PermissionDenied("lead capture is for marketing forms and service accounts")
    elif not principal.has_role("rep", "manager", "marketing"):
        raise PermissionDenied("your role cannot create leads")
    if channel != "import":  # only an import keeps a phone that does not validate (rules.imports)
        lead.ClearField("phone_unverified")
        lead.ClearField("phone_raw")
    vocabulary = PICKLISTS.current(uow.session)
    if channel == "web_form":  # what a visitor typed is mapped to a key or kept, never refused
        rules.keep_typed(lead, vocabulary)
    rules.normalize(lead, vocabulary)
    if refuse is not None:
        refuse(lead)
    check_scope(principal, team="", region=lead.region)  # a rep cannot file a lead in another region
    if lead.owner_id:
        check_assignable(principal, lead.owner_id)  # before any write: an import row fails whole
    lead.source = lead.source or rules.default_source(channel, vocabulary)  # an active key, never a retired one
    for server_owned in rules.SERVER_OWNED:
        lead.ClearField(server_owned)
    lead.id = ""  # the service names its records
    stamp_new(lead, now)
    lead.status = "new"
    cfg = settings.current(uow.session)
    _rescore(uow, lead, cfg, now)
    requested_owner = lead.owner_id
    lead.owner_id = ""
    hours = assignment.DEFAULT_RESPONSE_HOURS
    if requested_owner:
        _give(uow, lead, requested_owner, lead.team or principal.team, "", hours, now)
    elif not _auto_assign(uow, lead, cfg, now) and principal.has_role("rep") and not principal.is_admin:
        _give(uow, lead, principal.user_id, principal.team, "", hours, now)
    if not lead.team and lead.owner_id == principal.user_id:
        lead.team = principal.team
    lead.region = lead.region or (principal.region if lead.owner_id == principal.user_id else "")
    records.insert_record(uow.session, lead)
    emit(uow, principal, SALES.LEAD_CREATED, lead.id, lead.version, ev.LeadCreated(lead=lead), now)
    if lead.owner_id:
        emit(uow, principal, SALES.LEAD_ASSIGNED, lead.id, lead.version,
             ev.LeadAssigned(lead=lead, reason="rule" if lead.assignment_rule_id else "manual"), now)
    return lead


def import_leads(uow: UnitOfWork, *, principal: Principal, now: datetime, text: str,
                 default_source: str, refuse: Callable[[Lead], None] | None = None) -> ImportLeadsResponse:
    """Every valid row becomes a lead; invalid rows are reported by number and field, and do not
    stop the others (validation runs before any write of a row)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "name" not in reader.fieldnames and "company" not in reader.fieldnames:
        raise InvalidArgument("the first row must be a header with at least name or company", field="csv")
    unknown = [f for f in reader.fieldnames if f and f.strip() not in rules.CSV_FIELDS]
    if unknown:
        raise InvalidArgument(f"unknown columns: {', '.join(unknown)} (known: {', '.join(rules.CSV_FIELDS)})",
                              field="csv")
    limits.check_length("csv", text, limits.MAX_IMPORT_CSV)
    # All rows are read (and counted) before the first is written: a 12,000-row file is refused at
    # once instead of timing out after 10,000 writes.
    rows = list(itertools.islice(reader, limits.MAX_IMPORT_ROWS + 1))
    if len(rows) > limits.MAX_IMPORT_ROWS:
        raise InvalidArgument(f"at most {limits.MAX_IMPORT_ROWS} rows per import; split the file", field="csv",
                              maximum=limits.MAX_IMPORT_ROWS)
    result = ImportLeadsResponse()
    for number, row in enumerate(rows, start=1):
        row = {k: unguard(v) if isinstance(v, str) else v for k, v in row.items()}  # an export's '+86… back
        lead = Lead()
        for column, value in row.items():
            if column and column.strip() in rules.CSV_FIELDS:
                setattr(lead, column.strip(), (value or "").strip())
        lead.source = lead.source or default_source  # blank: create_lead's default for an import
        try:
            created = create_lead(uow, principal=principal, now=now, lead=lead, channel="import", refuse=refuse)
        except DomainError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            result.rows.append(ImportRowResult(row=number, error=exc.message, field=exc.field or ""))
            result.failed += 1
            continue
        result.rows.append(ImportRowResult(row=number, lead_id=created.id))
        result.created += 1
    return result


def update_lead(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: Lead, mask: Sequence[str],
                expected: int) -> Lead:
    lead = visible(uow.session, Lead, patch.id, principal=principal, now=now, write=True)
    check_version(lead.version, expected)
    stored = Lead()
    stored.CopyFrom(lead)  # picklist values it already holds stay valid (retired ones too)
    paths = [p.split(".")[0] for p in mask]
    if not paths:
        raise InvalidArgument("nothing to update: the update mask is empty", field="update_mask")
    for path in paths:
        if path not in EDITABLE:
            raise InvalidArgument(f"'{path}' cannot be updated here (editable: {listed(Lead, EDITABLE)})",
                                  field="update_mask")
        if path == "region":
            check_scope(principal, team=lead.team, region=patch.region, before_team=lead.team,
                        before_region=lead.region)
        setattr(lead, path, getattr(patch, path))
        if path == "phone":  # a phone typed again is checked again
            lead.ClearField("phone_unverified")
            lead.ClearField("phone_raw")
    rules.normalize(lead, PICKLISTS.current(uow.session), stored)
    pool.touch(lead, now)
    _rescore(uow, lead, settings.current(uow.session), now)
    bump(lead, now)
    records.update_record(uow.session, lead)
    emit(uow, principal, SALES.LEAD_UPDATED, lead.id, lead.version, ev.LeadUpdated(lead=lead, changed_fields=paths),
         now)
    return lead


def _responded(uow: UnitOfWork, lead: Lead, now: datetime) -> None:
    if not lead.HasField("first_response_at"):
        lead.first_response_at.FromDatetime(now)
        waited = max(0.0, (now - dt(lead.created_at)).total_seconds())
        series = LEAD_RESPONSE_SECONDS.labels(lead.source or "unknown")
        uow.after_commit(lambda: series.observe(waited))


def change_status(uow: UnitOfWork, *, principal: Principal, now: datetime, lead_id: str, status: str, reason: str,
                  expected: int) -> Lead:
    lead = visible(uow.session, Lead, lead_id, principal=principal, now=now, write=True)
    check_version(lead.version, expected)
    rules.check_status_change(lead.status, status, reason)
    previous = lead.status
    lead.status = status
    lead.status_reason = reason.strip()
    _responded(uow, lead, now)
    pool.touch(lead, now)
    if lead.in_pool and status not in pool.HELD:
        pool.take_out(lead)  # closed while pooled (disqualified, back to marketing): out of the pool
    bump(lead, now)
    records.update_record(uow.session, lead)
    emit(uow, principal, SALES.LEAD_STATUS_CHANGED, lead.id, lead.version,
         ev.LeadStatusChanged(lead=lead, previous_status=previous), now)
    if status == "nurturing":
        emit(uow, principal, SALES.LEAD_NURTURING, lead.id, lead.version,
             ev.LeadSentToNurturing(lead=lead, reason=lead.status_reason), now)
    return lead


def record_activity(uow: UnitOfWork, *, principal: Principal, now: datetime, lead_id: str, kind: str, count: int,
                    occurred_at: datetime | None) -> Lead:
    if kind not in scoring.ACTIVITIES:
        raise InvalidArgument(f"must be one of {', '.join(scoring.ACTIVITIES)}", field="kind")
    if count < 0 or count > 1000:
        raise InvalidArgument("count is 1 to 1000", field="count")
    # Marketing and service accounts report the lead's own activity (emails, visits) for any lead;
    # a call or a meeting is the owner's to log, on a lead its author may change.
    hidden = False
    if principal.is_admin or (principal.has_role("marketing") and kind in _LEADS_OWN_ACTIVITY):
        lead = records.load(uow.session, Lead, lead_id, for_update=True)
        if lead is None:
            raise NotFound(f"lead {lead_id} not found", field="id")
        hidden = not principal.is_admin and not _can_read(uow.session, principal, lead, now)
    else:
        lead = visible(uow.session, Lead, lead_id, principal=principal, now=now, write=True)
    at = occurred_at or now
    lead.activity[kind] = lead.activity.get(kind, 0) + (count or 1)
    pool.touch(lead, min(at, now))  # any activity on the lead is a follow-up (a future date is not)
    if kind in scoring.ENGAGING and (not lead.HasField("last_activity_at") or dt(lead.last_activity_at) < at):
        lead.last_activity_at.FromDatetime(at)
    if kind in rules.RESPONDING and principal.user_id == lead.owner_id:
        _responded(uow, lead, at)
        if lead.status == "new":
            lead.status = "working"
    previous = lead.score
    changed = _rescore(uow, lead, settings.current(uow.session), now)
    bump(lead, now)
    records.update_record(uow.session, lead)
    if changed:
        emit(uow, principal, SALES.LEAD_SCORED, lead.id, lead.version,
             ev.LeadScored(lead=lead, previous_score=previous), now)
    if hidden:  # the engagement reported and what it did to the score; nothing of the person
        return Lead(id=lead.id, version=lead.version, activity=lead.activity, score=lead.score,
                    status=lead.status,
                    last_activity_at=lead.last_activity_at if lead.HasField("last_activity_at") else None)
    return lead


# What a lead does itself (mails it sends, visits, forms): marketing reports it on any lead.
_LEADS_OWN_ACTIVITY = ("inbound_email", "outbound_email", "web_visit", "form_submit")


def _can_read(session: Session, principal: Principal, lead: Lead, now: datetime) -> bool:
    try:
        visible(session, Lead, lead.id, principal=principal, now=now)
    except NotFound:
        return False
    return True


def followed_up(uow: UnitOfWork, *, now: datetime, lead_id: str, at: datetime) -> None:
    """Something was done about the lead that is not a scored activity (a note logged on its
    contact): the public pool's clock restarts. A clock, not a change: no new version."""
    lead = records.load(uow.session, Lead, lead_id, for_update=True)
    if lead is None or lead.in_pool or lead.status not in pool.HELD:
        return
    pool.touch(lead, min(at, now))
    records.update_record(uow.session, lead)


def assign_lead(uow: UnitOfWork, *, principal: Principal, now: datetime, lead_id: str, owner_id: str) -> Lead:
    require_manager(principal, "assign leads")
    lead = visible(uow.session, Lead, lead_id, principal=principal, now=now, write=True)
    if lead.status not in (*rules.OPEN, "qualified"):
        raise FailedPrecondition(f"a {lead.status} lead cannot be assigned", field="id")
    previous, pooled = lead.owner_id, lead.in_pool
    if owner_id:
        reps = people.all_reps(uow.session)
        if owner_id in reps and not reps[owner_id].active:
            raise FailedPrecondition(f"{owner_id} is inactive", field="owner_id")
        team = reps[owner_id].team if owner_id in reps else lead.team
        _give(uow, lead, owner_id, team, "", assignment.DEFAULT_RESPONSE_HOURS, now)
    elif not _auto_assign(uow, lead, settings.current(uow.session), now, exclude=[previous] if previous else []):
        raise FailedPrecondition("no assignment rule has an active rep for this lead", field="owner_id")
    bump(lead, now)
    records.update_record(uow.session, lead)
    emit(uow, principal, SALES.LEAD_ASSIGNED, lead.id, lead.version,
         ev.LeadAssigned(lead=lead, previous_owner_id=previous, reason="manual"), now)
    audit.record(uow.session, principal, "assign", "lead", lead.id, now, f"{previous} -> {lead.owner_id}")
    if pooled:
        pool_cases.moved(uow, lead, kind=pool.ASSIGNED, user_id=lead.owner_id, principal=principal, now=now,
                         reason="assigned by a manager")
    return lead


# -- reads

def get_lead(session: Session, *, principal: Principal, now: datetime, lead_id: str) -> Lead:
    return masked_lead(principal, visible(session, Lead, lead_id, principal=principal, now=now))


def list_leads(session: Session, *, principal: Principal, now: datetime, flt: LeadFilter, page_size: int,
               page_token: str) -> tuple[list[Lead], str]:
    # a typo answers 400, not an empty list; a retired source still finds its leads
    PICKLISTS.current(session).check_filter("source", flt.source, "source")
    found, token = records.list_leads(session, flt, principal=principal,
                                      delegators=delegators(session, principal, now), size=page_size, token=page_token)
    return [masked_lead(principal, lead) for lead in found], token


# -- scheduled (the scheduler owns the transaction)

def response_lapsed(uow: UnitOfWork, *, now: datetime, lead_id: str, owner_id: str | None) -> None:
    """The owner did not respond in time: remind them, and hand the lead to the next rep."""
    lead = records.load(uow.session, Lead, lead_id, for_update=True)
    if lead is None or lead.status != "new" or lead.HasField("first_response_at") or lead.owner_id != owner_id:
        return  # answered, reassigned or closed in the meantime
    lapsed_owner = lead.owner_id
    tasks.remind(uow, user_id=lapsed_owner, message=f"线索 {lead.name or lead.company} 响应超时 / response deadline lapsed",
                 related_type="lead", related_id=lead.id, now=now)
    if not _auto_assign(uow, lead, settings.current(uow.session), now, exclude=[lapsed_owner]):
        return  # nobody else can take it: the reminder stands
    bump(lead, now)
    records.update_record(uow.session, lead)
    emit(uow, SYSTEM, SALES.LEAD_ASSIGNED, lead.id, lead.version,
         ev.LeadAssigned(lead=lead, previous_owner_id=lapsed_owner, reason="response_deadline_lapsed"), now)
    tasks.remind(uow, user_id=lead.owner_id, message=f"新线索 / new lead reassigned to you: {lead.name or lead.company}",
                 related_type="lead", related_id=lead.id, now=now)


def rescore_due(uow: UnitOfWork, *, now: datetime, lead_id: str) -> None:
    lead = records.load(uow.session, Lead, lead_id, for_update=True)
    if lead is None or lead.status == "converted":
        return
    previous = lead.score
    if _rescore(uow, lead, settings.current(uow.session), now):
        bump(lead, now)
        records.update_record(uow.session, lead)
        emit(uow, SYSTEM, SALES.LEAD_SCORED, lead.id, lead.version,
             ev.LeadScored(lead=lead, previous_score=previous), now)
