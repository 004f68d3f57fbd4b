"""Email figures of send waves (`tally`, shared with the campaign reports) and the email open-rate
report over time: per day or ISO week the mails were delivered, over all the caller's campaigns or
one series per campaign.

Deliveries, opens, clicks and unsubscribes are one row per (wave, contact) each (the first one);
recipients, failures and whether a wave is still sending come from the waves' newest snapshots.
Rates are over the delivered mails: of their recipients, who opened / clicked. A wave for which
marketing published no `email.sent` (older data) counts its snapshot's delivered mails instead,
on the day it started sending, with every open of the wave (at most one per delivered mail)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Row, and_, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.visitors import replacement_traverse

from crm.reporting.v1.reporting_pb2 import EmailOpenRateReport, EmailStats, GetEmailOpenRateRequest, OpenRatePoint
from crm_reporting.rules import FINISHED_WAVES, check_days, rate
from crm_reporting.store import events_applied
from crm_reporting.tables import campaigns, email_engagements, email_rollup, waves
from crm_reporting.usecases import CAMPAIGNS_VISIBLE
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

INTERVALS = ("day", "week")
KINDS = ("opened", "clicked", "unsubscribed")
_E = email_engagements
_SENT = _E.alias("engaged_sent")
_OF_MAIL = {kind: _E.alias(f"engaged_{kind}") for kind in KINDS}
_Rated = TypeVar("_Rated", EmailStats, OpenRatePoint)   # both have optional open_rate and click_rate


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
        # field by field: a loop of getattr / setattr cost more than the report's SQL
        self.waves += other.waves
        self.sending += other.sending
        self.recipients += other.recipients
        self.failed += other.failed
        self.delivered += other.delivered
        self.opened += other.opened
        self.clicked += other.clicked
        self.unsubscribed += other.unsubscribed
        self.opened_delivered += other.opened_delivered
        self.clicked_delivered += other.clicked_delivered
        self.unsubscribed_delivered += other.unsubscribed_delivered
        return self

    def _rates(self, message: _Rated) -> _Rated:
        open_rate = rate(self.opened_delivered, self.delivered)
        click_rate = rate(self.clicked_delivered, self.delivered)
        if open_rate is not None:
            message.open_rate = open_rate
        if click_rate is not None:
            message.click_rate = click_rate
        return message

    def message(self) -> EmailStats:
        return self._rates(EmailStats(
            waves=self.waves, waves_sending=self.sending, recipients=self.recipients, sent=self.delivered + self.failed,
            delivered=self.delivered, failed=self.failed, opened=self.opened, clicked=self.clicked,
            unsubscribed=self.unsubscribed))

    def point(self, period: str = "", campaign_id: str = "", campaign_name: str = "") -> OpenRatePoint:
        return self._rates(OpenRatePoint(
            period=period, campaign_id=campaign_id, campaign_name=campaign_name, delivered=self.delivered,
            opened=self.opened_delivered, clicked=self.clicked_delivered, unsubscribed=self.unsubscribed_delivered))


def _of_mail(kind: str) -> ColumnElement[bool]:
    """The `kind` row of the delivery row's mail."""
    other = _OF_MAIL[kind]
    same: ColumnElement[bool] = and_(other.c.wave_id == _SENT.c.wave_id, other.c.contact_id == _SENT.c.contact_id,
                                     other.c.kind == kind)
    return same


def _deliveries() -> FromClause:
    joined: FromClause = _SENT.join(campaigns, campaigns.c.campaign_id == _SENT.c.campaign_id)
    for kind in KINDS:
        joined = joined.outerjoin(_OF_MAIL[kind], _of_mail(kind))
    return joined


