"""Analytics on the migrated schema: the query builder takes only catalogue names (anything else
is refused naming the field), applies the caller's visibility inside the query, groups by a time
grain, never adds currencies; drill-down lists exactly the records a figure counts; standard
reports, targets and attainment, saved queries and dashboards with thresholds, the forecast."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from crm.common.v1.types_pb2 import Money
from crm.reporting.v1.reporting_pb2 import (
    Dashboard,
    DrillDownWidgetRequest,
    ForecastRequest,
    GetStandardReportRequest,
    GetSupportSummaryRequest,
    ListTargetsRequest,
    PutTargetsRequest,
    Query,
    QueryFilter,
    SalesTarget,
    SavedQuery,
    Thresholds,
    Widget,
)
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm.support.v1 import events_pb2 as tev
from crm.support.v1.support_pb2 import Ticket
from crm_reporting.analytics import query
from crm_reporting.handlers import sales as sales_handlers
from crm_reporting.handlers import support as support_handlers
from crm_reporting.usecases import analytics, definitions, support, targets
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied

ADMIN = Principal("admin", ("admin",), "", "")
ANALYST = Principal("analyst.1", ("analyst",), "bi", "")
MANAGER = Principal("manager.n", ("manager",), "north-sales", "")
REP1 = Principal("rep.1", ("rep",), "north-sales", "north")
REP2 = Principal("rep.2", ("rep",), "north-sales", "north")
SOUTH = Principal("rep.s", ("rep",), "south-sales", "south")
AGENT = Principal("agent.1", ("support",), "", "")
NOW = datetime(2024, 7, 3, tzinfo=UTC)


def ts(text: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(text).replace(tzinfo=UTC))
    return stamp


def deal(session: Session, oid: str, *, owner: str = "rep.1", team: str = "north-sales", status: str = "open",
         stage: str = "qualify", amount: str = "1000", currency: str = "CNY", created: str = "2024-05-01T08:00:00",
         closed: str = "", probability: int = 20, expected: str = "", version: int = 1) -> None:
    o = Opportunity(id=oid, version=version, owner_id=owner, team=team, region="north" if team == "north-sales"
                    else "south", status=status, stage=stage, amount=Money(currency_code=currency, amount=amount),
                    probability=probability, expected_close_date=expected)
    o.created_at.CopyFrom(ts(created))
    if closed:
        o.closed_at.CopyFrom(ts(closed))
    sales_handlers.apply_opportunity(session, o)


@pytest.fixture
def deals(session: Session) -> Session:
    deal(session, "o1", status="won", stage="won", amount="1000", closed="2024-05-11T00:00:00", probability=100)
    deal(session, "o2", status="won", stage="won", amount="500.50", closed="2024-06-02T00:00:00", probability=100)
    deal(session, "o3", status="lost", stage="lost", closed="2024-06-03T00:00:00", probability=0)
    deal(session, "o4", owner="rep.2", status="won", stage="won", amount="2000", closed="2024-06-21T00:00:00",
         created="2024-06-01T00:00:00", probability=100)
    deal(session, "o5", owner="rep.2", stage="propose", amount="3000", probability=60, expected="2024-08-15")
    deal(session, "o6", owner="rep.s", team="south-sales", status="won", stage="won", amount="7000",
         closed="2024-06-05T00:00:00", probability=100)
    deal(session, "o7", owner="rep.1", status="won", stage="won", amount="99", currency="USD",
         closed="2024-06-07T00:00:00", probability=100)
    return session


def q(source: str = "opportunities", dims: tuple[str, ...] = (), measures: tuple[str, ...] = ("count",),
      **kw: object) -> Query:
    return Query(source=source, dimensions=list(dims), measures=list(measures), **kw)  # type: ignore[arg-type]


def table(result) -> dict[tuple[str, ...], list[float | None]]:  # type: ignore[no-untyped-def]
    return {tuple(r.keys): [None if v.WhichOneof("kind") == "null_value" else v.number_value
                            for v in r.values.values] for r in result.rows}


# -- the builder refuses what the catalogue does not hold ------------------------------------------

@pytest.mark.parametrize(("bad", "field", "text"), [
    (q(source="orders"), "query.source", "unknown source 'orders'"),
    (q(dims=("stage", "colour")), "query.dimensions[1]", "unknown dimension of opportunities 'colour'"),
    (q(measures=("count", "profit")), "query.measures[1]", "unknown measure of opportunities 'profit'"),
    (q(measures=()), "query.measures", "at least one measure"),
    (q(time_grain="fortnight"), "query.time_grain", "unknown time grain"),
    (q(time_field="deleted"), "query.time_field", "unknown time field"),
    (q(filters=[QueryFilter(field="password", values=["x"])]), "query.filters[0].field", "unknown filter field"),
    (q(filters=[QueryFilter(field="stage", op="like", values=["x"])]), "query.filters[0].op", "unknown filter op"),
    (q(filters=[QueryFilter(field="stage", op="eq", values=[])]), "query.filters[0].values", "exactly one"),
    (q(filters=[QueryFilter(field="probability", op="gte", values=["ten"])]), "query.filters[0].values", "number"),
    (q(filters=[QueryFilter(field="probability", op="gte", values=["99999999999999999999999"])]),
     "query.filters[0].values", "number"),
    (q(source="csat", filters=[QueryFilter(field="rating", op="in", values=["5", "-9223372036854775809"])]),
     "query.filters[0].values", "number"),
    (q(filters=[QueryFilter(field="probability", op="contains", values=["5"])]), "query.filters[0].op",
     "contains is for text fields"),
    (q(source="csat", filters=[QueryFilter(field="rating", op="contains", values=["4"])]), "query.filters[0].op",
     "contains is for text fields"),
    (q(from_day="2024-13-01"), "query.from_day", "YYYY-MM-DD"),
    (q(order_by="-owner_id; drop table x"), "query.order_by", "unknown column to order by"),
    (q(limit=20000), "query.limit", "between"),
    (q(source="csat", dims=("stage",)), "query.dimensions[0]", "unknown dimension of csat 'stage'"),
])
def test_unknown_names_are_refused_naming_the_field(session: Session, bad: Query, field: str, text: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        query.run(session, bad, ADMIN)
    assert e.value.field == field
    assert text in str(e.value)


def test_the_refusal_lists_what_the_catalogue_knows(session: Session) -> None:
    with pytest.raises(InvalidArgument) as e:
        query.run(session, q(dims=("colour",)), ADMIN)
    assert "stage" in str(e.value) and "owner" in str(e.value)


# -- visibility inside the query ---------------------------------------------------------------------

def test_each_caller_counts_only_what_they_may_see(deals: Session) -> None:
    by_owner = q(dims=("owner",), measures=("count",))
    assert table(query.run(deals, by_owner, ADMIN)) == {("rep.1",): [4.0], ("rep.2",): [2.0], ("rep.s",): [1.0]}
    assert table(query.run(deals, by_owner, ANALYST)) == table(query.run(deals, by_owner, ADMIN))
    assert table(query.run(deals, by_owner, MANAGER)) == {("rep.1",): [4.0], ("rep.2",): [2.0]}
    assert table(query.run(deals, by_owner, REP1)) == {("rep.1",): [4.0]}
    assert table(query.run(deals, by_owner, SOUTH)) == {("rep.s",): [1.0]}
    # a filter naming someone else's records does not widen what a rep sees
    other = q(measures=("count",), filters=[QueryFilter(field="owner", values=["rep.2"])])
    assert query.run(deals, other, REP1).totals.values[0].number_value == 0


def test_amounts_are_exact_per_currency_and_never_added_across(deals: Session) -> None:
    result = query.run(deals, q(dims=("owner",), measures=("won_amount", "won")), ADMIN)
    assert [c.name for c in result.columns] == ["owner", "currency", "won_amount", "won"]
    assert result.query.dimensions == ["owner", "currency"]
    assert table(result) == {("rep.1", "CNY"): [1500.5, 2.0], ("rep.1", "USD"): [99.0, 1.0],
                             ("rep.2", "CNY"): [2000.0, 1.0], ("rep.s", "CNY"): [7000.0, 1.0]}
    one = q(dims=("owner",), measures=("won_amount",), filters=[QueryFilter(field="currency", values=["CNY"])])
    assert [c.name for c in query.run(deals, one, ADMIN).columns] == ["owner", "won_amount"]


def test_an_amount_over_several_currencies_has_no_total(deals: Session) -> None:
    """rep.1 won 1500.50 CNY and 99 USD: their sum 1599.50 is no amount in any currency."""
    def totals(result) -> list[float | None]:  # type: ignore[no-untyped-def]
        return [None if v.WhichOneof("kind") == "null_value" else v.number_value for v in result.totals.values]

    both = query.run(deals, q(dims=("owner",), measures=("won_amount", "won", "avg_amount")), REP1)
    assert totals(both) == [None, 3.0, None]           # the counts still add up
    for use_rollup in (True, False):
        windowed = q(measures=("won_amount",), time_field="closed", from_day="2024-06-01", to_day="2024-06-30")
        assert totals(query.run(deals, windowed, ADMIN, use_rollup=use_rollup)) == [None]
    cny = q(dims=("owner",), measures=("won_amount",), filters=[QueryFilter(field="currency", values=["CNY"])])
    assert totals(query.run(deals, cny, REP1)) == [1500.5]
    south = q(measures=("won_amount",), filters=[QueryFilter(field="team", values=["south-sales"])])
    assert totals(query.run(deals, south, ADMIN)) == [7000.0]     # one currency: its total stands
    board = definitions.save_dashboard(deals, principal=REP1, now=NOW, id_="", dashboard=Dashboard(
        name="mine", widgets=[Widget(id="won", kind="figure", query=q(measures=("won_amount",)),
                                     thresholds=Thresholds(green=1000, amber=500))]))
    figure = definitions.render(deals, principal=REP1, id_=board.id).widgets[0]
    assert not figure.HasField("figure") and figure.status == ""


def test_time_grain_filters_order_and_limit(deals: Session) -> None:
    monthly = q(measures=("won", "won_amount"), time_field="closed", time_grain="month",
                filters=[QueryFilter(field="currency", values=["CNY"])])
    assert table(query.run(deals, monthly, ADMIN)) == {("2024-05",): [1.0, 1000.0], ("2024-06",): [3.0, 9500.5]}
    window = q(measures=("won",), time_field="closed", from_day="2024-06-01", to_day="2024-06-04")
    assert query.run(deals, window, ADMIN).totals.values[0].number_value == 1
    ranked = q(dims=("owner",), measures=("won",), order_by="-won", limit=2)
    assert [r.keys[0] for r in query.run(deals, ranked, ADMIN).rows] == ["rep.1", "rep.2"]
    rate = query.run(deals, q(dims=("owner",), measures=("win_rate", "avg_cycle_days")), ADMIN)
    assert table(rate)[("rep.1",)] == [0.75, pytest.approx((10 + 32 + 37) / 3, abs=1e-3)]
    assert table(rate)[("rep.2",)][0] == 1.0


# -- drill-down ----------------------------------------------------------------------------------

def test_drill_down_lists_exactly_the_records_a_figure_counts(deals: Session) -> None:
    monthly = q(measures=("won", "count"), time_field="closed", time_grain="month")
    result = query.run(deals, monthly, ADMIN)
    for row in result.rows:
        ids = query.drill(deals, monthly, ADMIN, keys=list(row.keys), measure="won", page_token="", size=0)
        assert ids.total == row.values.values[0].number_value == len(ids.ids)
    june = query.drill(deals, monthly, ADMIN, keys=["2024-06"], measure="won", page_token="", size=0)
    assert june.ids == ["o2", "o4", "o6", "o7"] and june.record == "opportunity"
    assert query.drill(deals, monthly, ADMIN, keys=["2024-06"], measure="count", page_token="", size=0).ids == [
        "o2", "o3", "o4", "o6", "o7"]
    assert query.drill(deals, monthly, REP1, keys=["2024-06"], measure="won", page_token="", size=0).ids == [
        "o2", "o7"]
    total = query.drill(deals, monthly, REP2, keys=[], measure="", page_token="", size=0)
    assert total.ids == ["o4"]
    page = query.drill(deals, q(), ADMIN, keys=[], measure="", page_token="", size=3)
    rest = query.drill(deals, q(), ADMIN, keys=[], measure="", page_token=page.page.next_page_token, size=3)
    assert list(page.ids) + list(rest.ids) == ["o1", "o2", "o3", "o4", "o5", "o6"] and rest.page.next_page_token
    with pytest.raises(InvalidArgument) as e:
        query.drill(deals, monthly, ADMIN, keys=["2024-06", "x"], measure="", page_token="", size=0)
    assert e.value.field == "keys"
    with pytest.raises(InvalidArgument) as e:
        query.drill(deals, monthly, ADMIN, keys=[], measure="amount", page_token="", size=0)
    assert e.value.field == "measure"


def ticket(session: Session, tid: str, *, tags: tuple[str, ...] = (), type: str = "question", status: str = "open",
           assignee: str = "agent.1", solved: str = "", priority: str = "normal", team: str = "",
           region: str = "") -> None:
    t = Ticket(id=tid, version=1, status=status, priority=priority, assignee_id=assignee, type=type, tags=list(tags),
               team=team, region=region)
    t.created_at.CopyFrom(ts("2024-05-01T08:00:00"))
    if solved:
        t.solved_at.CopyFrom(ts(solved))
    support_handlers.apply_ticket(session, t)


def test_top_issues_count_a_ticket_once_per_tag_and_drill_to_it(session: Session) -> None:
    ticket(session, "t1", tags=("billing", "login"))
    ticket(session, "t2", tags=("billing",), status="solved", solved="2024-05-01T12:00:00")
    ticket(session, "t3", type="incident")
    ticket(session, "t4", tags=("login",), assignee="agent.2")
    report = analytics.standard_report(session, principal=ADMIN, request=GetStandardReportRequest(name="top_issues"))
    assert table(report) == {("billing",): [2.0, 1.0], ("login",): [2.0, 2.0], ("incident",): [1.0, 1.0]}
    assert report.totals.values[0].number_value == 4      # tickets, not ticket-tags
    ids = query.drill(session, report.query, ADMIN, keys=["login"], measure="count", page_token="", size=0)
    assert ids.ids == ["t1", "t4"]
    rep = Principal("agent.2", ("rep",), "", "")
    assert table(query.run(session, report.query, rep)) == {("login",): [1.0, 1.0]}
    tagged = q("tickets", measures=("count",), filters=[QueryFilter(field="tag", op="in", values=["billing", "login"])])
    assert query.run(session, tagged, ADMIN).totals.values[0].number_value == 3
    untagged = q("tickets", measures=("count",), filters=[QueryFilter(field="tag", op="ne", values=["billing"])])
    assert query.run(session, untagged, ADMIN).totals.values[0].number_value == 2


def test_a_manager_counts_the_tickets_and_csat_of_their_team_and_region_as_support_shows_them(
        session: Session) -> None:
    """Support lets a manager read the tickets of their team or region (and those assigned to them),
    not the others: reports, drill-downs and the support summary count no more than that."""
    south_mgr = Principal("manager.s", ("manager",), "south-sales", "south")
    ticket(session, "tn", tags=("billing",), team="north-sales", region="north")
    ticket(session, "tr", tags=("billing",), team="hq", region="north")          # the manager's region
    ticket(session, "ts", tags=("billing",), team="south-sales", region="south")
    ticket(session, "tm", tags=("billing",), team="hq", assignee="manager.n")    # assigned to the manager
    for tid in ("tn", "ts"):
        answer = tev.CsatAnswered(ticket_id=tid, assignee_id="agent.1", rating=5)
        answer.answered_at.CopyFrom(ts("2024-05-02T09:00:00"))
        support_handlers.apply_csat(session, answer)
    manager = Principal("manager.n", ("manager",), "north-sales", "north")
    issues = analytics.standard_report(session, principal=manager, request=GetStandardReportRequest(name="top_issues"))
    assert table(issues) == {("billing",): [3.0, 3.0]}
    assert list(query.drill(session, issues.query, manager, keys=["billing"], measure="count", page_token="",
                            size=0).ids) == ["tm", "tn", "tr"]
    assert list(query.drill(session, issues.query, south_mgr, keys=["billing"], measure="count", page_token="",
                            size=0).ids) == ["ts"]
    for use_rollup in (True, False):
        weekly = q("tickets", measures=("count",), time_grain="week")
        assert query.run(session, weekly, manager, use_rollup=use_rollup).totals.values[0].number_value == 3
        csat = q("csat", measures=("count",))
        assert query.run(session, csat, manager, use_rollup=use_rollup).totals.values[0].number_value == 1
    assert list(query.drill(session, q("csat", measures=("count",)), south_mgr, keys=[], measure="", page_token="",
                            size=0).ids) == ["ts"]
    summary = support.support_summary(session, principal=manager, request=GetSupportSummaryRequest())
    assert (summary.total, summary.csat_count) == (3, 1)
    everyone = analytics.standard_report(session, principal=AGENT, request=GetStandardReportRequest(name="top_issues"))
    assert table(everyone) == {("billing",): [4.0, 4.0]}                      # an agent works every ticket


def test_ticket_resolution_and_csat_trend(session: Session) -> None:
    ticket(session, "t1", status="solved", solved="2024-05-01T10:00:00", priority="high")
    ticket(session, "t2", status="solved", solved="2024-05-02T08:00:00", priority="high")
    ticket(session, "t3")
    report = analytics.standard_report(session, principal=AGENT,
                                       request=GetStandardReportRequest(name="ticket_resolution"))
    assert table(report) == {("2024-05", "high"): [2.0, 13.0, None]}
    for tid, rating, when in (("t1", 5, "2024-05-02T09:00:00"), ("t2", 2, "2024-05-09T09:00:00")):
        answer = tev.CsatAnswered(ticket_id=tid, assignee_id="agent.1", rating=rating)
        answer.answered_at.CopyFrom(ts(when))
        support_handlers.apply_csat(session, answer)
    trend = analytics.standard_report(session, principal=AGENT, request=GetStandardReportRequest(name="csat_trend"))
    assert table(trend) == {("2024-04-29",): [1.0, 5.0, 1.0], ("2024-05-06",): [1.0, 2.0, 0.0]}
    with pytest.raises(InvalidArgument) as e:
        analytics.standard_report(session, principal=AGENT, request=GetStandardReportRequest(name="csat_trend",
                                                                                             region="north"))
    assert e.value.field == "region"


def test_every_standard_report_answers_and_unknown_ones_are_refused(deals: Session) -> None:
    sales_handlers.apply_lead(deals, Lead(id="l1", version=1, source="website", owner_id="rep.1", team="north-sales",
                                          region="north", status="converted"))
    names = [r.name for r in analytics.get_catalogue(deals, principal=ADMIN).standard_reports]
    assert len(names) == 10
    for name in names:
        if name in analytics.STANDARD:
            assert analytics.standard_report(deals, principal=ADMIN, request=GetStandardReportRequest(name=name)).columns
    funnel = analytics.standard_report(deals, principal=ADMIN, request=GetStandardReportRequest(name="sales_funnel"))
    assert [r.keys[0] for r in funnel.rows] == ["propose", "won"]       # lost deals are not in the funnel
    ranking = analytics.standard_report(deals, principal=MANAGER, request=GetStandardReportRequest(name="rep_ranking"))
    assert [tuple(r.keys) for r in ranking.rows][:2] == [("rep.2", "CNY"), ("rep.1", "CNY")]
    sources = analytics.standard_report(deals, principal=REP1, request=GetStandardReportRequest(name="lead_sources"))
    assert table(sources) == {("website",): [1.0, 1.0, 1.0]}
    for bad in ("profit", "campaign_roi"):
        with pytest.raises(InvalidArgument) as e:
            analytics.standard_report(deals, principal=ADMIN, request=GetStandardReportRequest(name=bad))
        assert e.value.field == "name"


# -- targets and attainment ---------------------------------------------------------------------

def put(session: Session, who: Principal, *items: SalesTarget):  # type: ignore[no-untyped-def]
    return targets.put_targets(session, principal=who, now=NOW, request=PutTargetsRequest(targets=list(items)))


def test_managers_set_targets_and_attainment_sets_won_against_them(deals: Session) -> None:
    put(deals, MANAGER, SalesTarget(month="2024-06", rep_id="rep.1", currency_code="CNY", amount="1000"),
        SalesTarget(month="2024-06", rep_id="rep.2", currency_code="CNY", amount="4000"),
        SalesTarget(month="2024-06", currency_code="CNY", amount="5000"))
    put(deals, ADMIN, SalesTarget(month="2024-06", team="south-sales", currency_code="CNY", amount="7000"))
    report = analytics.standard_report(deals, principal=MANAGER,
                                       request=GetStandardReportRequest(name="monthly_attainment"))
    assert table(report) == {("2024-06", "north-sales", "", "CNY"): [5000.0, 2500.5, 2.0, 0.5001],
                             ("2024-06", "north-sales", "rep.1", "CNY"): [1000.0, 500.5, 1.0, 0.5005],
                             ("2024-06", "north-sales", "rep.2", "CNY"): [4000.0, 2000.0, 1.0, 0.5]}
    mine = analytics.standard_report(deals, principal=REP2, request=GetStandardReportRequest(name="monthly_attainment"))
    assert table(mine) == {("2024-06", "north-sales", "rep.2", "CNY"): [4000.0, 2000.0, 1.0, 0.5]}
    everyone = analytics.standard_report(deals, principal=ADMIN,
                                         request=GetStandardReportRequest(name="monthly_attainment"))
    assert table(everyone)[("2024-06", "south-sales", "", "CNY")][3] == 1.0
    # changing one replaces it; 0 removes it
    put(deals, MANAGER, SalesTarget(month="2024-06", rep_id="rep.2", currency_code="CNY", amount="0"))
    listed = targets.list_targets(deals, principal=MANAGER, request=ListTargetsRequest()).targets
    assert [(t.team, t.rep_id, t.amount, t.set_by) for t in listed] == [
        ("north-sales", "", "5000.00", "manager.n"), ("north-sales", "rep.1", "1000.00", "manager.n")]


def test_a_manager_cannot_file_a_target_for_another_teams_rep(deals: Session) -> None:
    sales_handlers.apply_lead(deals, Lead(id="ls", version=1, source="website", owner_id="rep.s", team="south-sales",
                                          region="south", status="new"))
    with pytest.raises(PermissionDenied) as e:
        put(deals, MANAGER, SalesTarget(month="2024-06", rep_id="rep.s", currency_code="CNY", amount="1000"))
    assert e.value.field == "targets[0].rep_id"
    put(deals, ADMIN, SalesTarget(month="2024-06", team="south-sales", rep_id="rep.s", currency_code="CNY",
                                  amount="1000"))   # the admin may


@pytest.mark.parametrize(("who", "item", "error", "field"), [
    (REP1, SalesTarget(month="2024-06", currency_code="CNY", amount="1"), PermissionDenied, None),
    (MANAGER, SalesTarget(month="2024-06", team="south-sales", currency_code="CNY", amount="1"),
     PermissionDenied, "targets[1].team"),
    (MANAGER, SalesTarget(month="2024-6", currency_code="CNY", amount="1"), InvalidArgument, "targets[1].month"),
    (MANAGER, SalesTarget(month="2024-06", currency_code="yuan", amount="1"), InvalidArgument,
     "targets[1].currency_code"),
    (MANAGER, SalesTarget(month="2024-06", currency_code="CNY", amount="lots"), InvalidArgument, "targets[1].amount"),
    (MANAGER, SalesTarget(month="2024-06", currency_code="CNY", amount="-5"), InvalidArgument, "targets[1].amount"),
    (MANAGER, SalesTarget(month="2024-06", currency_code="CNY", amount="99999999999999999999999"), InvalidArgument,
     "targets[1].amount"),
    (MANAGER, SalesTarget(month="2024-06", currency_code="CNY", amount="1e400"), InvalidArgument, "targets[1].amount"),
    # finer than the read model keeps: it rounded to 0, and 0 removed the target
    (MANAGER, SalesTarget(month="2024-06", currency_code="CNY", amount="0.00001"), InvalidArgument,
     "targets[1].amount"),
    # the same month, team and rep twice: the second silently replaced the first (one per key)
    (MANAGER, SalesTarget(month="2024-07", team="north-sales", currency_code="USD", amount="2"), InvalidArgument,
     "targets[1]"),
    (ADMIN, SalesTarget(month="2024-06", currency_code="CNY", amount="5"), InvalidArgument, "targets[1].team"),
])
def test_bad_targets_are_refused_and_nothing_is_written(session: Session, who: Principal, item: SalesTarget,
                                                       error: type[Exception], field: str | None) -> None:
    with pytest.raises(error) as e:
        put(session, MANAGER if who is MANAGER else who,
            SalesTarget(month="2024-07", currency_code="CNY", amount="1", team="north-sales"), item)
    assert getattr(e.value, "field", None) == field
    assert targets.list_targets(session, principal=ADMIN, request=ListTargetsRequest()).targets == []


# -- saved queries and dashboards --------------------------------------------------------------

def test_saved_queries_are_shared_and_run_with_the_viewers_visibility(deals: Session) -> None:
    mine = definitions.save_query(deals, principal=REP1, now=NOW, id_="", saved=SavedQuery(
        name="my deals", query=q(dims=("owner",)), sharing="private"))
    shared = definitions.save_query(deals, principal=MANAGER, now=NOW, id_="", saved=SavedQuery(
        name="team pipeline", query=q(dims=("owner",)), sharing="team"))
    assert [s.name for s in definitions.list_saved(deals, principal=REP2).items] == ["team pipeline"]
    assert [s.name for s in definitions.list_saved(deals, principal=REP1).items] == ["my deals", "team pipeline"]
    assert definitions.list_saved(deals, principal=SOUTH).items == []
    assert table(definitions.run_saved(deals, principal=REP2, id_=shared.id)) == {("rep.2",): [2.0]}
    assert table(definitions.run_saved(deals, principal=MANAGER, id_=shared.id)) == {("rep.1",): [4.0],
                                                                                     ("rep.2",): [2.0]}
    with pytest.raises(NotFound):
        definitions.run_saved(deals, principal=REP2, id_=mine.id)
    with pytest.raises(PermissionDenied):
        definitions.save_query(deals, principal=REP2, now=NOW, id_=shared.id,
                               saved=SavedQuery(name="mine now", query=q()))
    with pytest.raises(InvalidArgument) as e:
        definitions.save_query(deals, principal=REP1, now=NOW, id_="", saved=SavedQuery(
            name="bad", query=q(measures=("count", "margin"))))
    assert e.value.field == "query.measures[1]"
    with pytest.raises(InvalidArgument) as e:
        definitions.save_query(deals, principal=REP1, now=NOW, id_="", saved=SavedQuery(
            name="bad", query=q(), sharing="world"))
    assert e.value.field == "sharing"


@pytest.mark.parametrize(("value", "thresholds", "status"), [
    (10.0, Thresholds(green=10, amber=5), "green"), (7.0, Thresholds(green=10, amber=5), "amber"),
    (4.9, Thresholds(green=10, amber=5), "red"), (2.0, Thresholds(green=4, amber=8, lower_is_better=True), "green"),
    (8.0, Thresholds(green=4, amber=8, lower_is_better=True), "amber"),
    (9.0, Thresholds(green=4, amber=8, lower_is_better=True), "red"), (1.0, Thresholds(), ""),
    (None, Thresholds(green=1), ""),
])
def test_thresholds_colour_a_figure(value: float | None, thresholds: Thresholds, status: str) -> None:
    assert definitions.status_of(value, thresholds) == status


def test_a_dashboard_renders_its_widgets_coloured_and_drills_down(deals: Session) -> None:
    board = definitions.save_dashboard(deals, principal=MANAGER, now=NOW, id_="", dashboard=Dashboard(
        name="north", sharing="team", widgets=[
            Widget(id="won", title="Deals won", kind="figure", query=q(measures=("won",)),
                   thresholds=Thresholds(green=4, amber=2)),
            Widget(id="monthly", title="Won per month", kind="series",
                   query=q(measures=("won",), time_field="closed", time_grain="month")),
            Widget(id="funnel", title="Funnel", kind="funnel", query=q(dims=("stage",)))]))
    view = definitions.render(deals, principal=MANAGER, id_=board.id)
    assert [(w.widget_id, w.figure, w.status) for w in view.widgets] == [
        ("won", 4.0, "green"), ("monthly", 3.0, ""), ("funnel", 6.0, "")]
    rep_view = definitions.render(deals, principal=REP1, id_=board.id)
    assert [(w.figure, w.status) for w in rep_view.widgets][0] == (3.0, "amber")

    def ids(who: Principal, widget: str, keys: tuple[str, ...] = ()) -> list[str]:
        return list(definitions.drill_widget(deals, principal=who, request=DrillDownWidgetRequest(
            dashboard_id=board.id, widget_id=widget, keys=list(keys))).ids)

    assert ids(MANAGER, "won") == ["o1", "o2", "o4", "o7"]
    assert ids(REP1, "won") == ["o1", "o2", "o7"]
    assert ids(MANAGER, "monthly") == ["o2", "o4", "o7"]          # the series' figure: its last point
    assert ids(MANAGER, "funnel", ("won",)) == ["o1", "o2", "o4", "o7"]
    with pytest.raises(NotFound):
        ids(SOUTH, "won")
    with pytest.raises(InvalidArgument) as e:
        definitions.save_dashboard(deals, principal=MANAGER, now=NOW, id_="", dashboard=Dashboard(
            name="bad", widgets=[Widget(kind="figure", query=q()), Widget(kind="gauge", query=q())]))
    assert e.value.field == "widgets[1].kind"
    with pytest.raises(InvalidArgument) as e:
        definitions.save_dashboard(deals, principal=MANAGER, now=NOW, id_="", dashboard=Dashboard(
            name="bad", widgets=[Widget(kind="figure", query=q(dims=("colour",)))]))
    assert e.value.field == "widgets[0].query.dimensions[0]"
    with pytest.raises(InvalidArgument) as e:
        definitions.save_dashboard(deals, principal=MANAGER, now=NOW, id_="", dashboard=Dashboard(
            name="bad", widgets=[Widget(kind="figure", query=q(), thresholds=Thresholds(green=1, amber=5))]))
    assert e.value.field == "widgets[0].thresholds.green"


def test_a_series_figure_is_its_latest_point_whatever_its_order(deals: Session) -> None:
    """Won per month newest first (order_by -period): the figure and its drill-down are June's
    deals, not May's, the row the order put last."""
    newest_first = q(measures=("won",), time_field="closed", time_grain="month", order_by="-period")
    board = definitions.save_dashboard(deals, principal=MANAGER, now=NOW, id_="", dashboard=Dashboard(
        name="trend", widgets=[Widget(id="monthly", kind="series", query=newest_first,
                                      thresholds=Thresholds(green=3, amber=2))]))
    view = definitions.render(deals, principal=MANAGER, id_=board.id).widgets[0]
    assert [r.keys[0] for r in view.result.rows] == ["2024-06", "2024-05"]
    assert (view.figure, view.status) == (3.0, "green")
    drilled = definitions.drill_widget(deals, principal=MANAGER, request=DrillDownWidgetRequest(
        dashboard_id=board.id, widget_id="monthly"))
    assert list(drilled.ids) == ["o2", "o4", "o7"]


