"""The campaign ROI table (per campaign, sortable, paged, with a per-channel summary) and one
campaign's report (its row, its waves, how its leads came).

Per campaign: budget and actual cost, email figures (usecases.email.tally), distinct attributed
leads and their conversions, and the won deals whose first and whose last touch was the campaign
(store.campaigns keeps each deal's two campaigns), with ROI = (revenue - cost) / cost, null when
nothing was spent. Money is counted in the campaign's currency (rules.campaign_currency); deals in
another one are counted, not converted."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, case, func, select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import (
    CampaignMoney,
    CampaignReport,
    CampaignRoi,
    CampaignRoiTable,
    ChannelRoi,
    CountBucket,
    GetCampaignReportRequest,
    ListCampaignRoiRequest,
    WaveStats,
)
from crm_reporting.rules import campaign_currency, check_days, format_amount, rate, roi
from crm_reporting.store import events_applied
from crm_reporting.tables import campaign_leads, campaign_revenue_rollup, campaigns, leads, opportunities, waves
from crm_reporting.usecases import CAMPAIGNS_VISIBLE
from crm_reporting.usecases.email import Tally, tally
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, NotFound
from crmkit.paging import decode_cursor, encode_cursor, page_size

campaign_col = campaigns.c.campaign_id
_WON = opportunities.c.status == "won"
CAMPAIGN_STATUSES = ("draft", "scheduled", "active", "completed", "cancelled")  # marketing's, as its events carry them


@dataclass
class _Money:
    """A campaign's (or a channel's, per currency) money in integer ten-thousandths."""

    budget: int = 0
    cost: int = 0
    first_deals: int = 0
    first_revenue: int = 0
    last_deals: int = 0
    last_revenue: int = 0

    def add(self, other: _Money) -> None:
        self.budget += other.budget
        self.cost += other.cost
        self.first_deals += other.first_deals
        self.first_revenue += other.first_revenue
        self.last_deals += other.last_deals
        self.last_revenue += other.last_revenue

    def message(self, currency: str) -> CampaignMoney:
        money = CampaignMoney(currency_code=currency, budget=format_amount(self.budget),
                              actual_cost=format_amount(self.cost), first_touch_deals=self.first_deals,
                              first_touch_revenue=format_amount(self.first_revenue), last_touch_deals=self.last_deals,
                              last_touch_revenue=format_amount(self.last_revenue))
        first, last = roi(self.first_revenue, self.cost), roi(self.last_revenue, self.cost)
        if first is not None:
            money.first_touch_roi = first
        if last is not None:
            money.last_touch_roi = last
        return money


@dataclass
class _Row:
    message: CampaignRoi
    email: Tally
    money: _Money


def _optional(message: Any, name: str) -> float | None:
    return getattr(message, name) if message.HasField(name) else None


def _units(text: str) -> Decimal:
    return Decimal(text or "0")


# order_by name → the row's value (None sorts last in either direction)
ORDER_BY: dict[str, Callable[[CampaignRoi], Any]] = {
    "first_touch_roi": lambda r: _optional(r.money, "first_touch_roi"),
    "last_touch_roi": lambda r: _optional(r.money, "last_touch_roi"),
    "first_touch_revenue": lambda r: _units(r.money.first_touch_revenue),
    "last_touch_revenue": lambda r: _units(r.money.last_touch_revenue),
    "actual_cost": lambda r: _units(r.money.actual_cost),
    "leads": lambda r: r.leads,
    "conversions": lambda r: r.conversions,
    "open_rate": lambda r: _optional(r.email, "open_rate"),
    "click_rate": lambda r: _optional(r.email, "click_rate"),
    "start_date": lambda r: r.start_date or None,
    "name": lambda r: r.name,
}
DEFAULT_ORDER = "-first_touch_roi"


def _sort_key(order_by: str) -> tuple[Callable[[CampaignRoi], Any], bool]:
    value_of = ORDER_BY.get(order_by.removeprefix("-"))
    if value_of is None:
        raise InvalidArgument(f"order by one of {', '.join(ORDER_BY)}, '-' first for descending", field="order_by")
    return value_of, order_by.startswith("-")


def _order(rows: list[_Row], value_of: Callable[[CampaignRoi], Any], descending: bool) -> list[_Row]:
    rows = sorted(rows, key=lambda r: (r.message.name, r.message.campaign_id))       # ties: by name
    valued = [r for r in rows if value_of(r.message) is not None]
    valued.sort(key=lambda r: value_of(r.message), reverse=descending)              # stable: ties keep name order
    return valued + [r for r in rows if value_of(r.message) is None]


def _filters(principal: Principal, request: ListCampaignRoiRequest) -> list[ColumnElement[bool]]:
    check_days(request)
    where = [campaigns.c.live.is_(True), CAMPAIGNS_VISIBLE.clause(principal, campaigns)]
    if request.channel:
        where.append(campaigns.c.channel == request.channel)
    if request.status:
        if request.status not in CAMPAIGN_STATUSES:  # a typo is a 400, not an empty list
            raise InvalidArgument(f"must be one of {', '.join(CAMPAIGN_STATUSES)}", field="status")
        where.append(campaigns.c.status == request.status)
    if request.from_day:
        where.append(campaigns.c.start_date >= request.from_day)
    if request.to_day:
        where.append(campaigns.c.start_date <= request.to_day)
    return where


def _lead_counts(session: Session, key: ColumnElement[str], where: Sequence[ColumnElement[bool]]
                 ) -> dict[str, tuple[int, int]]:
    """key → (distinct leads, distinct converted leads) over the campaigns `where` selects, in one
    statement (a lead id names at most one sales lead, so the outer join repeats no lead key)."""
    key_of = campaign_leads.c.lead_key
    converted = case((leads.c.status == "converted", key_of), else_=None)
    joined = (campaign_leads.join(campaigns, campaign_col == campaign_leads.c.campaign_id)
              .outerjoin(leads, leads.c.lead_id == campaign_leads.c.lead_id))
    return {k: (int(n), int(c)) for k, n, c in session.execute(
        select(key, func.count(key_of.distinct()), func.count(converted.distinct())).select_from(joined)
        .where(*where).group_by(key))}


def _revenue(session: Session, where: Sequence[ColumnElement[bool]], use_rollup: bool = True
             ) -> tuple[dict[str, dict[str, int]], dict[tuple[str, str, str], tuple[int, int]]]:
    """(campaign → currency → attributed won deals, (campaign, touch, currency) → (deals, units)),
    from the campaign revenue rollup unless `use_rollup` is False (the deals)."""
    if use_rollup:
        r = campaign_revenue_rollup.c
        won: dict[str, dict[str, int]] = defaultdict(dict)
        totals: dict[tuple[str, str, str], tuple[int, int]] = {}
        for cid, touch, cur, n, units in session.execute(
            select(r.campaign_id, r.touch, r.currency_code, r.n, r.amount_units)
            .select_from(campaign_revenue_rollup.join(campaigns, r.campaign_id == campaign_col)).where(*where)
        ):
            if touch != "both":
                totals[(cid, touch, cur)] = (int(n), int(units))
            # a deal whose first and last touch are the same campaign counts once
            won[cid][cur] = won[cid].get(cur, 0) + (-int(n) if touch == "both" else int(n))
        return won, totals
    currency = opportunities.c.currency_code
    first, last = opportunities.c.first_campaign_id, opportunities.c.last_campaign_id
    deals: dict[str, dict[str, int]] = defaultdict(dict)
    sums: dict[tuple[str, str, str], tuple[int, int]] = {}
    for touch, column in (("first", first), ("last", last)):
        for cid, cur, n, units in session.execute(
            select(campaign_col, currency, func.count(), func.sum(opportunities.c.amount_units))
            .select_from(opportunities.join(campaigns, column == campaign_col))
            .where(_WON, *where).group_by(campaign_col, currency)
        ):
            sums[(cid, touch, cur)] = (int(n), int(units or 0))
            deals[cid][cur] = deals[cid].get(cur, 0) + int(n)
    # a deal whose first and last touch are the same campaign counts once: each join is indexed
    # (first_campaign_id / last_campaign_id), where one join on "first or last" read every deal
    for cid, cur, n in session.execute(
        select(campaign_col, currency, func.count()).select_from(opportunities.join(campaigns, first == campaign_col))
        .where(_WON, last == first, *where).group_by(campaign_col, currency)
    ):
        deals[cid][cur] -= int(n)
    return deals, sums


def _rows(session: Session, where: Sequence[ColumnElement[bool]], use_rollup: bool = True) -> list[_Row]:
    email = tally(session, where, by="campaign", use_rollup=use_rollup)
    lead_counts = _lead_counts(session, campaign_col, where)
    deals, sums = _revenue(session, where, use_rollup)
    rows = []
    for c in session.execute(select(campaigns).where(*where)):
        by_currency = deals.get(c.campaign_id, {})
        currency = campaign_currency(c.cost_currency, c.budget_currency, by_currency)
        first_deals, first_units = sums.get((c.campaign_id, "first", currency), (0, 0))
        last_deals, last_units = sums.get((c.campaign_id, "last", currency), (0, 0))
        money = _Money(budget=c.budget_units if c.budget_currency in ("", currency) else 0, cost=c.cost_units,
                       first_deals=first_deals, first_revenue=first_units, last_deals=last_deals,
                       last_revenue=last_units)
        n_leads, conversions = lead_counts.get(c.campaign_id, (0, 0))
        t = email.get(c.campaign_id, Tally())
        rows.append(_Row(_campaign_roi(c, t, n_leads, conversions, money, currency,
                                       sum(n for cur, n in by_currency.items() if cur != currency)), t, money))
    return rows


def _campaign_roi(c: Row[Any], t: Tally, n_leads: int, conversions: int, money: _Money, currency: str,
                  other_deals: int) -> CampaignRoi:
    row = CampaignRoi(campaign_id=c.campaign_id, name=c.name, channel=c.channel, status=c.status,
                      owner_id=c.owner_id, team=c.team, region=c.region, start_date=c.start_date,
                      end_date=c.end_date, email=t.message(), leads=n_leads, conversions=conversions,
                      money=money.message(currency), other_currency_deals=other_deals)
    conversion_rate = rate(conversions, n_leads)
    if conversion_rate is not None:
        row.conversion_rate = conversion_rate
    return row


def _channels(session: Session, rows: list[_Row], where: Sequence[ColumnElement[bool]]) -> list[ChannelRoi]:
    lead_counts = _lead_counts(session, campaigns.c.channel, where)   # distinct across the channel's campaigns
    grouped: dict[str, list[_Row]] = defaultdict(list)
    for r in rows:
        grouped[r.message.channel].append(r)
    out = []
    for channel in sorted(grouped):
        email, money = Tally(), defaultdict[str, _Money](_Money)
        for r in grouped[channel]:
            email.add(r.email)
            money[r.message.money.currency_code].add(r.money)
        n_leads, conversions = lead_counts.get(channel, (0, 0))
        summary = ChannelRoi(channel=channel, campaigns=len(grouped[channel]), email=email.message(), leads=n_leads,
                             conversions=conversions, money=[money[cur].message(cur) for cur in sorted(money)])
        conversion_rate = rate(conversions, n_leads)
        if conversion_rate is not None:
            summary.conversion_rate = conversion_rate
        out.append(summary)
    return out


def campaign_roi(session: Session, *, principal: Principal, request: ListCampaignRoiRequest,
                 use_rollup: bool = True) -> CampaignRoiTable:
    """The ROI table: sorted by `order_by`, one page of it; the channel summary covers every row.
    `use_rollup` False: email and revenue figures from the engagement rows and the deals instead of
    their rollups."""
    where = _filters(principal, request)
    value_of, descending = _sort_key(request.order_by or DEFAULT_ORDER)
    start = decode_cursor(request.page.page_token) if request.page.page_token else 0
    size = page_size(request.page.page_size)
    rows = _order(_rows(session, where, use_rollup), value_of, descending)
    table = CampaignRoiTable(campaigns=[r.message for r in rows[start:start + size]],
                             channels=_channels(session, rows, where), events_applied=events_applied(session))
    table.page.SetInParent()   # always there: an empty next_page_token says "last page"
    if start + size < len(rows):
        table.page.next_page_token = encode_cursor(start + size)
    return table


def campaign_report(session: Session, *, principal: Principal, request: GetCampaignReportRequest) -> CampaignReport:
    """One campaign: its ROI row, its waves, its leads by how they came. Hidden or unknown: NOT_FOUND."""
    where = [campaigns.c.live.is_(True), CAMPAIGNS_VISIBLE.clause(principal, campaigns), campaign_col == request.campaign_id]
    rows = _rows(session, where) if request.campaign_id else []
    if not rows:
        raise NotFound(f"no campaign {request.campaign_id!r} to report on", field="campaign_id")
    per_wave = tally(session, where, by="wave")
    known = {w.wave_id: w for w in session.execute(
        select(waves.c.wave_id, waves.c.status, waves.c.send_day, waves.c.kind)
        .where(waves.c.campaign_id == request.campaign_id))}
    wave_stats = [WaveStats(wave_id=wid, status=w.status, send_day=w.send_day, kind=w.kind, email=t.message())
                  for wid, t in per_wave.items() if (w := known.get(wid)) is not None]
    wave_stats.sort(key=lambda w: (w.send_day, w.wave_id))
    source = campaign_leads.c.source
    by_source = session.execute(
        select(source, func.count(campaign_leads.c.lead_key.distinct()))
        .where(campaign_leads.c.campaign_id == request.campaign_id).group_by(source)
        .order_by(func.count(campaign_leads.c.lead_key.distinct()).desc(), source)
    )
    return CampaignReport(campaign=rows[0].message, waves=wave_stats,
                          leads_by_source=[CountBucket(key=k, count=n) for k, n in by_source],
                          events_applied=events_applied(session))
