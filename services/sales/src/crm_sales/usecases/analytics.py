"""Reads across the pipeline: the weighted forecast and the funnel, over what the caller sees."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import ForecastRequest, ForecastResponse, FunnelRequest, FunnelResponse
from crm_sales.rules import forecast as rules
from crm_sales.rules import pipeline
from crm_sales.store import analytics
from crm_sales.usecases import settings
from crm_sales.usecases.access import delegators
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.records import check_date


def forecast(session: Session, *, principal: Principal, now: datetime, request: ForecastRequest) -> ForecastResponse:
    if request.group_by not in rules.GROUPS:
        raise InvalidArgument("group by owner, team or month", field="group_by")
    rows = analytics.forecast_rows(session, request, principal=principal,
                                   delegators=delegators(session, principal, now))
    return ForecastResponse(rows=rules.combine(rows))


def funnel(session: Session, *, principal: Principal, now: datetime, request: FunnelRequest) -> FunnelResponse:
    r = request
    pipe = pipeline.find_pipeline(settings.current(session).pipelines, r.pipeline_id)
    created_from = datetime.fromisoformat(check_date(r.from_date, "from_date")) if r.from_date else None
    created_before = (datetime.fromisoformat(check_date(r.to_date, "to_date")).replace(hour=23, minute=59)
                      if r.to_date else None)
    opps = analytics.funnel_opportunities(session, pipe.id, principal=principal,
                                          delegators=delegators(session, principal, now),
                                          created_from=created_from, created_before=created_before,
                                          owner_id=r.owner_id, team=r.team)
    return rules.funnel(pipe, opps, analytics.stage_visits_of(session, pipe.id))