@pytest.mark.parametrize("widget_id", ["a/b", "won?x=1", "deals won", "#top", "x" * 65])
def test_a_widget_id_its_drill_down_path_cannot_carry_is_refused(session: Session, widget_id: str) -> None:
    """/dashboards/<id>/widgets/<widget_id>/drill-down: an id with a slash (or ?, #, a space) could be
    saved and shown, but never drilled into."""
    with pytest.raises(InvalidArgument) as e:
        definitions.save_dashboard(session, principal=MANAGER, now=NOW, id_="", dashboard=Dashboard(
            name="bad", widgets=[Widget(id="ok-1", kind="figure", query=q()),
                                 Widget(id=widget_id, kind="figure", query=q())]))
    assert e.value.field == "widgets[1].id"


def test_forecast_weights_the_next_quarters_pipeline(deals: Session) -> None:
    deal(deals, "o8", owner="rep.2", stage="negotiate", amount="1000", probability=80, expected="2024-09-30")
    deal(deals, "o9", owner="rep.2", stage="negotiate", amount="1000", probability=80, expected="2024-10-01")
    f = analytics.forecast(deals, principal=MANAGER, request=ForecastRequest(), now=datetime(2024, 5, 20, tzinfo=UTC))
    assert f.quarter == "2024-Q3"
    cny = next(line for line in f.lines if line.currency_code == "CNY")
    assert (cny.open_deals, cny.pipeline, cny.weighted_pipeline) == (2, "4000.00", "2600.00")
    mine = analytics.forecast(deals, principal=REP1, request=ForecastRequest(quarter="2024-Q3"), now=NOW)
    assert [(line.currency_code, line.open_deals, line.forecast) for line in mine.lines] == [
        ("CNY", 0, "0.00"), ("USD", 0, "0.00")]
    assert mine.lines[0].historical_win_rate == pytest.approx(1500.5 / 2500.5, abs=1e-4)
    # the south team closed nothing in the four quarters before: no history, not a win rate of 0
    south = analytics.forecast(deals, principal=ADMIN, request=ForecastRequest(quarter="2024-Q2", team="south-sales"),
                               now=datetime(2024, 5, 20, tzinfo=UTC))
    assert [(line.currency_code, line.won_so_far) for line in south.lines] == [("CNY", "7000.00")]
    assert not south.lines[0].HasField("historical_win_rate")
    with pytest.raises(InvalidArgument) as e:
        analytics.forecast(deals, principal=ADMIN, request=ForecastRequest(quarter="2024-3"), now=NOW)
    assert e.value.field == "quarter"


