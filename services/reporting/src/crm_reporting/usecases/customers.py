"""Customer counts: totals by source, region, level and tag, and new customers per day."""
from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import CountBucket, CustomerCounts, DayCount, GetCustomerCountsRequest
from crm_reporting.rules import check_days
from crm_reporting.store import events_applied
from crm_reporting.tables import customer_rollup, customer_tag_rollup, customer_tags, customers, tagged_customer_rollup
from crm_reporting.usecases import VISIBLE
from crmkit.auth import Principal


def customer_counts(session: Session, *, principal: Principal, request: GetCustomerCountsRequest,
                    use_rollup: bool = True) -> CustomerCounts:
    """From the rollups (store.rollups; with a tag, the tagged customers' rollup) unless
    `use_rollup` is False: the detail tables, which the rollups must always equal."""
    check_days(request)
    if use_rollup and request.tag:
        return _from_tagged_rollup(session, principal=principal, request=request)
    if use_rollup:
        return _from_rollups(session, principal=principal, request=request)
    where = [customers.c.live.is_(True), VISIBLE.clause(principal, customers)]
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
    # the day window narrows new_per_day only, not the totals
    day_where = list(where)
    if request.from_day:
        day_where.append(customers.c.created_day >= request.from_day)
    if request.to_day:
        day_where.append(customers.c.created_day <= request.to_day)
    day_rows = session.execute(
        select(customers.c.created_day, func.count()).where(*day_where)
        .group_by(customers.c.created_day).order_by(customers.c.created_day)
    )
    applied = events_applied(session)
    return CustomerCounts(
        total=total,
        by_source=buckets(customers.c.source),
        by_region=buckets(customers.c.region),
        by_level=buckets(customers.c.level),
        by_tag=[CountBucket(key=k, count=c) for k, c in tag_rows],
        new_per_day=[DayCount(day=d, count=c) for d, c in day_rows],
        events_applied=applied,
    )


def _from_rollups(session: Session, *, principal: Principal, request: GetCustomerCountsRequest) -> CustomerCounts:
    r, t = customer_rollup.c, customer_tag_rollup.c
    visible = VISIBLE.clause(principal, customer_rollup)
    where = [visible, r.grain == ""]
    tag_where = [VISIBLE.clause(principal, customer_tag_rollup)]
    if request.region:
        where.append(r.region == request.region)
        tag_where.append(t.region == request.region)
    n = func.sum(r.n)
    total, (by_source, by_region, by_level) = _buckets(session, r, where)
    tn = func.sum(t.n)
    tag_rows = session.execute(select(t.tag, tn).where(*tag_where).group_by(t.tag).order_by(tn.desc(), t.tag))
    day_where = [visible, r.grain == "day", *where[2:]]
    if request.from_day:
        day_where.append(r.created_day >= request.from_day)
    if request.to_day:
        day_where.append(r.created_day <= request.to_day)
    day_rows = session.execute(select(r.created_day, n).where(*day_where).group_by(r.created_day)
                               .order_by(r.created_day))
    return CustomerCounts(
        total=total, by_source=by_source, by_region=by_region, by_level=by_level,
        by_tag=[CountBucket(key=k, count=int(c)) for k, c in tag_rows],
        new_per_day=[DayCount(day=d, count=int(c)) for d, c in day_rows], events_applied=events_applied(session))


def _from_tagged_rollup(session: Session, *, principal: Principal, request: GetCustomerCountsRequest
                        ) -> CustomerCounts:
    """The customers having `request.tag`: one rollup, its three grains (store.rollups.TAGGED_CUSTOMERS)."""
    r = tagged_customer_rollup.c
    where = [r.tag == request.tag, VISIBLE.clause(principal, tagged_customer_rollup)]
    if request.region:
        where.append(r.region == request.region)
    n = func.sum(r.n)
    plain = [*where, r.grain == ""]

    total, (by_source, by_region, by_level) = _buckets(session, r, plain)
    day_where = [*where, r.grain == "day"]
    if request.from_day:
        day_where.append(r.created_day >= request.from_day)
    if request.to_day:
        day_where.append(r.created_day <= request.to_day)
    day_rows = session.execute(select(r.created_day, n).where(*day_where).group_by(r.created_day)
                               .order_by(r.created_day))
    return CustomerCounts(
        total=total, by_source=by_source, by_region=by_region, by_level=by_level,
        by_tag=[CountBucket(key=k, count=int(c)) for k, c in session.execute(
            select(r.other_tag, n).where(*where, r.grain == "tag").group_by(r.other_tag)
            .order_by(n.desc(), r.other_tag))],
        new_per_day=[DayCount(day=d, count=int(c)) for d, c in day_rows], events_applied=events_applied(session))


def _buckets(session: Session, r: Any, where: list[ColumnElement[bool]]) -> tuple[int, list[list[CountBucket]]]:
    """The total and the counts by source, by region and by level, from one statement over a
    rollup's source x region x level rows (most first, then by key)."""
    sums: list[Counter[str]] = [Counter(), Counter(), Counter()]
    for source, region, level, count in session.execute(
            select(r.source, r.region, r.level, func.sum(r.n)).where(*where).group_by(r.source, r.region, r.level)):
        for counter, key in zip(sums, (source, region, level), strict=True):
            counter[key] += int(count)
    ordered = [[CountBucket(key=k, count=c) for k, c in sorted(counter.items(), key=lambda kc: (-kc[1], kc[0]))]
               for counter in sums]
    return sum(sums[0].values()), ordered
