"""Opportunity use cases: create, update, stage changes checked against the pipeline's entry and
exit criteria, with stage history and the follow-ups a new stage schedules."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import Opportunity, OpportunityFilter
from crm_sales import money, pipeline, store, work
from crm_sales.common import bump, check_date, check_version, delegators, emit, settings, stamp_new, visible
from crm_sales.tables import opportunities
from crm_sales.visibility import check_assignable, visible_clause
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied

EDITABLE = ("name", "account_id", "contact_id", "amount", "budget", "expected_close_date", "competitors",
            "decision_maker", "next_step", "description", "owner_id", "forecast_category", "account_name")
OVERRIDABLE_CATEGORIES = ("pipeline", "best_case", "commit")


def _normalize(opp: Opportunity) -> None:
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


def facts(session: Session, opp: Opportunity) -> pipeline.Facts:
    found = {q.status for q in store.quotes_of(session, opp.id, ("approved", "sent", "accepted"))}
    return pipeline.Facts(has_approved_quote=bool(found), has_accepted_quote="accepted" in found)


def create(uow: UnitOfWork, principal: Principal, opp: Opportunity, now: datetime) -> Opportunity:
    if not principal.has_role("rep", "manager"):
        raise PermissionDenied("your role cannot create opportunities")
    _normalize(opp)
    opp.owner_id = opp.owner_id or principal.user_id
    check_assignable(principal, opp.owner_id)
    rep = store.all_reps(uow.session).get(opp.owner_id)
    opp.team = opp.team or (rep.team if rep else principal.team)
    opp.region = opp.region or (rep.region if rep else principal.region)
    cfg = settings(uow.session)
    pipe = pipeline.find_pipeline(cfg.pipelines, opp.pipeline_id)
    opp.pipeline_id = pipe.id
    first = pipe.stages[0]
    stage = pipeline.find_stage(pipe, opp.stage or first.key)
    if stage.outcome != "open":
        raise InvalidArgument("a new opportunity starts in an open stage", field="stage")
    for server_owned in ("stage_history", "loss_reason", "closed_at", "status", "probability", "forecast_category"):
        opp.ClearField(server_owned)
    stamp_new(opp, now)
    if stage.key != first.key:
        # Starting further down the pipeline still has to meet that stage's entry criteria.
        probe = Opportunity()
        probe.CopyFrom(opp)
        probe.stage = first.key
        pipeline.check_change(probe, pipe, stage.key, pipeline.Facts())
    pipeline.enter_stage(opp, stage, now, principal.user_id)
    store.insert_record(uow.session, opp)
    store.open_visit(uow.session, opp, stage.key, now)
    work.schedule_stage_follow_ups(uow, opp, cfg, now)
    emit(uow, principal, "opportunity", "created", opp.id, opp.version, ev.OpportunityCreated(opportunity=opp), now)
    return opp


def get(session: Session, principal: Principal, opp_id: str, now: datetime) -> Opportunity:
    return pipeline.with_current_durations(visible(session, principal, Opportunity, opp_id, now), now)


def update(uow: UnitOfWork, principal: Principal, patch: Opportunity, mask: Sequence[str], expected: int,
           now: datetime) -> Opportunity:
    opp = visible(uow.session, principal, Opportunity, patch.id, now, write=True)
    check_version(opp.version, expected)
    paths = list(dict.fromkeys(p.split(".")[0] for p in mask))
    if not paths:
        raise InvalidArgument("nothing to update: the update mask is empty", field="update_mask")
    if opp.status != "open" and set(paths) - {"description", "next_step"}:
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
    store.update_record(uow.session, opp)
    emit(uow, principal, "opportunity", "updated", opp.id, opp.version,
         ev.OpportunityUpdated(opportunity=opp, changed_fields=paths), now)
    return opp


def change_stage(uow: UnitOfWork, principal: Principal, opp_id: str, stage_key: str, expected: int,
                 loss_reason: str, now: datetime) -> Opportunity:
    """Refused with FAILED_PRECONDITION naming every unmet criterion; nothing changes then."""
    opp = visible(uow.session, principal, Opportunity, opp_id, now, write=True)
    check_version(opp.version, expected)
    cfg = settings(uow.session)
    pipe = pipeline.find_pipeline(cfg.pipelines, opp.pipeline_id)
    candidate = Opportunity()
    candidate.CopyFrom(opp)
    if loss_reason.strip():
        candidate.loss_reason = loss_reason.strip()
    known = facts(uow.session, opp) if pipeline.needs_quote_facts(pipe, opp.stage, stage_key) else pipeline.Facts()
    target = pipeline.check_change(candidate, pipe, stage_key, known)
    previous = opp.stage
    if target.outcome == "lost":
        opp.loss_reason = candidate.loss_reason
    spent = pipeline.enter_stage(opp, target, now, principal.user_id)
    bump(opp, now)
    store.update_record(uow.session, opp)
    store.open_visit(uow.session, opp, target.key, now)
    if target.outcome != "open":
        store.close_visits(uow.session, opp.id, now)
    work.schedule_stage_follow_ups(uow, opp, cfg, now)
    emit(uow, principal, "opportunity", "stage_changed", opp.id, opp.version,
         ev.OpportunityStageChanged(opportunity=opp, from_stage=previous, to_stage=target.key,
                                    seconds_in_previous_stage=spent), now)
    if target.outcome != "open":
        emit(uow, principal, "opportunity", target.outcome, opp.id, opp.version,
             ev.OpportunityClosed(opportunity=opp), now)
    return opp


def list_opportunities(session: Session, principal: Principal, flt: OpportunityFilter, page_size: int,
                       page_token: str, now: datetime) -> tuple[list[Opportunity], str]:
    t = opportunities
    stmt = select(t.c.data).where(visible_clause(principal, t, delegators(session, principal, now)))
    for column in ("status", "stage", "owner_id", "team", "account_id"):
        if value := getattr(flt, column):
            stmt = stmt.where(t.c[column] == value)
    if flt.close_from:
        stmt = stmt.where(t.c.close_date >= check_date(flt.close_from, "filter.close_from"))
    if flt.close_to:
        stmt = stmt.where(t.c.close_date <= check_date(flt.close_to, "filter.close_to"))
    items, token = store.page(session, Opportunity, stmt, page_size, page_token)
    return [pipeline.with_current_durations(o, now) for o in items], token
