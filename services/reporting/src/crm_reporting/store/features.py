"""Per-customer features for the churn and next-purchase models (analytics.models), read from the
read models as of a day: only what had happened by then counts (a deal is open at the day if it
was created by then and closed after it, or not yet), so a cutoff in the past sees what was known
then and its labels are what came after. One grouped SELECT per read model, keyed by contact."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from crm_reporting.analytics.models import NAMES
from crm_reporting.rules import AMOUNT_SCALE
from crm_reporting.tables import csat_answers, customers, email_engagements, opportunities, tickets

NONE_DAYS = 730


@dataclass
class Customer:
    contact_id: str
    owner_id: str
    team: str
    region: str
    values: dict[str, float] = field(default_factory=dict)
    bought_before: bool = False
    bought_after: bool = False      # a deal won in (day, day + horizon]


def _days(day: date, last: str | None) -> float:
    return float(min(NONE_DAYS, (day - date.fromisoformat(last)).days)) if last else float(NONE_DAYS)


def as_of(session: Session, day: date, *, horizon_days: int) -> list[Customer]:
    """The live customers created by `day`, with their features at `day` and what followed."""
    t, d90, d365, end = (x.isoformat() for x in (day, day - timedelta(90), day - timedelta(365),
                                                 day + timedelta(horizon_days)))
    c = customers.c
    found = {r.contact_id: Customer(r.contact_id, r.owner_id, r.team, r.region) for r in session.execute(
        select(c.contact_id, c.owner_id, c.team, c.region).where(c.live.is_(True), c.created_day <= t))}
    last: dict[str, list[str]] = defaultdict(list)

    o = opportunities.c
    won = (o.status == "won") & (o.closed_day != "")
    won_by = won & (o.closed_day <= t)

    def n(cond: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((cond, 1), else_=0))

    for r in session.execute(select(
            o.contact_id, func.max(case((won_by, o.closed_day))), func.max(case((o.created_day <= t, o.created_day))),
            n(won_by & (o.closed_day > d90)), n(won_by & (o.closed_day > d365)),
            func.sum(case((won_by & (o.closed_day > d365), o.amount_units), else_=0)),
            n((o.created_day != "") & (o.created_day <= t) & ((o.closed_day == "") | (o.closed_day > t))),
            n((o.status == "lost") & (o.closed_day != "") & (o.closed_day <= t) & (o.closed_day > d365)),
            n(won & (o.closed_day > t) & (o.closed_day <= end)),
    ).where(o.contact_id != "").group_by(o.contact_id)):
        cust = found.get(r[0])
        if cust is None:
            continue
        cust.values.update(days_since_purchase=_days(day, r[1]), purchases_90d=float(r[3] or 0),
                           purchases_365d=float(r[4] or 0),
                           amount_365d_log=math.log10(1 + int(r[5] or 0) / AMOUNT_SCALE),
                           open_deals=float(r[6] or 0), lost_365d=float(r[7] or 0))
        cust.bought_before, cust.bought_after = r[1] is not None, bool(r[8])
        last[r[0]].append(r[2] or "")

    tk = tickets.c
    for r in session.execute(select(
            tk.contact_id, n((tk.created_day > d365) & (tk.created_day <= t)),
            n((tk.created_day != "") & (tk.created_day <= t) & ((tk.solved_day == "") | (tk.solved_day > t))),
            func.max(case((tk.created_day <= t, tk.created_day))),
    ).where(tk.contact_id != "", tk.created_day != "").group_by(tk.contact_id)):
        if (cust := found.get(r[0])) is not None:
            cust.values.update(tickets_365d=float(r[1] or 0), open_tickets=float(r[2] or 0))
            last[r[0]].append(r[3] or "")

    cs = csat_answers.c
    answered = cs.answered_day <= t
    for r in session.execute(select(
            tk.contact_id, func.sum(case((answered, cs.rating), else_=0)), n(answered), n(answered & (cs.rating <= 2)),
    ).select_from(csat_answers.join(tickets, and_(tk.ticket_id == cs.ticket_id, tk.contact_id != "")))
            .group_by(tk.contact_id)):
        if (cust := found.get(r[0])) is not None and r[2]:
            cust.values.update(csat_avg=float(r[1]) / float(r[2]), low_csat=float(r[3] or 0))

    e = email_engagements.c
    recent = (e.day > d90) & (e.day <= t)
    for r in session.execute(select(
            e.contact_id, n(recent & (e.kind == "opened")), n(recent & (e.kind == "clicked")),
            func.max(case((e.day <= t, e.day))),
    ).group_by(e.contact_id)):
        if (cust := found.get(r[0])) is not None:
            cust.values.update(email_opens_90d=float(r[1] or 0), email_clicks_90d=float(r[2] or 0))
            last[r[0]].append(r[3] or "")

    for cust in found.values():
        seen = [d for d in last.get(cust.contact_id, []) if d]
        cust.values["days_since_interaction"] = _days(day, max(seen) if seen else None)
    return list(found.values())


DEFAULTS = {"days_since_purchase": float(NONE_DAYS), "days_since_interaction": float(NONE_DAYS), "csat_avg": 3.0}


def vector(cust: Customer) -> list[float]:
    return [cust.values.get(name, DEFAULTS.get(name, 0.0)) for name in NAMES]
