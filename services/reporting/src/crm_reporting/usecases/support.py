"""The support summary: tickets by status and priority, SLA breaches, response and resolution
times, and CSAT (overall and per day): the average rating and the share of satisfied answers."""
from __future__ import annotations

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import CountBucket, CsatDay, GetSupportSummaryRequest, SupportSummary
from crm_reporting.rules import check_days
from crm_reporting.store import events_applied
from crm_reporting.tables import csat_answers, sla_breaches, tickets
from crm_reporting.usecases import csat_visible, tickets_visible
from crmkit.auth import Principal

# The lowest rating that counts as satisfied on the survey's 1-5 scale: CSAT as support managers
# read it is the share of 4s and 5s, so a 3 ("neutral") is not satisfied.
SATISFIED_RATING = 4


def support_summary(session: Session, *, principal: Principal, request: GetSupportSummaryRequest) -> SupportSummary:
    check_days(request)
    where = [tickets_visible(principal)]

    def buckets(column: ColumnElement[str]) -> list[CountBucket]:
        rows = session.execute(
            select(column, func.count()).where(*where).group_by(column).order_by(func.count().desc(), column)
        )
        return [CountBucket(key=key, count=count) for key, count in rows]

    total = session.execute(select(func.count()).select_from(tickets).where(*where)).scalar_one()
    breaches = session.execute(
        select(func.count()).select_from(sla_breaches)
        .join(tickets, tickets.c.ticket_id == sla_breaches.c.ticket_id).where(*where)
    ).scalar_one()
    first_avg, first_n, res_avg, res_n = session.execute(
        select(func.avg(tickets.c.first_response_seconds), func.count(tickets.c.first_response_seconds),
               func.avg(tickets.c.resolution_seconds), func.count(tickets.c.resolution_seconds)).where(*where)
    ).one()

    # the day window narrows csat_per_day only, not the overall average
    csat_where = [csat_visible(principal)]
    satisfied = func.coalesce(func.sum(case((csat_answers.c.rating >= SATISFIED_RATING, 1), else_=0)), 0)
    csat_sum, csat_n, csat_satisfied = session.execute(
        select(func.coalesce(func.sum(csat_answers.c.rating), 0), func.count(), satisfied).where(*csat_where)
    ).one()
    if request.from_day:
        csat_where.append(csat_answers.c.answered_day >= request.from_day)
    if request.to_day:
        csat_where.append(csat_answers.c.answered_day <= request.to_day)
    day = csat_answers.c.answered_day
    day_rows = session.execute(
        select(day, func.count(), func.sum(csat_answers.c.rating), satisfied)
        .where(*csat_where).group_by(day).order_by(day)
    )
    return SupportSummary(
        total=total,
        by_status=buckets(tickets.c.status),
        by_priority=buckets(tickets.c.priority),
        sla_breaches=breaches,
        avg_first_response_seconds=float(first_avg or 0),
        first_response_count=first_n,
        avg_resolution_seconds=float(res_avg or 0),
        resolution_count=res_n,
        # None leaves the optional fields unset: no answers is "no data", not an average or share of 0
        csat_average=int(csat_sum) / csat_n if csat_n else None,
        csat_count=csat_n,
        csat_satisfied=int(csat_satisfied),
        csat_satisfied_share=int(csat_satisfied) / csat_n if csat_n else None,
        csat_per_day=[CsatDay(day=d, count=n, average=int(total_rating) / n, satisfied=int(day_satisfied))
                      for d, n, total_rating, day_satisfied in day_rows],
        events_applied=events_applied(session),
    )
