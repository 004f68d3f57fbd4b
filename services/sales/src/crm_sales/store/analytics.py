"""The reads behind forecasts and funnels: one GROUP BY over integer cents (exact, indexed on the
close date), and the opportunity and stage-visit rows a funnel is counted from."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, case, extract, func, literal, select
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import ForecastRequest
from crm_sales.rules.access import VISIBILITY
from crm_sales.tables import opportunities, stage_visits
from crmkit.auth import Principal
from crmkit.records import check_date


def forecast_rows(session: Session, r: ForecastRequest, *, principal: Principal,
                  delegators: Sequence[str]) -> list[tuple[str, str, str, int, int, int]]:
    """(key, currency, category, count, Σcents, Σcents×probability) per group, currency, category."""
    t = opportunities
    key = {"owner": t.c.owner_id, "team": t.c.team, "month": t.c.close_month}.get(r.group_by, literal("total"))
    stmt = (
        select(key.label("key"), t.c.currency, t.c.forecast_category, func.count(), func.sum(t.c.amount_cents),
               func.sum(t.c.amount_cents * t.c.probability))
        .where(VISIBILITY.clause(principal, t, delegators), t.c.forecast_category != "omitted")
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
    return [tuple(row) for row in session.execute(stmt)]


def funnel_opportunities(session: Session, pipeline_id: str, *, principal: Principal, delegators: Sequence[str],
                         created_from: datetime | None, created_before: datetime | None, owner_id: str,
                         team: str) -> Sequence[Row[Any]]:
    t = opportunities
    where: list[ColumnElement[bool]] = [VISIBILITY.clause(principal, t, delegators), t.c.pipeline_id == pipeline_id]
    if created_from is not None:
        where.append(t.c.created_at >= created_from)
    if created_before is not None:
        where.append(t.c.created_at < created_before)
    if owner_id:
        where.append(t.c.owner_id == owner_id)
    if team:
        where.append(t.c.team == team)
    return session.execute(select(t.c.id, t.c.owner_id, t.c.status, t.c.currency, t.c.amount_cents,
                                  t.c.created_at, t.c.closed_at).where(*where)).all()


def stage_visits_of(session: Session, pipeline_id: str) -> Sequence[Row[Any]]:
    v = stage_visits
    return session.execute(select(v.c.opportunity_id, v.c.stage, v.c.entered_at, v.c.exited_at)
                           .where(v.c.pipeline_id == pipeline_id)).all()


def open_stage_ages(session: Session, now: datetime, bounds: Sequence[float]
                    ) -> list[tuple[str, str, int, datetime, float, list[int]]]:
    """Per pipeline and stage, the open deals sitting in it: (pipeline, stage, count, oldest entry,
    the sum of their ages in seconds, how many entered at most `bound` seconds ago for each
    bound). One pass over the open visits (won and lost deals have none): what a scrape affords."""
    v = stage_visits
    within = [func.sum(case((v.c.entered_at >= now - timedelta(seconds=b), 1), else_=0)) for b in bounds]
    stmt = (select(v.c.pipeline_id, v.c.stage, func.count(), func.min(v.c.entered_at),
                   func.sum(extract("epoch", v.c.entered_at)), *within)
            .where(v.c.exited_at.is_(None)).group_by(v.c.pipeline_id, v.c.stage))
    return [(row[0], row[1], int(row[2]), row[3], int(row[2]) * now.timestamp() - float(row[4] or 0),
             [int(n or 0) for n in row[5:]]) for row in session.execute(stmt)]