@pytest.mark.parametrize("quarter", ["0000-Q1", "0000-Q4"])
def test_a_quarter_of_year_zero_is_refused_naming_the_quarter(deals: Session, quarter: str) -> None:
    with pytest.raises(InvalidArgument) as e:      # was an IndexError (500): the year before is "-1"
        analytics.forecast(deals, principal=ADMIN, request=ForecastRequest(quarter=quarter), now=NOW)
    assert e.value.field == "quarter"


def test_the_first_years_quarters_forecast_against_the_year_before(deals: Session) -> None:
    f = analytics.forecast(deals, principal=ADMIN, request=ForecastRequest(quarter="0001-Q2"), now=NOW)
    assert f.quarter == "0001-Q2" and all(line.open_deals == 0 for line in f.lines)


def test_only_the_owner_changes_or_deletes_a_definition(deals: Session) -> None:
    from crm_reporting.tables import saved_queries
    from crmkit.errors import Conflict

    first = definitions.save_query(deals, principal=REP1, now=NOW, id_="", saved=SavedQuery(
        name="mine", query=q(), sharing="everyone"))
    changed = definitions.save_query(deals, principal=REP1, now=NOW, id_=first.id, saved=SavedQuery(
        name="mine, by stage", query=q(dims=("stage",)), sharing="everyone", version=1))
    assert (changed.version, changed.name, list(changed.query.dimensions)) == (2, "mine, by stage", ["stage"])
    with pytest.raises(Conflict):
        definitions.save_query(deals, principal=REP1, now=NOW, id_=first.id, saved=SavedQuery(
            name="stale", query=q(), version=1))
    with pytest.raises(PermissionDenied):
        definitions.delete_definition(deals, principal=REP2, table=saved_queries, id_=first.id, what="saved query")
    definitions.delete_definition(deals, principal=REP1, table=saved_queries, id_=first.id, what="saved query")
    with pytest.raises(NotFound) as e:
        definitions.get_saved(deals, principal=REP1, id_=first.id)
    assert e.value.field == "id"
