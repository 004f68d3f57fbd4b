"""Opportunity (deal) use cases: create, update, and stage changes checked against the pipeline's
entry and exit criteria, with stage history and the follow-ups a new stage schedules."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import Opportunity, OpportunityFilter
from crm_sales.events import SALES, emit
from crm_sales.metrics import STAGE_AGE_SECONDS
from crm_sales.rules import money, pipeline
from crm_sales.store import people, records
from crm_sales.usecases import settings, tasks
from crm_sales.usecases.access import delegators, visible
from crmkit import limits
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from crmkit.fields import patchable
from crmkit.records import bump, check_date, check_version, stamp_new
from crmkit.visibility import check_assignable, check_scope

EDITABLE = patchable(Opportunity)
OVERRIDABLE_CATEGORIES = ("pipeline", "best_case", "commit")
# What a closed opportunity still lets its owner change.
AFTER_CLOSE = frozenset({"description", "next_step"})


LONG_TEXTS = {name: limits.MAX_NOTES for name in ("description", "loss_reason", "next_step")}


def _normalize(opp: Opportunity) -> None:
    limits.check_texts(opp, LONG_TEXTS)
    opp.name = opp.name.strip()
    if not opp.name:
        raise InvalidArgument("an opportunity needs a name", field="name")
    opp.amount.CopyFrom(money.normalize(opp.amount, "amount"))
    opp.budget.CopyFrom(money.normalize(opp.budget, "budget"))
    if not opp.amount.amount:
        opp.ClearField("amount")
    if not opp.budget.amount:
        opp.ClearField("budget")
    opp.expected_close_date = check_date(opp.expected_close_date, "expected_close_date")
    competitors = list(dict.fromkeys(c.strip() for c in opp.competitors if c.strip()))
    del opp.competitors[:]
    opp.competitors.extend(competitors)


def _facts(session: Session, opp: Opportunity) -> pipeline.Facts:
    found = {q.status for q in records.quotes_of(session, opp.id, ("approved", "sent", "accepted"))}
    return pipeline.Facts(has_approved_quote=bool(found), has_accepted_quote="accepted" in found)


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, opp: Opportunity,
           account_name: str = "") -> Opportunity:
    """account_name: the account's name as contacts has it, kept when the client gave none."""
    if not principal.has_role("rep", "manager"):
        raise PermissionDenied("your role cannot create opportunities")
    opp.account_name = opp.account_name or account_name
    _normalize(opp)
    opp.owner_id = opp.owner_id or principal.user_id
    check_assignable(principal, opp.owner_id)
    check_scope(principal, team=opp.team, region=opp.region)  # what the caller sent, before defaults
    rep = people.all_reps(uow.session).get(opp.owner_id)
    opp.team = opp.team or (rep.team if rep else principal.team)
    opp.region = opp.region or (rep.region if rep else principal.region)
    cfg = settings.current(uow.session)
    pipe = pipeline.find_pipeline(cfg.pipelines, opp.pipeline_id)
    opp.pipeline_id = pipe.id
    first = pipe.stages[0]
    stage = pipeline.find_stage(pipe, opp.stage or first.key)
    if stage.outcome != "open":
        raise InvalidArgument("a new opportunity starts in an open stage", field="stage")
    for server_owned in ("stage_history", "loss_reason", "closed_at", "status", "probability", "forecast_category"):
        opp.ClearField(server_owned)
    opp.id = ""  # the service names its records
    stamp_new(opp, now)
    if stage.key != first.key:
        # Starting further down the pipeline still has to meet that stage's entry criteria.
        probe = Opportunity()
        probe.CopyFrom(opp)
        probe.stage = first.key
        pipeline.check_change(probe, pipe, stage.key, pipeline.Facts())
    pipeline.enter_stage(opp, stage, now, principal.user_id)
    records.insert_record(uow.session, opp)
    records.open_visit(uow.session, opp, stage.key, now)
    tasks.schedule_stage_follow_ups(uow, opp=opp, settings=cfg, now=now)
    emit(uow, principal, SALES.OPPORTUNITY_CREATED, opp.id, opp.version, ev.OpportunityCreated(opportunity=opp),
         now)
    return opp


def get(session: Session, *, principal: Principal, now: datetime, opp_id: str) -> Opportunity:
    return pipeline.with_current_durations(visible(session, Opportunity, opp_id, principal=principal, now=now), now)


