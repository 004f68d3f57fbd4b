"""Email figures of send waves (`tally`, shared with the campaign reports) and the email open-rate
report over time: per day or ISO week the mails were delivered, over all the caller's campaigns or
one series per campaign.

Deliveries, opens, clicks and unsubscribes are one row per (wave, contact) each (the first one);
recipients, failures and whether a wave is still sending come from the waves' newest snapshots.
Rates are over the delivered mails: of their recipients, who opened / clicked."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause

from crm.reporting.v1.reporting_pb2 import EmailOpenRateReport, EmailStats, GetEmailOpenRateRequest, OpenRatePoint
from crm_reporting.rules import FINISHED_WAVES, check_days, rate
from crm_reporting.store import events_applied
from crm_reporting.tables import campaigns, email_engagements, waves
from crm_reporting.usecases import VISIBLE
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

INTERVALS = ("day", "week")
_E = email_engagements
_SENT, _OPENED, _CLICKED, _UNSUBSCRIBED = (_E.alias(f"engaged_{k}") for k in ("sent", "opened", "clicked", "unsub"))


@dataclass
class Tally:
    """Email counts of some waves, added up; `*_delivered`: of the delivered mails' recipients."""

    waves: int = 0
    sending: int = 0
    recipients: int = 0
    failed: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    opened_delivered: int = 0
    clicked_delivered: int = 0
    unsubscribed_delivered: int = 0

    def add(self, other: Tally) -> Tally:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def message(self) -> EmailStats:
        stats = EmailStats(waves=self.waves, waves_sending=self.sending, recipients=self.recipients,
                           sent=self.delivered + self.failed, delivered=self.delivered, failed=self.failed,
                           opened=self.opened, clicked=self.clicked, unsubscribed=self.unsubscribed)
        open_rate, click_rate = rate(self.opened_delivered, self.delivered), rate(self.clicked_delivered, self.delivered)
        if open_rate is not None:
            stats.open_rate = open_rate
        if click_rate is not None:
            stats.click_rate = click_rate
        return stats

    def point(self, period: str = "", campaign_id: str = "", campaign_name: str = "") -> OpenRatePoint:
        point = OpenRatePoint(period=period, campaign_id=campaign_id, campaign_name=campaign_name,
                              delivered=self.delivered, opened=self.opened_delivered, clicked=self.clicked_delivered,
                              unsubscribed=self.unsubscribed_delivered)
        open_rate, click_rate = rate(self.opened_delivered, self.delivered), rate(self.clicked_delivered, self.delivered)
        if open_rate is not None:
            point.open_rate = open_rate
        if click_rate is not None:
            point.click_rate = click_rate
        return point


def _same_mail(other: Any, kind: str) -> ColumnElement[bool]:
    """`other` (an alias of email_engagements) is the `kind` of the delivery row's mail."""
    same: ColumnElement[bool] = and_(other.c.wave_id == _SENT.c.wave_id, other.c.contact_id == _SENT.c.contact_id,
                                     other.c.kind == kind)
    return same


def delivered_cohorts(session: Session, keys: Sequence[ColumnElement[Any]], where: Sequence[ColumnElement[bool]],
                      out: dict[tuple[Any, ...], Tally]) -> None:
    """Per `keys` (columns of `campaigns` or of the delivery row `_SENT`): mails delivered, and how
    many of their recipients opened, clicked, unsubscribed (each once)."""
    joined: FromClause = (
        _SENT.join(campaigns, campaigns.c.campaign_id == _SENT.c.campaign_id)
        .outerjoin(_OPENED, _same_mail(_OPENED, "opened"))
        .outerjoin(_CLICKED, _same_mail(_CLICKED, "clicked"))
        .outerjoin(_UNSUBSCRIBED, _same_mail(_UNSUBSCRIBED, "unsubscribed")))
    n = len(keys)
    for row in session.execute(
        select(*keys, func.count(), func.count(_OPENED.c.kind), func.count(_CLICKED.c.kind),
               func.count(_UNSUBSCRIBED.c.kind))
        .select_from(joined).where(_SENT.c.kind == "sent", *where).group_by(*keys)
    ):
        t = out.setdefault(tuple(row[:n]), Tally())
        t.delivered, t.opened_delivered, t.clicked_delivered, t.unsubscribed_delivered = (int(v) for v in row[n:])


# What `tally` groups by: the same value in the waves' snapshots, the deliveries and the engagements.
_BY = {
    "campaign": (campaigns.c.campaign_id, campaigns.c.campaign_id, campaigns.c.campaign_id),
    "wave": (waves.c.wave_id, _SENT.c.wave_id, _E.c.wave_id),
}


def tally(session: Session, where: Sequence[ColumnElement[bool]], *, by: str) -> dict[str, Tally]:
    """Email counts of the campaigns `where` selects (over `campaigns`), per campaign or per wave (`by`)."""
    wave_key, sent_key, engaged_key = _BY[by]
    out: dict[tuple[Any, ...], Tally] = {}
    finished = waves.c.status.in_(FINISHED_WAVES)
    for key, *counts in session.execute(
        select(wave_key, func.count(), func.sum(case((finished, 0), else_=1)), func.sum(waves.c.recipients),
               func.sum(waves.c.failed))
        .select_from(waves.join(campaigns, campaigns.c.campaign_id == waves.c.campaign_id))
        .where(*where).group_by(wave_key)
    ):
        t = out.setdefault((key,), Tally())
        t.waves, t.sending, t.recipients, t.failed = (int(v or 0) for v in counts)
    delivered_cohorts(session, [sent_key], where, out)
    kind = _E.c.kind
    for key, what, count in session.execute(
        select(engaged_key, kind, func.count())
        .select_from(_E.join(campaigns, campaigns.c.campaign_id == _E.c.campaign_id))
        .where(kind.in_(("opened", "clicked", "unsubscribed")), *where).group_by(engaged_key, kind)
    ):
        setattr(out.setdefault((key,), Tally()), what, int(count))
    return {key[0]: t for key, t in out.items()}


def email_open_rate(session: Session, *, principal: Principal, request: GetEmailOpenRateRequest) -> EmailOpenRateReport:
    """Mails delivered per period (and campaign), and what their recipients did since."""
    check_days(request)
    interval = request.interval or "day"
    if interval not in INTERVALS:
        raise InvalidArgument(f"use one of {', '.join(INTERVALS)}", field="interval")
    where = [campaigns.c.live.is_(True), VISIBLE.clause(principal, campaigns)]
    if request.campaign_id:
        where.append(campaigns.c.campaign_id == request.campaign_id)
    if request.channel:
        where.append(campaigns.c.channel == request.channel)
    if request.from_day:
        where.append(_SENT.c.day >= request.from_day)
    if request.to_day:
        where.append(_SENT.c.day <= request.to_day)
    keys: list[ColumnElement[Any]] = [_SENT.c.day if interval == "day" else _SENT.c.week]
    if request.by_campaign:
        keys += [campaigns.c.campaign_id, campaigns.c.name]
    cohorts: dict[tuple[Any, ...], Tally] = {}
    delivered_cohorts(session, keys, where, cohorts)
    total = Tally()
    points = []
    for key, t in sorted(cohorts.items(), key=lambda kv: (kv[0][0], kv[0][2:], kv[0][1:2])):
        total.add(t)
        points.append(t.point(*key))
    return EmailOpenRateReport(interval=interval, points=points, total=total.point(),
                               events_applied=events_applied(session))
