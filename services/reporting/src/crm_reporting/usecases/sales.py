"""The sales summary: open pipeline by stage, wins per month, win rate, leads by source."""
from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import AmountBucket, CountBucket, GetSalesSummaryRequest, SalesSummary
from crm_reporting.rules import format_amount
from crm_reporting.store import events_applied
from crm_reporting.tables import leads, opportunities
from crm_reporting.usecases import VISIBLE
from crmkit.auth import Principal


def sales_summary(session: Session, *, principal: Principal, request: GetSalesSummaryRequest) -> SalesSummary:
    opp_where = [VISIBLE.clause(principal, opportunities)]
    lead_where = [VISIBLE.clause(principal, leads)]
    if request.region:
        opp_where.append(opportunities.c.region == request.region)
        lead_where.append(leads.c.region == request.region)

    def amounts(key: ColumnElement[str], *where: ColumnElement[bool]) -> list[AmountBucket]:
        currency = opportunities.c.currency_code
        rows = session.execute(
            select(key, currency, func.count(), func.coalesce(func.sum(opportunities.c.amount_units), 0))
            .where(*opp_where, *where).group_by(key, currency).order_by(key, currency)
        )
        return [AmountBucket(key=k, currency_code=cur, count=n, amount=format_amount(int(units)))
                for k, cur, n, units in rows]

    by_status: dict[str, int] = {status: n for status, n in session.execute(
        select(opportunities.c.status, func.count()).where(*opp_where).group_by(opportunities.c.status))}
    won, lost = by_status.get("won", 0), by_status.get("lost", 0)
    lead_rows = session.execute(
        select(leads.c.source, func.count()).where(*lead_where).group_by(leads.c.source)
        .order_by(func.count().desc(), leads.c.source)
    ).all()
    return SalesSummary(
        pipeline_by_stage=amounts(opportunities.c.stage, opportunities.c.status == "open"),
        pipeline_count=by_status.get("open", 0),
        won_by_month=amounts(opportunities.c.closed_month, opportunities.c.status == "won"),
        won_count=won,
        lost_count=lost,
        win_rate=won / (won + lost) if won + lost else 0.0,
        leads_by_source=[CountBucket(key=k, count=n) for k, n in lead_rows],
        lead_count=sum(n for _, n in lead_rows),
        events_applied=events_applied(session),
    )
