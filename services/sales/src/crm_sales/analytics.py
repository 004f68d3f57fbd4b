"""Forecast and funnel. The forecast is one GROUP BY over integer cents (exact, indexed on the
close date); the funnel reads the stage-visit rows written with every stage change."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import (
    ForecastRequest,
    ForecastResponse,
    ForecastRow,
    FunnelRequest,
    FunnelResponse,
    FunnelStage,
    RepPerformance,
)
from crm_sales import money, pipeline, store
from crm_sales.common import check_date, delegators, settings
from crm_sales.tables import opportunities, stage_visits
from crm_sales.visibility import visible_clause
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

GROUPS = ("", "owner", "team", "month")


def _pct(part: int, whole: int) -> str:
    return str(money.cents(Decimal(part) * 100 / Decimal(whole))) if whole else "0.00"


def combine(rows: Iterable[tuple[str, str, str, int, int, int]]) -> list[ForecastRow]:
    """(key, currency, category, count, Σcents, Σcents×probability) → one row per key and currency."""
    acc: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, currency, category, count, cents, weighted in rows:
        bucket = acc[(key or "", currency or "")]
        bucket[category] += int(cents or 0)
        if category != "closed":
            bucket["open_count"] += int(count)
            bucket["open_total"] += int(cents or 0)
            bucket["weighted"] += int(weighted or 0)
    result = []
    for (key, currency), b in sorted(acc.items()):
        result.append(ForecastRow(
            key=key, currency_code=currency, open_count=b["open_count"],
            pipeline=money.from_cents(currency, b["pipeline"]), best_case=money.from_cents(currency, b["best_case"]),
            commit=money.from_cents(currency, b["commit"]), closed=money.from_cents(currency, b["closed"]),
            # Σ cents × percent / 100 → cents, rounded once at the end.
            weighted=money.money(currency, Decimal(b["weighted"]) / Decimal(10_000)),
            open_total=money.from_cents(currency, b["open_total"]),
        ))
    return result


def forecast(session: Session, principal: Principal, r: ForecastRequest, now: datetime) -> ForecastResponse:
    if r.group_by not in GROUPS:
        raise InvalidArgument("group by owner, team or month", field="group_by")
    t = opportunities
    key = {"owner": t.c.owner_id, "team": t.c.team, "month": t.c.close_month}.get(r.group_by, literal("total"))
    stmt = (
        select(key.label("key"), t.c.currency, t.c.forecast_category, func.count(), func.sum(t.c.amount_cents),
               func.sum(t.c.amount_cents * t.c.probability))
        .where(visible_clause(principal, t, delegators(session, principal, now)),
               t.c.forecast_category != "omitted")
        .group_by(key, t.c.currency, t.c.forecast_category)
    )
    if r.period_start:
        stmt = stmt.where(t.c.close_date >= check_date(r.period_start, "period_start"))
    if r.period_end:
        stmt = stmt.where(t.c.close_date <= check_date(r.period_end, "period_end"))
    if r.currency_code:
        stmt = stmt.where(t.c.currency == r.currency_code)
    if r.owner_id:
        stmt = stmt.where(t.c.owner_id == r.owner_id)
    if r.team:
        stmt = stmt.where(t.c.team == r.team)
    return ForecastResponse(rows=combine(tuple(row) for row in session.execute(stmt)))


def funnel(session: Session, principal: Principal, r: FunnelRequest, now: datetime) -> FunnelResponse:
    pipe = pipeline.find_pipeline(settings(session).pipelines, r.pipeline_id)
    t = opportunities
    where = [visible_clause(principal, t, delegators(session, principal, now)), t.c.pipeline_id == pipe.id]
    if r.from_date:
        where.append(t.c.created_at >= datetime.fromisoformat(check_date(r.from_date, "from_date")))
    if r.to_date:
        where.append(t.c.created_at < datetime.fromisoformat(check_date(r.to_date, "to_date")).replace(hour=23, minute=59))
    if r.owner_id:
        where.append(t.c.owner_id == r.owner_id)
    if r.team:
        where.append(t.c.team == r.team)
    opps = session.execute(select(t.c.id, t.c.owner_id, t.c.status, t.c.currency, t.c.amount_cents, t.c.created_at,
                                  t.c.closed_at).where(*where)).all()
    ids = {o.id for o in opps}
    order = {s.key: i for i, s in enumerate(pipe.stages) if s.outcome != "lost"}
    furthest: dict[str, int] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    visits = session.execute(select(stage_visits.c.opportunity_id, stage_visits.c.stage, stage_visits.c.entered_at,
                                    stage_visits.c.exited_at).where(stage_visits.c.pipeline_id == pipe.id)).all()
    for v in visits:
        if v.opportunity_id not in ids:
            continue
        if v.stage in order:
            furthest[v.opportunity_id] = max(furthest.get(v.opportunity_id, -1), order[v.stage])
        if v.exited_at is not None and v.stage in order:
            seconds = (store.aware(v.exited_at) - store.aware(v.entered_at)).total_seconds()  # type: ignore[operator]
            durations[v.stage].append(seconds)
    ranked = [s for s in pipe.stages if s.outcome != "lost"]
    reached = [sum(1 for f in furthest.values() if f >= order[s.key]) for s in ranked]
    result = FunnelResponse()
    for i, stage in enumerate(ranked):
        spent = durations.get(stage.key, [])
        result.stages.append(FunnelStage(
            stage=stage.key, name=stage.name, reached=reached[i],
            conversion_to_next=_pct(reached[i + 1], reached[i]) if i + 1 < len(ranked) else "",
            average_days_in_stage=round(sum(spent) / len(spent) / 86400, 2) if spent else 0.0,
        ))
    won = [o for o in opps if o.status == "won"]
    lost = [o for o in opps if o.status == "lost"]
    result.won, result.lost = len(won), len(lost)
    result.win_rate = _pct(len(won), len(won) + len(lost))
    cycles = [(store.aware(o.closed_at) - store.aware(o.created_at)).total_seconds() for o in won if o.closed_at]  # type: ignore[operator]
    result.average_sales_cycle_days = round(sum(cycles) / len(cycles) / 86400, 2) if cycles else 0.0
    per_rep: dict[str, dict[str, object]] = {}
    for o in opps:
        rep = per_rep.setdefault(o.owner_id, {"won": 0, "lost": 0, "open": 0, "amounts": defaultdict(int)})
        rep[o.status] = int(rep[o.status]) + 1  # type: ignore[call-overload]
        if o.status == "won":
            rep["amounts"][o.currency] += int(o.amount_cents)  # type: ignore[index]
    for owner, rep in sorted(per_rep.items()):
        won_n, lost_n = int(rep["won"]), int(rep["lost"])  # type: ignore[call-overload]
        result.reps.append(RepPerformance(
            owner_id=owner, won=won_n, lost=lost_n, open=int(rep["open"]),  # type: ignore[call-overload]
            win_rate=_pct(won_n, won_n + lost_n),
            won_amount=[money.from_cents(c, v) for c, v in sorted(rep["amounts"].items())],  # type: ignore[attr-defined]
        ))
    return result

