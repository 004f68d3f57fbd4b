"""Customer counts and sales summaries from the read models, with the same visibility rules as
contacts and sales: a rep counts their own records, a manager their team and region, admins and
analysts everything. Tickets carry an assignee but no team or region: a rep sees the tickets
assigned to them, managers, support agents, admins and analysts all of them (as in support)."""
from __future__ import annotations

from decimal import Decimal

from google.protobuf.message import Message
from sqlalchemy import ColumnElement, Table, false, func, or_, select, true
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import (
    AmountBucket,
    CountBucket,
    CsatDay,
    CustomerCounts,
    DayCount,
    GetCustomerCountsRequest,
    GetSalesSummaryRequest,
    GetSupportSummaryRequest,
    SalesSummary,
    SupportSummary,
)
from crm_reporting.tables import (
    AMOUNT_SCALE,
    csat_answers,
    customer_tags,
    customers,
    leads,
    opportunities,
    sla_breaches,
    tickets,
)
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.runtime_tables import inbox_row


def _visible(principal: Principal, table: Table = customers) -> ColumnElement[bool]:
    """For any read model with owner_id, team and region columns."""
    if principal.is_admin or principal.has_role("analyst"):
        return true()
    if principal.is_manager:
        # like contacts' visibility: an empty team or region matches nothing, not every blank row
        clauses = []
        if principal.team:
            clauses.append(table.c.team == principal.team)
        if principal.region:
            clauses.append(table.c.region == principal.region)
        return or_(*clauses) if clauses else false()
    return table.c.owner_id == principal.user_id


def _check_day(request: Message) -> None:
    for name in ("from_day", "to_day"):
        value = getattr(request, name)
        if value and (len(value) != 10 or value[4] != "-" or value[7] != "-"):
            raise InvalidArgument("use YYYY-MM-DD", field=name)


def _events_applied(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(inbox_row).where(inbox_row.c.consumer == "reporting")
    ).scalar_one()


def customer_counts(session: Session, principal: Principal, request: GetCustomerCountsRequest) -> CustomerCounts:
    _check_day(request)
    where = [customers.c.live.is_(True), _visible(principal)]
    if request.region:
        where.append(customers.c.region == request.region)
    if request.tag:
        tagged = select(customer_tags.c.contact_id).where(customer_tags.c.tag == request.tag)
        where.append(customers.c.contact_id.in_(tagged))

    def buckets(column: ColumnElement[str]) -> list[CountBucket]:
        rows = session.execute(
            select(column, func.count()).where(*where).group_by(column).order_by(func.count().desc(), column)
        )
        return [CountBucket(key=key, count=count) for key, count in rows]

    total = session.execute(select(func.count()).select_from(customers).where(*where)).scalar_one()
    tag_rows = session.execute(
        select(customer_tags.c.tag, func.count())
        .join(customers, customers.c.contact_id == customer_tags.c.contact_id)
        .where(*where).group_by(customer_tags.c.tag).order_by(func.count().desc(), customer_tags.c.tag)
    )
    day_where = list(where)
    if request.from_day:
        day_where.append(customers.c.created_day >= request.from_day)
    if request.to_day:
        day_where.append(customers.c.created_day <= request.to_day)
    day_rows = session.execute(
        select(customers.c.created_day, func.count()).where(*day_where)
        .group_by(customers.c.created_day).order_by(customers.c.created_day)
    )
    applied = _events_applied(session)
    return CustomerCounts(
        total=total,
        by_source=buckets(customers.c.source),
        by_region=buckets(customers.c.region),
        by_level=buckets(customers.c.level),
        by_tag=[CountBucket(key=k, count=c) for k, c in tag_rows],
        new_per_day=[DayCount(day=d, count=c) for d, c in day_rows],
        events_applied=applied,
    )


# -- sales -------------------------------------------------------------------------------------

def format_amount(units: int) -> str:
    value = Decimal(units).scaleb(-len(str(AMOUNT_SCALE)) + 1)
    cents = value.quantize(Decimal("0.01"))
    return f"{cents if cents == value else value.normalize():f}"


def sales_summary(session: Session, principal: Principal, request: GetSalesSummaryRequest) -> SalesSummary:
    opp_where = [_visible(principal, opportunities)]
    lead_where = [_visible(principal, leads)]
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

    by_status = dict(session.execute(
        select(opportunities.c.status, func.count()).where(*opp_where).group_by(opportunities.c.status)
    ).all())
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
        events_applied=_events_applied(session),
    )


# -- support -----------------------------------------------------------------------------------

def _assigned(principal: Principal, column: ColumnElement[str]) -> ColumnElement[bool]:
    if principal.is_admin or principal.is_manager or principal.has_role("analyst", "support"):
        return true()
    return column == principal.user_id


def support_summary(session: Session, principal: Principal, request: GetSupportSummaryRequest) -> SupportSummary:
    _check_day(request)
    where = [_assigned(principal, tickets.c.assignee_id)]

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

    csat_where = [_assigned(principal, csat_answers.c.assignee_id)]
    csat_sum, csat_n = session.execute(
        select(func.coalesce(func.sum(csat_answers.c.rating), 0), func.count()).where(*csat_where)
    ).one()
    if request.from_day:
        csat_where.append(csat_answers.c.answered_day >= request.from_day)
    if request.to_day:
        csat_where.append(csat_answers.c.answered_day <= request.to_day)
    day = csat_answers.c.answered_day
    day_rows = session.execute(
        select(day, func.count(), func.sum(csat_answers.c.rating)).where(*csat_where).group_by(day).order_by(day)
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
        csat_average=int(csat_sum) / csat_n if csat_n else 0.0,
        csat_count=csat_n,
        csat_per_day=[CsatDay(day=d, count=n, average=int(total_rating) / n) for d, n, total_rating in day_rows],
        events_applied=_events_applied(session),
    )
