"""Email figures of send waves (`tally`, shared with the campaign reports) and the email open-rate
report over time: per day or ISO week of the waves' send day, over all the caller's campaigns or one
series per campaign.

Counts come from the waves' newest snapshots (recipients, sent, delivered, failed) and from each
recipient's first open / click / unsubscribe (once per wave and contact). A wave's delivered count
is final once it finished, so the rates are over finished waves only."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import EmailOpenRateReport, EmailStats, GetEmailOpenRateRequest, OpenRatePoint
from crm_reporting.rules import FINISHED_WAVES, check_days, rate
from crm_reporting.store import events_applied
from crm_reporting.tables import campaigns, email_engagements, waves
from crm_reporting.usecases import VISIBLE
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

INTERVALS = ("day", "week")
_FINISHED = waves.c.status.in_(FINISHED_WAVES)


@dataclass
class Tally:
    """Email counts of some waves, added up; `*_finished` are over finished waves (the rates')."""

    waves: int = 0
    sending: int = 0
    recipients: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    delivered_finished: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    opened_finished: int = 0
    clicked_finished: int = 0

    def add(self, other: Tally) -> Tally:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def message(self) -> EmailStats:
        stats = EmailStats(waves=self.waves, waves_sending=self.sending, recipients=self.recipients, sent=self.sent,
                           delivered=self.delivered, failed=self.failed, opened=self.opened, clicked=self.clicked,
                           unsubscribed=self.unsubscribed)
        open_rate = rate(self.opened_finished, self.delivered_finished)
        click_rate = rate(self.clicked_finished, self.delivered_finished)
        if open_rate is not None:
            stats.open_rate = open_rate
        if click_rate is not None:
            stats.click_rate = click_rate
        return stats


def tally(session: Session, keys: Sequence[ColumnElement[Any]], where: Sequence[ColumnElement[bool]]
          ) -> dict[tuple[Any, ...], Tally]:
    """Email counts of the waves of the campaigns `where` selects (over `campaigns` and `waves`),
    grouped by `keys` (columns of either)."""
    out: dict[tuple[Any, ...], Tally] = {}
    n = len(keys)

    def of(row: Any) -> Tally:
        return out.setdefault(tuple(row[:n]), Tally())

    joined = waves.join(campaigns, campaigns.c.campaign_id == waves.c.campaign_id)
    for row in session.execute(
        select(*keys, func.count(), func.sum(case((_FINISHED, 0), else_=1)), func.sum(waves.c.recipients),
               func.sum(waves.c.sent), func.sum(waves.c.delivered), func.sum(waves.c.failed),
               func.sum(case((_FINISHED, waves.c.delivered), else_=0)))
        .select_from(joined).where(*where).group_by(*keys)
    ):
        t = of(row)
        (t.waves, t.sending, t.recipients, t.sent, t.delivered, t.failed, t.delivered_finished) = (
            int(v or 0) for v in row[n:])
    kind = email_engagements.c.kind
    for row in session.execute(
        select(*keys, kind, func.count(), func.sum(case((_FINISHED, 1), else_=0)))
        .select_from(email_engagements.join(joined, waves.c.wave_id == email_engagements.c.wave_id))
        .where(*where).group_by(*keys, kind)
    ):
        t, what, count, finished = of(row), row[n], int(row[n + 1]), int(row[n + 2] or 0)
        if what == "opened":
            t.opened, t.opened_finished = count, finished
        elif what == "clicked":
            t.clicked, t.clicked_finished = count, finished
        elif what == "unsubscribed":
            t.unsubscribed = count
    return out


def email_open_rate(session: Session, *, principal: Principal, request: GetEmailOpenRateRequest) -> EmailOpenRateReport:
    check_days(request)
    interval = request.interval or "day"
    if interval not in INTERVALS:
        raise InvalidArgument(f"use one of {', '.join(INTERVALS)}", field="interval")
    period = waves.c.send_day if interval == "day" else waves.c.send_week
    where = [campaigns.c.live.is_(True), VISIBLE.clause(principal, campaigns), waves.c.send_day != ""]
    if request.campaign_id:
        where.append(campaigns.c.campaign_id == request.campaign_id)
    if request.channel:
        where.append(campaigns.c.channel == request.channel)
    if request.from_day:
        where.append(waves.c.send_day >= request.from_day)
    if request.to_day:
        where.append(waves.c.send_day <= request.to_day)
    keys: list[ColumnElement[Any]] = [period]
    if request.by_campaign:
        keys += [campaigns.c.campaign_id, campaigns.c.name]
    total = Tally()
    points = []
    for key, t in sorted(tally(session, keys, where).items(), key=lambda kv: (kv[0][0], kv[0][2:], kv[0][1:2])):
        total.add(t)
        point = OpenRatePoint(period=key[0], email=t.message())
        if request.by_campaign:
            point.campaign_id, point.campaign_name = key[1], key[2]
        points.append(point)
    return EmailOpenRateReport(interval=interval, points=points, total=total.message(),
                               events_applied=events_applied(session))
