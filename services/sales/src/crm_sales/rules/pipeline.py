"""Pipelines and stage changes. Pure: which stages exist, what each requires to be entered or
left, forecast categories, and time spent per stage."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from crm.sales.v1.sales_pb2 import Criterion, Opportunity, Pipeline, Stage, StageVisit
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound

OUTCOMES = ("open", "won", "lost")
CRITERION_KINDS = ("field", "approved_quote", "accepted_quote")
CRITERION_FIELDS = ("budget", "amount", "contact_id", "account_id", "decision_maker", "expected_close_date",
                    "competitors", "loss_reason", "next_step")
CATEGORIES = ("pipeline", "best_case", "commit", "closed", "omitted")


def _field(name: str, message: str = "") -> Criterion:
    return Criterion(kind="field", field=name, message=message)


DEFAULT_PIPELINE = Pipeline(
    id="default",
    name="标准销售流程 Standard",
    stages=[
        Stage(key="first_contact", name="初步接触", probability=10, outcome="open"),
        Stage(key="needs_confirmed", name="需求确认", probability=20, outcome="open",
              entry_criteria=[_field("contact_id", "a contact person is required")]),
        Stage(key="solution_demo", name="方案演示", probability=40, outcome="open",
              entry_criteria=[_field("budget", "a demo needs a stated budget")]),
        Stage(key="quote_submitted", name="报价提交", probability=60, outcome="open",
              entry_criteria=[Criterion(kind="approved_quote", message="a quote must be approved first")]),
        Stage(key="negotiation", name="合同谈判", probability=80, outcome="open",
              entry_criteria=[_field("decision_maker", "name the decision maker before negotiating")]),
        Stage(key="closed_won", name="签约成交", probability=100, outcome="won",
              entry_criteria=[_field("amount", "a won deal needs its amount"),
                              Criterion(kind="accepted_quote", message="the customer must accept a quote")]),
        Stage(key="closed_lost", name="输单", probability=0, outcome="lost",
              entry_criteria=[_field("loss_reason", "say why the deal was lost")]),
    ],
)


@dataclass(frozen=True)
class Facts:
    """What the rules need to know beyond the opportunity itself."""

    has_approved_quote: bool = False
    has_accepted_quote: bool = False


def validate_pipelines(pipelines: Sequence[Pipeline]) -> None:
    if not pipelines:
        raise InvalidArgument("at least one pipeline is required", field="pipelines")
    ids: set[str] = set()
    for p, pipeline in enumerate(pipelines):
        where = f"pipelines[{p}]"
        if not pipeline.id or pipeline.id in ids:
            raise InvalidArgument("each pipeline needs a unique id", field=f"{where}.id")
        ids.add(pipeline.id)
        keys: set[str] = set()
        outcomes = [s.outcome for s in pipeline.stages]
        if "open" not in outcomes or "won" not in outcomes or "lost" not in outcomes:
            raise InvalidArgument("a pipeline needs open stages, a won stage and a lost stage",
                                  field=f"{where}.stages")
        for s, stage in enumerate(pipeline.stages):
            at = f"{where}.stages[{s}]"
            if not stage.key or stage.key in keys:
                raise InvalidArgument("each stage needs a unique key", field=f"{at}.key")
            keys.add(stage.key)
            if stage.outcome not in OUTCOMES:
                raise InvalidArgument(f"must be one of {', '.join(OUTCOMES)}", field=f"{at}.outcome")
            if not 0 <= stage.probability <= 100:
                raise InvalidArgument("a probability is a percent from 0 to 100", field=f"{at}.probability")
            for c, criterion in enumerate([*stage.entry_criteria, *stage.exit_criteria]):
                if criterion.kind not in CRITERION_KINDS:
                    raise InvalidArgument(f"must be one of {', '.join(CRITERION_KINDS)}",
                                          field=f"{at}.criteria[{c}].kind")
                if criterion.kind == "field" and criterion.field not in CRITERION_FIELDS:
                    raise InvalidArgument(f"must be one of {', '.join(CRITERION_FIELDS)}",
                                          field=f"{at}.criteria[{c}].field")


def find_pipeline(pipelines: Sequence[Pipeline], pipeline_id: str) -> Pipeline:
    if not pipeline_id:
        return pipelines[0]
    for pipeline in pipelines:
        if pipeline.id == pipeline_id:
            return pipeline
    raise NotFound(f"pipeline {pipeline_id} not found", field="pipeline_id")


def find_stage(pipeline: Pipeline, key: str, field: str = "stage") -> Stage:
    """A stage by its key or by its label as users see it ("solution_demo" or "方案演示"); the key
    wins when a label equals another stage's key, and a label two stages share names neither."""
    for stage in pipeline.stages:
        if stage.key == key:
            return stage
    label = key.strip()
    named = [stage for stage in pipeline.stages if label and stage.name.strip() == label]
    if len(named) == 1:
        return named[0]
    if named:
        raise InvalidArgument(f"stages {', '.join(s.key for s in named)} are all called '{label}': give the key",
                              field=field)
    keys = ", ".join(f"{s.key} ({s.name})" if s.name else s.key for s in pipeline.stages)
    raise InvalidArgument(f"no stage '{key}' in pipeline {pipeline.id} (stages: {keys})", field=field)


