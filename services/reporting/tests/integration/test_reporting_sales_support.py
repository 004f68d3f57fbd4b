"""Real sales and support envelopes published to a real nats-server, consumed by an in-process
reporting service: the summaries it serves match what was published, redelivered and stale
snapshots change nothing, and a rep is refused nothing but sees only their own records."""
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
from crm.support.v1.support_pb2 import SlaClock, Ticket
from crm_devtools.users import DEMO_USERS
from crm_reporting import bootstrap
from crmkit import bus
from crmkit.auth import mint_token
from crmkit.config import ServiceSettings
from crmkit.events import new_event
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import NatsServer, wait_for

pytestmark = pytest.mark.integration

SECRET = "reporting-sales-support-secret-0123456789abcdef"


def _auth(user: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {mint_token(DEMO_USERS[user], SECRET)}")]


@pytest.fixture(scope="module")
def own_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """Its own nats-server: reporting reads whole streams, and other tests publish to SALES too."""
    server = NatsServer(tmp_path_factory.mktemp("reporting-sales-nats")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stub(own_nats: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportingServiceStub]:
    tmp = tmp_path_factory.mktemp("reporting-sales-support")
    url = f"sqlite:///{tmp / 'reporting.db'}"
    spec = bootstrap.spec()
    upgrade(url, spec.migrations)
    settings = ServiceSettings.from_env("reporting", env={
        "REPORTING_DATABASE_URL": url, "NATS_URL": own_nats.url, "PORT": "0", "METRICS_PORT": "0",
        "JWT_SECRET": SECRET, "DATA_DIR": str(tmp / "data"), "CONSUMER_BATCH": "5"})
    runtime = ServiceRuntime(spec, settings).start()
    channel = grpc.insecure_channel(runtime.address)
    try:
        yield ReportingServiceStub(channel)
    finally:
        channel.close()
        runtime.stop()


def publish(url: str, events: list[tuple[str, str, str, int, Message]]) -> None:
    async def run() -> None:
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

    asyncio.run(run())


def _ts(message: Message, field: str, text: str) -> None:
    getattr(message, field).FromDatetime(datetime.fromisoformat(text).replace(tzinfo=UTC))


def opp(oid: str, version: int, stage: str, amount: str, *, status: str = "open", closed: str = "",
        owner: str = "rep.north.1", region: str = "north", team: str = "north-sales") -> Opportunity:
    o = Opportunity(id=oid, version=version, stage=stage, status=status, owner_id=owner, region=region, team=team,
                    amount=Money(currency_code="CNY", amount=amount))
    if closed:
        _ts(o, "closed_at", closed)
    return o


def ticket(tid: str, version: int, status: str, priority: str, *, responded: str = "", solved: str = "",
           breached: tuple[str, ...] = ()) -> Ticket:
    t = Ticket(id=tid, version=version, status=status, priority=priority, assignee_id="agent.1",
               sla=[SlaClock(metric=m, breached=True) for m in breached])
    _ts(t, "created_at", "2024-05-01T08:00:00")
    if responded:
        _ts(t, "first_responded_at", responded)
    if solved:
        _ts(t, "solved_at", solved)
    return t


def csat(tid: str, rating: int, when: str) -> tev.CsatAnswered:
    answer = tev.CsatAnswered(ticket_id=tid, rating=rating, assignee_id="agent.1")
    _ts(answer, "answered_at", when)
    return answer


def applied(stub: ReportingServiceStub) -> int:
    return stub.GetSupportSummary(rpb.GetSupportSummaryRequest(), metadata=_auth("admin"), timeout=15).events_applied


def test_sales_and_support_summaries_from_real_envelopes(own_nats: NatsServer, stub: ReportingServiceStub) -> None:
    south = {"owner": "rep.south.1", "region": "south", "team": "south-sales"}
    o1, o2, o3, o4 = (str(uuid.uuid4()) for _ in range(4))
    events: list[tuple[str, str, str, int, Message]] = [
        ("sales", "crm.sales.opportunity.created", o1, 1, sev.OpportunityCreated(opportunity=opp(o1, 1, "qualify", "100"))),
        ("sales", "crm.sales.opportunity.stage_changed", o1, 2, sev.OpportunityStageChanged(
            opportunity=opp(o1, 2, "proposal", "120.50"), from_stage="qualify", to_stage="proposal")),
        ("sales", "crm.sales.opportunity.created", o2, 1, sev.OpportunityCreated(
            opportunity=opp(o2, 1, "qualify", "300", **south))),
        ("sales", "crm.sales.opportunity.won", o2, 2, sev.OpportunityClosed(
            opportunity=opp(o2, 2, "negotiation", "350", status="won", closed="2024-06-10T09:00:00", **south))),
        ("sales", "crm.sales.opportunity.created", o2, 1, sev.OpportunityCreated(      # stale, after the win
            opportunity=opp(o2, 1, "qualify", "300", **south))),
        ("sales", "crm.sales.opportunity.created", o3, 1, sev.OpportunityCreated(opportunity=opp(o3, 1, "qualify", "80"))),
        ("sales", "crm.sales.opportunity.lost", o3, 2, sev.OpportunityClosed(
            opportunity=opp(o3, 2, "qualify", "80", status="lost", closed="2024-06-11T09:00:00"))),
        ("sales", "crm.sales.opportunity.created", o4, 1, sev.OpportunityCreated(
            opportunity=opp(o4, 1, "qualify", "40", **south))),
        ("sales", "crm.sales.lead.created", "l1", 1, sev.LeadCreated(lead=Lead(
            id="l1", version=1, source="web_form", owner_id="rep.north.1", region="north", team="north-sales"))),
        ("sales", "crm.sales.lead.created", "l2", 1, sev.LeadCreated(lead=Lead(
            id="l2", version=1, source="event", owner_id="rep.south.1", region="south", team="south-sales"))),
        ("sales", "crm.sales.task.created", "task", 1, sev.TaskChanged()),
        ("support", "crm.support.ticket.created", "t1", 1, tev.TicketCreated(ticket=ticket("t1", 1, "new", "high"))),
        ("support", "crm.support.ticket.solved", "t1", 3, tev.TicketSolved(ticket=ticket(
            "t1", 3, "solved", "high", responded="2024-05-01T08:20:00", solved="2024-05-01T11:00:00"))),
        ("support", "crm.support.ticket.updated", "t1", 2, tev.TicketUpdated(ticket=ticket(       # late
            "t1", 2, "open", "high", responded="2024-05-01T08:20:00"))),
        ("support", "crm.support.ticket.created", "t2", 1, tev.TicketCreated(ticket=ticket("t2", 1, "open", "normal"))),
        ("support", "crm.support.sla.breached", "t2", 2, tev.SlaBreached(
            ticket=ticket("t2", 2, "open", "normal", breached=("first_response",)), metric="first_response")),
        ("support", "crm.support.csat.answered", "t1", 4, csat("t1", 5, "2024-05-02T10:00:00")),
        ("support", "crm.support.csat.answered", "t2", 3, csat("t2", 2, "2024-05-03T10:00:00")),
    ]
    before = applied(stub)
    publish(own_nats.url, events)
    wait_for(lambda: applied(stub) >= before + len(events), timeout=30, what="reporting to apply every event")

    sales = stub.GetSalesSummary(rpb.GetSalesSummaryRequest(), metadata=_auth("admin"), timeout=15)
    assert {(b.key, b.count, b.amount) for b in sales.pipeline_by_stage} == {
        ("proposal", 1, "120.50"), ("qualify", 1, "40.00")}
    assert sales.pipeline_count == 2
    assert [(b.key, b.count, b.amount) for b in sales.won_by_month] == [("2024-06", 1, "350.00")]
    assert (sales.won_count, sales.lost_count, sales.win_rate) == (1, 1, 0.5)
    assert {b.key: b.count for b in sales.leads_by_source} == {"web_form": 1, "event": 1}

    rep = stub.GetSalesSummary(rpb.GetSalesSummaryRequest(), metadata=_auth("rep.north.1"), timeout=15)
    assert (rep.pipeline_count, rep.won_count, rep.lost_count, rep.lead_count) == (1, 0, 1, 1)
    manager = stub.GetSalesSummary(rpb.GetSalesSummaryRequest(), metadata=_auth("manager.south"), timeout=15)
    assert (manager.pipeline_count, manager.won_count, manager.lead_count) == (1, 1, 1)

    support = stub.GetSupportSummary(rpb.GetSupportSummaryRequest(), metadata=_auth("admin"), timeout=15)
    assert support.total == 2 and {b.key: b.count for b in support.by_status} == {"solved": 1, "open": 1}
    assert {b.key: b.count for b in support.by_priority} == {"high": 1, "normal": 1}
    assert support.sla_breaches == 1
    assert (support.avg_first_response_seconds, support.first_response_count) == (1200.0, 1)
    assert (support.avg_resolution_seconds, support.resolution_count) == (3 * 3600.0, 1)
    assert (support.csat_average, support.csat_count) == (3.5, 2)
    assert (support.csat_satisfied, support.csat_satisfied_share) == (1, 0.5)
    assert [(d.day, d.count, d.average, d.satisfied) for d in support.csat_per_day] == [
        ("2024-05-02", 1, 5.0, 1), ("2024-05-03", 1, 2.0, 0)]
    mine = stub.GetSupportSummary(rpb.GetSupportSummaryRequest(), metadata=_auth("rep.north.1"), timeout=15)
    assert mine.total == 0 and mine.csat_count == 0 and mine.csat_satisfied == 0
    assert not mine.HasField("csat_average") and not mine.HasField("csat_satisfied_share")   # no data, not 0
    with pytest.raises(grpc.RpcError) as err:
        stub.GetSupportSummary(rpb.GetSupportSummaryRequest(from_day="May 1"), metadata=_auth("admin"), timeout=15)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
