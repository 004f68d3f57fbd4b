"""Customer counts from the read model, with the same visibility rules as contacts: a rep counts
their own customers, a manager their team and region, admins and analysts everything."""
from __future__ import annotations

from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import CountBucket, CustomerCounts, DayCount, GetCustomerCountsRequest
from crm_reporting.tables import customer_tags, customers
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.runtime_tables import inbox_row


def _visible(principal: Principal) -> ColumnElement[bool]:
    if principal.is_admin or principal.has_role("analyst"):
        return true()
    if principal.is_manager:
        # like contacts' visibility: an empty team or region matches nothing, not every blank row
        clauses = []
        if principal.team:
            clauses.append(customers.c.team == principal.team)
        if principal.region:
            clauses.append(customers.c.region == principal.region)
        return or_(*clauses) if clauses else false()
    return customers.c.owner_id == principal.user_id


def customer_counts(session: Session, principal: Principal, request: GetCustomerCountsRequest) -> CustomerCounts:
    for name in ("from_day", "to_day"):
        value = getattr(request, name)
        if value and (len(value) != 10 or value[4] != "-" or value[7] != "-"):
            raise InvalidArgument("use YYYY-MM-DD", field=name)
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
    applied = session.execute(
        select(func.count()).select_from(inbox_row).where(inbox_row.c.consumer == "reporting")
    ).scalar_one()
    return CustomerCounts(
        total=total,
        by_source=buckets(customers.c.source),
        by_region=buckets(customers.c.region),
        by_level=buckets(customers.c.level),
        by_tag=[CountBucket(key=k, count=c) for k, c in tag_rows],
        new_per_day=[DayCount(day=d, count=c) for d, c in day_rows],
        events_applied=applied,
    )