def update(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: Opportunity, mask: Sequence[str],
           expected: int, account_name: str = "") -> Opportunity:
    """account_name: the new account's name as contacts has it, when account_id changes without one."""
    opp = visible(uow.session, Opportunity, patch.id, principal=principal, now=now, write=True)
    check_version(opp.version, expected)
    paths = list(dict.fromkeys(p.split(".")[0] for p in mask))
    if not paths:
        raise InvalidArgument("nothing to update: the update mask is empty", field="update_mask")
    if "account_id" in paths and "account_name" not in paths and patch.account_id != opp.account_id:
        patch.account_name = account_name  # the old account's name would stay on the new account's deal
        paths.append("account_name")
    if opp.status != "open" and set(paths) - AFTER_CLOSE:
        raise FailedPrecondition("a closed opportunity cannot be changed", field="update_mask")
    for path in paths:
        if path not in EDITABLE:
            raise InvalidArgument(f"'{path}' cannot be updated here (stages change through ChangeStage)",
                                  field="update_mask")
        if path == "owner_id":
            check_assignable(principal, patch.owner_id)
        if path == "forecast_category" and patch.forecast_category not in OVERRIDABLE_CATEGORIES:
            raise InvalidArgument(f"must be one of {', '.join(OVERRIDABLE_CATEGORIES)}", field="forecast_category")
        if path in ("amount", "budget", "competitors"):
            opp.ClearField(path)
            field = getattr(patch, path)
            if path == "competitors":
                opp.competitors.extend(field)
            else:
                getattr(opp, path).CopyFrom(field)
        else:
            setattr(opp, path, getattr(patch, path))
    _normalize(opp)
    bump(opp, now)
    records.update_record(uow.session, opp)
    emit(uow, principal, SALES.OPPORTUNITY_UPDATED, opp.id, opp.version,
         ev.OpportunityUpdated(opportunity=opp, changed_fields=paths), now)
    return opp


def change_stage(uow: UnitOfWork, *, principal: Principal, now: datetime, opp_id: str, stage_key: str,
                 expected: int, loss_reason: str) -> Opportunity:
    """Refused with FAILED_PRECONDITION naming every unmet criterion; nothing changes then."""
    opp = visible(uow.session, Opportunity, opp_id, principal=principal, now=now, write=True)
    check_version(opp.version, expected)
    cfg = settings.current(uow.session)
    pipe = pipeline.find_pipeline(cfg.pipelines, opp.pipeline_id)
    candidate = Opportunity()
    candidate.CopyFrom(opp)
    if loss_reason.strip():
        candidate.loss_reason = loss_reason.strip()
    stage_key = pipeline.find_stage(pipe, stage_key).key  # a label ("方案演示") names its stage too
    known = _facts(uow.session, opp) if pipeline.needs_quote_facts(pipe, opp.stage, stage_key) else pipeline.Facts()
    target = pipeline.check_change(candidate, pipe, stage_key, known)
    previous = opp.stage
    if target.outcome == "lost":
        opp.loss_reason = candidate.loss_reason
    spent = pipeline.enter_stage(opp, target, now, principal.user_id)
    age = STAGE_AGE_SECONDS.labels(previous)
    uow.after_commit(lambda: age.observe(spent))
    bump(opp, now)
    records.update_record(uow.session, opp)
    records.open_visit(uow.session, opp, target.key, now)
    if target.outcome != "open":
        records.close_visits(uow.session, opp.id, now)
    tasks.schedule_stage_follow_ups(uow, opp=opp, settings=cfg, now=now)
    emit(uow, principal, SALES.OPPORTUNITY_STAGE_CHANGED, opp.id, opp.version,
         ev.OpportunityStageChanged(opportunity=opp, from_stage=previous, to_stage=target.key,
                                    seconds_in_previous_stage=spent), now)
    if target.outcome != "open":
        emit(uow, principal, SALES.of("opportunity", target.outcome), opp.id, opp.version,
             ev.OpportunityClosed(opportunity=opp), now)
    return opp


def list_opportunities(session: Session, *, principal: Principal, now: datetime, flt: OpportunityFilter,
                       page_size: int, page_token: str) -> tuple[list[Opportunity], str]:
    if flt.stage:  # 初步接触 finds what first_contact finds
        flt.stage = pipeline.stage_filter_key(settings.current(session).pipelines, flt.stage)
    items, token = records.list_opportunities(session, flt, principal=principal,
                                              delegators=delegators(session, principal, now),
                                              size=page_size, token=page_token)
    return [pipeline.with_current_durations(o, now) for o in items], token
