"""Analytics end to end inside the service: real sales and support envelopes published to a real
nats-server and consumed by an in-process reporting service (on SQLite and on PostgreSQL when it
is reachable); the standard reports, a custom query, its drill-down, targets, saved queries and a
dashboard answer over gRPC from what was published, each caller seeing their own share."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import nats
import pytest
from google.protobuf.message import Message

from crm.common.v1.types_pb2 import Money
from crm.reporting.v1 import reporting_pb2 as rpb
from crm.reporting.v1.reporting_pb2_grpc import ReportingServiceStub
from crm.sales.v1 import events_pb2 as sev
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm.support.v1 import events_pb2 as tev
from crm.support.v1.support_pb2 import Ticket
from crm_devtools.users import DEMO_USERS
from crm_reporting import bootstrap
from crmkit import bus
from crmkit.events import new_event
from crmkit.testing import Caller, NatsServer, ServiceHarness, fresh_postgres_database, postgres_reachable, wait_for

pytestmark = pytest.mark.integration

SECRET = "reporting-analytics-secret-0123456789abcdef"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def reporting(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceHarness]:
    if request.param == "postgresql" and not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    tmp = tmp_path_factory.mktemp(f"reporting-analytics-{request.param}")
    (tmp / "nats").mkdir()
    nats_server = NatsServer(tmp / "nats").start()   # its own: reporting reads whole streams

    def run(url: str) -> Iterator[ServiceHarness]:
        harness = ServiceHarness("reporting", bootstrap.spec, url=url, nats_url=nats_server.url, tmp=tmp / "data",
                                 secret=SECRET, users=DEMO_USERS).migrate().start()
        try:
            yield harness
        finally:
            harness.stop()
            nats_server.stop()

    if request.param == "sqlite":
        yield from run(f"sqlite:///{tmp / 'reporting.db'}")
    else:
        with fresh_postgres_database("crm_reporting_analytics") as url:
            yield from run(url)


def publish(url: str, events: list[tuple[str, str, str, int, Message]]) -> None:
    async def go() -> None:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            for producer, event_type, aggregate_id, version, payload in events:
                await bus.ensure_stream(js, producer)
                env = new_event(producer=producer, event_type=event_type, aggregate_type=event_type.split(".")[2],
                                aggregate_id=aggregate_id, aggregate_version=version, payload=payload)
                await js.publish(event_type, env.data, headers={"Nats-Msg-Id": env.event_id})
        finally:
            await nc.close()

    asyncio.run(go())


def _ts(message: Message, field: str, text: str) -> None:
    getattr(message, field).FromDatetime(datetime.fromisoformat(text).replace(tzinfo=UTC))


def opp(oid: str, owner: str, status: str, amount: str, *, closed: str = "", version: int = 2,
        probability: int = 100, expected: str = "") -> tuple[str, str, str, int, Message]:
    team, region = ("north-sales", "north") if "north" in owner else ("south-sales", "south")
    o = Opportunity(id=oid, version=version, stage="won" if status == "won" else "propose", status=status,
                    owner_id=owner, team=team, region=region, amount=Money(currency_code="CNY", amount=amount),
                    probability=probability, expected_close_date=expected)
    _ts(o, "created_at", "2024-05-01T00:00:00")
    if closed:
        _ts(o, "closed_at", closed)
        return "sales", f"crm.sales.opportunity.{status}", oid, version, sev.OpportunityClosed(opportunity=o)
    return "sales", "crm.sales.opportunity.updated", oid, version, sev.OpportunityUpdated(opportunity=o)


def ticket(tid: str, tags: list[str], assignee: str = "agent.support") -> tuple[str, str, str, int, Message]:
    t = Ticket(id=tid, version=1, status="open", priority="normal", assignee_id=assignee, type="question", tags=tags)
    _ts(t, "created_at", "2024-05-01T08:00:00")
    return "support", "crm.support.ticket.created", tid, 1, tev.TicketCreated(ticket=t)


def caller(h: ServiceHarness, user: str) -> Caller:
    return h.as_user(user, ReportingServiceStub)


def test_events_in_reports_and_drill_downs_out(reporting: ServiceHarness) -> None:
    run = uuid.uuid4().hex[:6]
    events = [
        opp(f"o1-{run}", "rep.north.1", "won", "1000", closed="2024-06-03T00:00:00"),
        opp(f"o2-{run}", "rep.north.2", "won", "3000", closed="2024-06-10T00:00:00"),
        opp(f"o3-{run}", "rep.south.1", "won", "500", closed="2024-06-11T00:00:00"),
        opp(f"o4-{run}", "rep.north.1", "open", "800", probability=50, expected="2024-08-01"),
        ("sales", "crm.sales.lead.created", f"l1-{run}", 1, sev.LeadCreated(lead=Lead(
            id=f"l1-{run}", version=1, source="website", owner_id="rep.north.1", team="north-sales",
            region="north", status="new"))),
        ticket(f"t1-{run}", ["billing"]), ticket(f"t2-{run}", ["billing", "login"]),
    ]
    publish(reporting.nats_url, events)
    publish(reporting.nats_url, events[:2])           # redelivered: changes nothing
    admin, manager, rep = caller(reporting, "admin"), caller(reporting, "manager.north"), caller(reporting, "rep.north.1")
    wait_for(lambda: admin.GetCatalogue(rpb.GetCatalogueRequest()) is not None
             and admin.RunQuery(rpb.RunQueryRequest(query=rpb.Query(source="tickets", measures=["count"])))
             .totals.values[0].number_value == 2
             and admin.RunQuery(rpb.RunQueryRequest(query=rpb.Query(source="opportunities", measures=["count"])))
             .totals.values[0].number_value == 4, what="the events applied")

    ranking = manager.GetStandardReport(rpb.GetStandardReportRequest(name="rep_ranking"))
    assert [(r.keys[0], r.values.values[0].number_value) for r in ranking.rows] == [
        ("rep.north.2", 3000.0), ("rep.north.1", 1000.0)]
    issues = admin.GetStandardReport(rpb.GetStandardReportRequest(name="top_issues"))
    assert [(r.keys[0], r.values.values[0].number_value) for r in issues.rows] == [("billing", 2.0), ("login", 1.0)]

    manager.PutTargets(rpb.PutTargetsRequest(targets=[
        rpb.SalesTarget(month="2024-06", rep_id="rep.north.1", currency_code="CNY", amount="2000")]))
    attainment = rep.GetStandardReport(rpb.GetStandardReportRequest(name="monthly_attainment"))
    assert [(list(r.keys), r.values.values[3].number_value) for r in attainment.rows] == [
        (["2024-06", "north-sales", "rep.north.1", "CNY"], 0.5)]
    with pytest.raises(grpc.RpcError) as e:
        rep.PutTargets(rpb.PutTargetsRequest(targets=[rpb.SalesTarget(month="2024-06", currency_code="CNY",
                                                                      amount="1")]))
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED

    won = rpb.Query(source="opportunities", measures=["won"], time_field="closed", time_grain="month")
    june = admin.DrillDown(rpb.DrillDownRequest(query=won, keys=["2024-06"]))
    assert sorted(june.ids) == sorted([f"o1-{run}", f"o2-{run}", f"o3-{run}"])
    assert rep.DrillDown(rpb.DrillDownRequest(query=won, keys=["2024-06"])).ids == [f"o1-{run}"]
    with pytest.raises(grpc.RpcError) as e:
        admin.RunQuery(rpb.RunQueryRequest(query=rpb.Query(source="opportunities", measures=["margin"])))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "margin" in (e.value.details() or "")

    board = manager.CreateDashboard(rpb.CreateDashboardRequest(dashboard=rpb.Dashboard(
        name="north", sharing="team", widgets=[rpb.Widget(id="won", title="Won", kind="figure", query=won,
                                                           thresholds=rpb.Thresholds(green=3, amber=2))])))
    assert [(w.figure, w.status) for w in manager.RenderDashboard(rpb.RenderDashboardRequest(id=board.id)).widgets] \
        == [(2.0, "amber")]
    assert [(w.figure, w.status) for w in rep.RenderDashboard(rpb.RenderDashboardRequest(id=board.id)).widgets] \
        == [(1.0, "red")]
    assert rep.DrillDownWidget(rpb.DrillDownWidgetRequest(dashboard_id=board.id, widget_id="won")).ids == [
        f"o1-{run}"]
    with pytest.raises(grpc.RpcError) as e:
        caller(reporting, "rep.south.1").RenderDashboard(rpb.RenderDashboardRequest(id=board.id))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND

    saved = rep.CreateSavedQuery(rpb.CreateSavedQueryRequest(saved_query=rpb.SavedQuery(
        name="my pipeline", query=rpb.Query(source="opportunities", measures=["open_amount"]), sharing="everyone")))
    assert rep.RunSavedQuery(rpb.RunSavedQueryRequest(id=saved.id)).rows[0].values.values[0].number_value == 800
    assert [s.name for s in admin.ListSavedQueries(rpb.ListSavedQueriesRequest()).items] == ["my pipeline"]
    forecast = manager.GetForecast(rpb.ForecastRequest(quarter="2024-Q3"))
    assert [(line.weighted_pipeline, line.open_deals) for line in forecast.lines] == [("400.00", 1)]


def test_csat_by_rating_drills_down_and_a_manager_counts_their_regions_tickets(reporting: ServiceHarness) -> None:
    """Drilling a CSAT row by its rating (a number) works on PostgreSQL too (it has no integer =
    varchar: it was INTERNAL there), and a manager's tickets are their team's and region's."""
    run = uuid.uuid4().hex[:6]
    events: list[tuple[str, str, str, int, Message]] = []
    for tid, team, region, rating in ((f"tn-{run}", "north-sales", "north", 2), (f"ts-{run}", "south-sales", "south", 2)):
        t = Ticket(id=tid, version=1, status="solved", priority="normal", assignee_id="agent.support",
                   type="question", tags=[f"csat-{run}"], team=team, region=region)
        _ts(t, "created_at", "2024-05-01T08:00:00")
        events.append(("support", "crm.support.ticket.created", tid, 1, tev.TicketCreated(ticket=t)))
        answer = tev.CsatAnswered(ticket_id=tid, assignee_id="agent.support", rating=rating)
        _ts(answer, "answered_at", "2024-05-02T08:00:00")
        events.append(("support", "crm.support.csat.answered", tid, 2, answer))
    publish(reporting.nats_url, events)
    admin, manager = caller(reporting, "admin"), caller(reporting, "manager.north")
    tagged = rpb.QueryFilter(field="tag", op="eq", values=[f"csat-{run}"])
    mine = rpb.Query(source="tickets", measures=["count"], filters=[tagged])
    wait_for(lambda: admin.RunQuery(rpb.RunQueryRequest(query=mine)).totals.values[0].number_value == 2
             and admin.DrillDown(rpb.DrillDownRequest(query=rpb.Query(source="csat", measures=["count"]))).total >= 2,
             what="the tickets and answers applied")

    by_rating = rpb.Query(source="csat", dimensions=["rating"], measures=["count"])
    drilled = admin.DrillDown(rpb.DrillDownRequest(query=by_rating, keys=["2"]))
    assert {f"tn-{run}", f"ts-{run}"} <= set(drilled.ids)
    assert f"ts-{run}" not in manager.DrillDown(rpb.DrillDownRequest(query=by_rating, keys=["2"])).ids
    with pytest.raises(grpc.RpcError) as e:
        admin.DrillDown(rpb.DrillDownRequest(query=by_rating, keys=["two"]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert manager.RunQuery(rpb.RunQueryRequest(query=mine)).totals.values[0].number_value == 1
    assert manager.DrillDown(rpb.DrillDownRequest(query=mine)).ids == [f"tn-{run}"]
