"""Analytics reads: the catalogue, a custom query and its drill-down, the standard reports of
MISSION §5 (each a query of the catalogue, except monthly attainment, which sets won amounts
against the targets), and the weighted-pipeline forecast."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import (
    Catalogue,
    DrillDownRequest,
    DrillDownResult,
    Forecast,
    ForecastLine,
    ForecastRequest,
    GetStandardReportRequest,
    Query,
    QueryColumn,
    QueryFilter,
    QueryResult,
    QueryRow,
    RunQueryRequest,
)
from crm_reporting.analytics import catalogue, query
from crm_reporting.periods import next_quarter, shift_quarter
from crm_reporting.rules import check_days, format_amount
from crm_reporting.store import events_applied
from crm_reporting.tables import opportunities, opportunity_rollup, sales_targets
from crm_reporting.usecases import VISIBLE
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

API = "/api/v1/reports"


def _q(source: str, dimensions: list[str], measures: list[str], *, time_field: str = "", grain: str = "",
       order_by: str = "", limit: int = 0, filters: tuple[tuple[str, str, list[str]], ...] = ()) -> Query:
    return Query(source=source, dimensions=dimensions, measures=measures, time_field=time_field, time_grain=grain,
                 order_by=order_by, limit=limit,
                 filters=[QueryFilter(field=f, op=op, values=v) for f, op, v in filters])


# name → (title, the query; None: computed otherwise). Campaign ROI and email open rates have
# their own RPCs (ListCampaignRoi, GetEmailOpenRate) and are listed with their paths.
STANDARD: dict[str, tuple[str, Query | None]] = {
    "sales_funnel": ("Sales funnel: open and won opportunities by stage, in stage-probability order",
                     _q("opportunities", ["stage"], ["count", "avg_probability"], order_by="avg_probability",
                        filters=(("status", "in", ["open", "won"]),))),
    "monthly_attainment": ("Monthly attainment: won amount against the target, per rep and team", None),
    "rep_ranking": ("Rep ranking: won amount, deals won and win rate per rep (by close date)",
                    _q("opportunities", ["owner"], ["won_amount", "won", "win_rate"], time_field="closed",
                       order_by="-won_amount")),
    "deal_cycle": ("Average deal cycle: days from creation to win, per month won",
                   _q("opportunities", [], ["avg_cycle_days", "won"], time_field="closed", grain="month")),
    "lead_sources": ("Lead sources: leads, conversions and conversion rate per source",
                     _q("leads", ["source"], ["count", "converted", "conversion_rate"], order_by="-count")),
    "ticket_resolution": ("Ticket resolution time per month solved and priority",
                          _q("tickets", ["priority"], ["solved", "avg_resolution_hours", "avg_first_response_hours"],
                             time_field="solved", grain="month")),
    "csat_trend": ("CSAT trend: answers, average rating and share satisfied per ISO week",
                   _q("csat", [], ["count", "avg_rating", "satisfied_share"], grain="week")),
    "top_issues": ("Top 10 issues: tickets per tag (untagged: per type)",
                   _q("tickets", ["tag"], ["count", "open"], order_by="-count", limit=10)),
}
OTHER_STANDARD = {"campaign_roi": ("Campaign ROI", f"{API}/campaigns"),
                  "email_open_rates": ("Email open rates", f"{API}/email-open-rate")}


def get_catalogue(session: Session, *, principal: Principal) -> Catalogue:
    found = catalogue.describe()
    for name, (title, _) in STANDARD.items():
        found.standard_reports.add(name=name, title=title, path=f"{API}/standard/{name}")
    for name, (title, path) in OTHER_STANDARD.items():
        found.standard_reports.add(name=name, title=title, path=path)
    found.standard_reports.sort(key=lambda r: r.name)
    return found


def run_query(session: Session, *, principal: Principal, request: RunQueryRequest) -> QueryResult:
    return query.run(session, request.query, principal)


def drill_down(session: Session, *, principal: Principal, request: DrillDownRequest) -> DrillDownResult:
    return query.drill(session, request.query, principal, keys=list(request.keys), measure=request.measure,
                       page_token=request.page.page_token, size=request.page.page_size)


def standard_report(session: Session, *, principal: Principal, request: GetStandardReportRequest) -> QueryResult:
    if request.name not in STANDARD:
        known = sorted([*STANDARD, *OTHER_STANDARD])
        if request.name in OTHER_STANDARD:
            raise InvalidArgument(f"{request.name} is at {OTHER_STANDARD[request.name][1]}", field="name")
        raise InvalidArgument(f"unknown report {request.name!r}; one of: {', '.join(known)}", field="name")
    title, template = STANDARD[request.name]
    if template is None:
        return attainment(session, principal=principal, request=request)
    q = Query()
    q.CopyFrom(template)
    q.from_day, q.to_day = request.from_day, request.to_day
    source = catalogue.SOURCES[q.source]
    for name in ("region", "team"):
        value = getattr(request, name)
        if value:
            if source.filterable(name) is None:
                raise InvalidArgument(f"{request.name} has no {name}", field=name)
            q.filters.add(field=name, op="eq", values=[value])
    try:
        return query.run(session, q, principal, title=title)
    except InvalidArgument as e:   # the request's days, named as the client sent them
        if e.field and e.field.startswith("query."):
            raise InvalidArgument(str(e), field=e.field.removeprefix("query.")) from None
        raise


# -- monthly attainment ---------------------------------------------------------------------------

def _targets_visible(principal: Principal) -> ColumnElement[bool]:
    """Targets: admins and analysts all, a manager their team's, anyone else their own rep targets."""
    if principal.is_admin or principal.has_role("analyst"):
        return true()
    if principal.is_manager:
        return sales_targets.c.team == principal.team if principal.team else sales_targets.c.rep_id == principal.user_id
    return sales_targets.c.rep_id == principal.user_id