def stage_filter_key(pipelines: Sequence[Pipeline], value: str, field: str = "stage") -> str:
    """A list filter's stage as stored (its key), named by key or label as in a stage change, in
    any pipeline: a label several stages with different keys share names none; an unknown stage is
    refused rather than answering an empty list."""
    stages = [stage for p in pipelines for stage in p.stages]
    if any(stage.key == value for stage in stages):
        return value
    label = value.strip()
    keys = sorted({stage.key for stage in stages if label and stage.name.strip() == label})
    if len(keys) == 1:
        return keys[0]
    if keys:
        raise InvalidArgument(f"stages {', '.join(keys)} are all called '{label}': give the key", field=field)
    known = ", ".join(sorted({f"{s.key} ({s.name})" if s.name else s.key for s in stages}))
    raise InvalidArgument(f"no stage '{value}' (stages: {known})", field=field)


def _met(opp: Opportunity, criterion: Criterion, facts: Facts) -> bool:
    if criterion.kind == "approved_quote":
        return facts.has_approved_quote
    if criterion.kind == "accepted_quote":
        return facts.has_accepted_quote
    name = criterion.field
    if name in ("budget", "amount"):
        money = getattr(opp, name)
        return bool(money.amount) and money.amount.strip("0.") != ""
    if name == "competitors":
        return len(opp.competitors) > 0
    return bool(str(getattr(opp, name)).strip())


def _describe(criterion: Criterion) -> str:
    if criterion.message:
        return criterion.message
    if criterion.kind == "field":
        return f"{criterion.field} is required"
    return criterion.kind.replace("_", " ") + " is required"


def needs_quote_facts(pipeline: Pipeline, current_key: str, target_key: str) -> bool:
    """Whether a move between these stages has a quote criterion (only those read the Facts)."""
    return any(c.kind != "field" for s in pipeline.stages if s.key in (current_key, target_key)
               for c in (*s.exit_criteria, *s.entry_criteria))


def check_change(opp: Opportunity, pipeline: Pipeline, target_key: str, facts: Facts) -> Stage:
    """The target stage, or FailedPrecondition naming every unmet exit / entry criterion."""
    target = find_stage(pipeline, target_key)
    current = find_stage(pipeline, opp.stage)
    if target.key == current.key:
        raise FailedPrecondition(f"the opportunity is already in {current.name} ({current.key})", field="stage")
    if current.outcome != "open":
        raise FailedPrecondition(f"the opportunity is closed ({current.name}); it cannot change stage",
                                 field="stage")
    missing: list[Criterion] = []
    checks = [] if target.outcome == "lost" else list(current.exit_criteria)  # losing never needs exit work
    for criterion in [*checks, *target.entry_criteria]:
        if not _met(opp, criterion, facts) and criterion not in missing:
            missing.append(criterion)
    if missing:
        names = [c.field or c.kind for c in missing]
        reasons = "; ".join(f"{n}: {_describe(c)}" for n, c in zip(names, missing, strict=True))
        raise FailedPrecondition(
            f"cannot move to {target.name} ({target.key}): missing {reasons}",
            field=names[0], missing=names,
        )
    return target


def forecast_category(stage: Stage) -> str:
    if stage.outcome == "won":
        return "closed"
    if stage.outcome == "lost":
        return "omitted"
    if stage.probability >= 70:
        return "commit"
    if stage.probability >= 40:
        return "best_case"
    return "pipeline"


def status_of(stage: Stage) -> str:
    return stage.outcome


def enter_stage(opp: Opportunity, stage: Stage, now: datetime, by: str) -> int:
    """Close the current visit, open one for `stage`; returns seconds spent in the previous one."""
    spent = 0
    if opp.stage_history:
        last = opp.stage_history[-1]
        if not last.HasField("exited_at"):
            last.exited_at.FromDatetime(now)
            spent = int((now - last.entered_at.ToDatetime(tzinfo=UTC)).total_seconds())
            last.seconds = spent
    visit = StageVisit(stage=stage.key, changed_by=by)
    visit.entered_at.FromDatetime(now)
    opp.stage_history.append(visit)
    opp.stage = stage.key
    opp.probability = stage.probability
    opp.forecast_category = forecast_category(stage)
    opp.status = stage.outcome
    if stage.outcome != "open":
        opp.closed_at.FromDatetime(now)
        opp.stage_history[-1].exited_at.FromDatetime(now)  # a closed deal does not age in its last stage
    return spent


def with_current_durations(opp: Opportunity, now: datetime) -> Opportunity:
    """A copy whose open visit shows the time spent so far (for reading, never stored)."""
    view = Opportunity()
    view.CopyFrom(opp)
    for visit in view.stage_history:
        if not visit.HasField("exited_at"):
            visit.seconds = max(0, int((now - visit.entered_at.ToDatetime(tzinfo=UTC)).total_seconds()))
    return view