def _on_rollup(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """`expr` with the delivery row's columns (`_SENT`) as the rollup's of the same name."""
    def swap(element: Any) -> Any:
        if isinstance(element, Column) and element.table is _SENT:
            return email_rollup.c[element.name]
        return None
    out: ColumnElement[Any] = replacement_traverse(expr, {}, swap)  # type: ignore[call-overload]
    return out


def _cohorts(session: Session, keys: Sequence[ColumnElement[Any]], where: Sequence[ColumnElement[bool]],
             use_rollup: bool = True) -> dict[tuple[Any, ...], Tally]:
    """Per `keys` (columns of `campaigns` or of the delivery row `_SENT`: its wave, day, week): mails
    delivered (email.sent rows), and how many of their recipients opened, clicked, unsubscribed
    (each once). From the email rollup unless `use_rollup` is False (the engagement rows)."""
    out: dict[tuple[Any, ...], Tally] = {}
    n = len(keys)
    if use_rollup:
        r = email_rollup.c
        delivered = func.sum(r.delivered)
        on = [_on_rollup(k) for k in keys]
        stmt = (select(*on, delivered, *(func.sum(r[f"{k}_delivered"]) for k in KINDS))
                .select_from(email_rollup.join(campaigns, campaigns.c.campaign_id == r.campaign_id))
                .where(*(_on_rollup(w) for w in where)).group_by(*on).having(delivered > 0))
    else:
        stmt = (select(*keys, func.count(), *(func.count(_OF_MAIL[k].c.kind) for k in KINDS))
                .select_from(_deliveries()).where(_SENT.c.kind == "sent", *where).group_by(*keys))
    for row in session.execute(stmt):
        t = out.setdefault(tuple(row[:n]), Tally())
        t.delivered, t.opened_delivered, t.clicked_delivered, t.unsubscribed_delivered = (int(v) for v in row[n:])
    return out


@dataclass
class _Wave:
    wave_id: str
    campaign_id: str
    campaign_name: str
    send_day: str
    send_week: str
    tally: Tally
    has_deliveries: bool   # marketing published email.sent for it


def _engaged(session: Session, where: Sequence[ColumnElement[bool]], use_rollup: bool) -> dict[str, dict[str, int]]:
    """wave → kind → how many recipients did it (once each)."""
    engaged: dict[str, dict[str, int]] = {}
    if use_rollup:
        r = email_rollup.c
        for wid, *counts in session.execute(
            select(r.wave_id, *(func.sum(r[k]) for k in KINDS))
            .select_from(email_rollup.join(campaigns, campaigns.c.campaign_id == r.campaign_id))
            .where(*where).group_by(r.wave_id)
        ):
            engaged[wid] = {k: int(c) for k, c in zip(KINDS, counts, strict=True) if c}
        return engaged
    kind = _E.c.kind
    for wid, what, count in session.execute(
        select(_E.c.wave_id, kind, func.count())
        .select_from(_E.join(campaigns, campaigns.c.campaign_id == _E.c.campaign_id))
        .where(kind.in_(KINDS), *where).group_by(_E.c.wave_id, kind)
    ):
        engaged.setdefault(wid, {})[what] = int(count)
    return engaged


_WAVE_COLUMNS = (waves.c.wave_id, waves.c.campaign_id, campaigns.c.name, waves.c.status, waves.c.recipients,
                 waves.c.delivered, waves.c.failed, waves.c.send_day, waves.c.send_week)
_ROLLUP_SUMS = ("delivered", *(f"{k}_delivered" for k in KINDS), *KINDS)


def _waves_on_rollup(session: Session, where: Sequence[ColumnElement[bool]]
                     ) -> tuple[Sequence[Row[Any]], dict[tuple[Any, ...], Tally], dict[str, dict[str, int]]]:
    """The waves with their rollup sums in one statement (what `_cohorts` and `_engaged` count per
    wave, a round trip each otherwise): the waves' rows, their cohorts, their engagements."""
    r = email_rollup.c
    per_wave = (select(r.wave_id, *(func.sum(r[name]).label(name) for name in _ROLLUP_SUMS))
                .select_from(email_rollup.join(campaigns, campaigns.c.campaign_id == r.campaign_id))
                .where(*where).group_by(r.wave_id).subquery("per_wave"))
    joined = waves.join(campaigns, campaigns.c.campaign_id == waves.c.campaign_id).outerjoin(
        per_wave, per_wave.c.wave_id == waves.c.wave_id)
    rows = session.execute(select(*_WAVE_COLUMNS, *(per_wave.c[name] for name in _ROLLUP_SUMS))
                           .select_from(joined).where(*where)).all()
    cohorts: dict[tuple[Any, ...], Tally] = {}
    engaged: dict[str, dict[str, int]] = {}
    width = len(_WAVE_COLUMNS)
    for row in rows:
        delivered, opened_d, clicked_d, unsubscribed_d, *kinds = (int(v or 0) for v in row[width:])
        if delivered > 0:     # as `_cohorts`: a wave with deliveries
            cohorts[(row.wave_id,)] = Tally(delivered=delivered, opened_delivered=opened_d,
                                            clicked_delivered=clicked_d, unsubscribed_delivered=unsubscribed_d)
        engaged[row.wave_id] = dict(zip(KINDS, kinds, strict=True))
    return rows, cohorts, engaged


def _waves(session: Session, where: Sequence[ColumnElement[bool]], use_rollup: bool = True) -> list[_Wave]:
    """Every wave of the campaigns `where` selects, with its figures."""
    if use_rollup:
        found, cohorts, engaged = _waves_on_rollup(session, where)
    else:
        cohorts = _cohorts(session, [_SENT.c.wave_id], where, use_rollup)
        engaged = _engaged(session, where, use_rollup)
        found = session.execute(select(*_WAVE_COLUMNS).select_from(
            waves.join(campaigns, campaigns.c.campaign_id == waves.c.campaign_id)).where(*where)).all()
    out = []
    for w in found:
        counts = engaged.get(w.wave_id, {})
        t = Tally(waves=1, sending=int(w.status not in FINISHED_WAVES), recipients=w.recipients, failed=w.failed,
                  opened=counts.get("opened", 0), clicked=counts.get("clicked", 0),
                  unsubscribed=counts.get("unsubscribed", 0))
        live = cohorts.get((w.wave_id,))
        if live is not None:
            t.delivered, t.opened_delivered = live.delivered, live.opened_delivered
            t.clicked_delivered, t.unsubscribed_delivered = live.clicked_delivered, live.unsubscribed_delivered
        else:   # no email.sent for this wave: its snapshot's count, and its opens up to that
            t.delivered = w.delivered
            t.opened_delivered, t.clicked_delivered, t.unsubscribed_delivered = (
                min(v, w.delivered) for v in (t.opened, t.clicked, t.unsubscribed))
        out.append(_Wave(w.wave_id, w.campaign_id, w.name, w.send_day, w.send_week, t, live is not None))
    return out


def tally(session: Session, where: Sequence[ColumnElement[bool]], *, by: str, use_rollup: bool = True
          ) -> dict[str, Tally]:
    """Email counts of the campaigns `where` selects (over `campaigns`), per "campaign" or per "wave"."""
    out: dict[str, Tally] = {}
    for w in _waves(session, where, use_rollup):
        out.setdefault(w.campaign_id if by == "campaign" else w.wave_id, Tally()).add(w.tally)
    return out


def email_open_rate(session: Session, *, principal: Principal, request: GetEmailOpenRateRequest,
                    use_rollup: bool = True) -> EmailOpenRateReport:
    """Mails delivered per period (and campaign), and what their recipients did since (from the
    email rollup; `use_rollup` False: the engagement rows, which it must always equal)."""
    check_days(request)
    interval = request.interval or "day"
    if interval not in INTERVALS:
        raise InvalidArgument(f"use one of {', '.join(INTERVALS)}", field="interval")
    where = [campaigns.c.live.is_(True), CAMPAIGNS_VISIBLE.clause(principal, campaigns)]
    if request.campaign_id:
        where.append(campaigns.c.campaign_id == request.campaign_id)
    if request.channel:
        where.append(campaigns.c.channel == request.channel)

    def wanted(day: str) -> bool:
        return bool(day) and (not request.from_day or day >= request.from_day) and (
            not request.to_day or day <= request.to_day)

    day_window = [_SENT.c.day >= request.from_day] if request.from_day else []
    day_window += [_SENT.c.day <= request.to_day] if request.to_day else []
    keys: list[ColumnElement[Any]] = [_SENT.c.day if interval == "day" else _SENT.c.week]
    if request.by_campaign:
        keys += [campaigns.c.campaign_id, campaigns.c.name]
    points = _cohorts(session, keys, [*where, *day_window], use_rollup)
    for w in _waves(session, where, use_rollup):   # waves without email.sent: on the day they started sending
        if not w.has_deliveries and w.tally.delivered and wanted(w.send_day):
            period = w.send_day if interval == "day" else w.send_week
            key = (period, w.campaign_id, w.campaign_name) if request.by_campaign else (period,)
            mail_only = Tally(delivered=w.tally.delivered, opened_delivered=w.tally.opened_delivered,
                              clicked_delivered=w.tally.clicked_delivered,
                              unsubscribed_delivered=w.tally.unsubscribed_delivered)
            points.setdefault(key, Tally()).add(mail_only)
    total = Tally()
    out = []
    for key, t in sorted(points.items(), key=lambda kv: (kv[0][0], kv[0][2:], kv[0][1:2])):
        total.add(t)
        out.append(t.point(*key))
    return EmailOpenRateReport(interval=interval, points=out, total=total.point(),
                               events_applied=events_applied(session))