def attainment(session: Session, *, principal: Principal, request: GetStandardReportRequest) -> QueryResult:
    """One row per visible target (month, team, rep; rep "" = the team's): the target, the won
    amount of the deals the caller may see that closed that month (the rep's, or the team's), and
    won / target. The result's query is the won deals by month, team, rep and currency: drill
    down with a row's (month, team, rep, currency) keys (a team row: drill on the team's query)."""
    where = [_targets_visible(principal)]
    from_month, to_month = request.from_day[:7], request.to_day[:7]
    check_days(request)
    if from_month:
        where.append(sales_targets.c.month >= from_month)
    if to_month:
        where.append(sales_targets.c.month <= to_month)
    if request.team:
        where.append(sales_targets.c.team == request.team)
    if request.region:
        raise InvalidArgument("targets are per team and rep, not region", field="region")
    targets = session.execute(select(sales_targets).where(*where).order_by(
        sales_targets.c.month, sales_targets.c.team, sales_targets.c.rep_id)).all()
    won = opportunities.c
    visible = [VISIBLE.clause(principal, opportunities), won.status == "won"]
    months = sorted({t.month for t in targets})
    by_rep: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    by_team: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    if months:
        rows = session.execute(
            select(won.closed_month, won.team, won.owner_id, won.currency_code, func.count(),
                   func.coalesce(func.sum(won.amount_units), 0))
            .where(*visible, won.closed_month.in_(months))
            .group_by(won.closed_month, won.team, won.owner_id, won.currency_code))
        for month, team, owner, currency, n, units in rows:
            for acc in (by_rep[(month, team, owner, currency)], by_team[(month, team, currency)]):
                acc[0] += int(n)
                acc[1] += int(units)
    result = QueryResult(
        title=STANDARD["monthly_attainment"][0],
        query=Query(source="opportunities", dimensions=["team", "owner", "currency"], measures=["won_amount", "won"],
                    time_field="closed", time_grain="month"),
        events_applied=events_applied(session))
    result.columns.extend([QueryColumn(name=n, label=label, kind="dimension", unit="text") for n, label in (
        ("month", "Month"), ("team", "Team"), ("rep", "Rep (empty: the team)"), ("currency", "Currency"))])
    result.columns.extend([QueryColumn(name=n, label=label, kind="measure", unit=u) for n, label, u in (
        ("target", "Target", "amount"), ("won_amount", "Won", "amount"), ("won", "Deals won", "count"),
        ("attainment", "Attainment (won / target)", "ratio"))])
    for t in targets:
        n, units = (by_rep[(t.month, t.team, t.rep_id, t.currency_code)] if t.rep_id
                    else by_team[(t.month, t.team, t.currency_code)])
        values = [t.amount_units / 10_000, units / 10_000, float(n),
                  round(units / t.amount_units, 4) if t.amount_units else None]
        result.rows.append(QueryRow(keys=[t.month, t.team, t.rep_id, t.currency_code],
                                    values=query._list(values)))
    return result


# -- forecast -------------------------------------------------------------------------------------

def forecast(session: Session, *, principal: Principal, request: ForecastRequest, now: datetime) -> Forecast:
    """Next quarter (or `quarter`): open deals expected to close in it, weighted by probability,
    plus what is already won in it; next to it the same quarter a year before and the win rate by
    amount over the four quarters before now."""
    quarter = request.quarter or next_quarter(now)
    if (len(quarter) != 7 or quarter[4:6] != "-Q" or quarter[6] not in "1234" or not quarter[:4].isdigit()
            or quarter[:4] == "0000"):   # there is no year 0 (and no quarter a year before it)
        raise InvalidArgument("use YYYY-Qn, e.g. 2025-Q1", field="quarter")
    # from the rollup's month rows (store.rollups): a quarter is a set of months of one time field
    r = opportunity_rollup.c
    where: list[ColumnElement[bool]] = [VISIBLE.clause(principal, opportunity_rollup)]
    if request.team:
        where.append(r.team == request.team)
    if request.region:
        where.append(r.region == request.region)
    current = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    history = [shift_quarter(current, -k) for k in range(1, 5)]
    lines: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    last_year = shift_quarter(quarter, -4)

    def add(time_field: str, quarters: list[str], sums: dict[str, tuple[ColumnElement[bool], ColumnElement[Any]]],
            rows: ColumnElement[bool]) -> None:
        """One statement per time field: the months of `quarters` (the rollup's key, so only their
        rows are read), `rows` those it counts, `sums` each figure's condition and column."""
        months = [f"{q[:4]}-{3 * int(q[6]) - k:02d}" for q in quarters for k in (2, 1, 0)]
        stmt = select(r.currency_code, *(func.sum(case((when, value), else_=0)) for when, value in sums.values())
                      ).where(*where, r.time_field == time_field, r.month.in_(months), rows).group_by(r.currency_code)
        for currency, *totals in session.execute(stmt):
            for key, total in zip(sums, totals, strict=True):
                lines[currency][key] += int(total or 0)

    in_quarter = r.quarter == quarter
    add("expected", [quarter], {"pipeline": (in_quarter, r.amount_units), "weighted": (in_quarter, r.weighted_units),
                                "open_deals": (in_quarter, r.n)}, (r.status == "open") & in_quarter)
    won, in_history = r.status == "won", r.quarter.in_(history)
    add("closed", [quarter, last_year, *history], {
        "won": (won & in_quarter, r.amount_units), "won_last_year": (won & (r.quarter == last_year), r.amount_units),
        "hist_won": (won & in_history, r.amount_units), "hist_closed": (in_history, r.amount_units),
    }, (won & r.quarter.in_([quarter, last_year, *history])) | ((r.status == "lost") & in_history))
    out = Forecast(quarter=quarter, events_applied=events_applied(session))
    for currency in sorted(lines):
        v = lines[currency]
        weighted = v["weighted"] // 100
        out.lines.append(ForecastLine(
            currency_code=currency, open_deals=v["open_deals"], pipeline=format_amount(v["pipeline"]),
            weighted_pipeline=format_amount(weighted), won_so_far=format_amount(v["won"]),
            won_last_year=format_amount(v["won_last_year"]),
            # nothing closed in those quarters is no history, not a win rate of 0 (None leaves it unset)
            historical_win_rate=round(v["hist_won"] / v["hist_closed"], 4) if v["hist_closed"] else None,
            forecast=format_amount(v["won"] + weighted)))
    return out

