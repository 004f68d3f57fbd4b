"""Campaign ROI and email open rate from real envelopes: marketing and sales events (built with
crmkit.events.new_event, as their outbox relays publish them) on the MARKETING and SALES streams of
a real nats-server, consumed by reporting in-process (crmkit.testing.ServiceHarness) on SQLite and
PostgreSQL, the reports read over gRPC. A re-published event (same event id, new message id) and a
stale snapshot change nothing; callers see only the campaigns they may."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import nats
import pytest
from google.protobuf.message import Message

from crm.common.v1.types_pb2 import Money
from crm.marketing.v1 import events_pb2 as mev
from crm.marketing.v1.marketing_pb2 import Campaign, EmailCounts, SendWave
from crm.reporting.v1 import reporting_pb2 as rpb
from crm.reporting.v1.reporting_pb2_grpc import ReportingServiceStub
from crm.sales.v1 import events_pb2 as sev
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm_devtools.users import DEMO_USERS
from crm_reporting import bootstrap
from crmkit import bus
from crmkit.auth import Principal
from crmkit.events import new_event
from crmkit.testing import Caller, NatsServer, ServiceHarness, wait_for

pytestmark = pytest.mark.integration

SECRET = "reporting-campaigns-secret-0123456789abcdef"
USERS = {**DEMO_USERS, "analyst": Principal("analyst.1", ("analyst",), "bi", "", "Analyst")}
Event = tuple[str, str, int, Message]   # event type, aggregate id, version, payload


@pytest.fixture
def reporting(database_url: str, tmp_path: Path) -> Iterator[tuple[ServiceHarness, NatsServer]]:
    # Its own nats-server per database: the durable `reporting` remembers how far it read.
    (tmp_path / "nats").mkdir()
    server = NatsServer(tmp_path / "nats").start()
    harness = ServiceHarness("reporting", bootstrap.spec, url=database_url, nats_url=server.url, tmp=tmp_path,
                             secret=SECRET, users=USERS)
    harness.migrate().start()
    try:
        yield harness, server
    finally:
        harness.stop()
        server.stop()


def publish(url: str, events: list[Event], *, again: tuple[int, ...] = ()) -> None:
    """Publish each event to its producer's stream; those at the indexes `again` a second time, under
    a new message id (a relay that lost JetStream's ack beyond its duplicate window)."""
    async def run() -> None:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            for producer in ("marketing", "sales"):
                await bus.ensure_stream(js, producer)
            for i, (event_type, aggregate_id, version, payload) in enumerate(events):
                env = new_event(producer=event_type.split(".")[1], event_type=event_type,
                                aggregate_type=event_type.split(".")[2], aggregate_id=aggregate_id,
                                aggregate_version=version, payload=payload)
                await js.publish(event_type, env.data, headers={"Nats-Msg-Id": env.event_id})
                if i in again:
                    await js.publish(event_type, env.data, headers={"Nats-Msg-Id": str(uuid.uuid4())})
        finally:
            await nc.close()

    asyncio.run(run())


def _at(message: Message, field: str, text: str) -> None:
    getattr(message, field).FromDatetime(datetime.fromisoformat(text).replace(tzinfo=UTC))


def campaign(cid: str, version: int, cost: str, *, kind: str = "email", owner: str = "rep.north.1",
             region: str = "north", team: str = "north-sales") -> Event:
    c = Campaign(id=cid, version=version, name=f"campaign {cid}", type=kind, status="active", owner_id=owner,
                 team=team, region=region, start_date="2024-06-01",
                 actual_cost=Money(currency_code="CNY", amount=cost), budget=Money(currency_code="CNY", amount="5000"))
    return "crm.marketing.campaign.updated", cid, version, mev.CampaignUpdated(campaign=c)


def wave(wid: str, cid: str, version: int, status: str, failed: int = 0) -> Event:
    w = SendWave(id=wid, campaign_id=cid, version=version, status=status, counts=EmailCounts(recipients=4, failed=failed))
    _at(w, "started_at", "2024-06-03T09:00:00")
    event = "completed" if status == "completed" else "started"
    return f"crm.marketing.wave.{event}", wid, version, mev.WaveChanged(wave=w)


def email(kind: str, wid: str, cid: str, contact: str, at: str) -> Event:
    e = mev.EmailEngagement(wave_id=wid, campaign_id=cid, contact_id=contact, channel="email")
    _at(e, "at", at)
    return f"crm.marketing.email.{kind}", f"{wid}/{contact}", 1, e


def lead(lid: str, version: int, cid: str, *, contact: str = "") -> Event:
    lead = Lead(id=lid, version=version, campaign_id=cid, source="campaign", owner_id="rep.north.1",
                team="north-sales", region="north", status="converted" if contact else "new",
                converted_contact_id=contact)
    _at(lead, "created_at", "2024-06-01T08:00:00")
    if contact:
        return "crm.sales.lead.converted", lid, version, sev.LeadConverted(lead=lead, contact_id=contact)
    return "crm.sales.lead.created", lid, version, sev.LeadCreated(lead=lead)


def won(oid: str, lead_id: str, contact: str, amount: str) -> Event:
    o = Opportunity(id=oid, version=3, lead_id=lead_id, contact_id=contact, status="won", stage="closed",
                    owner_id="rep.north.1", team="north-sales", region="north",
                    amount=Money(currency_code="CNY", amount=amount))
    _at(o, "closed_at", "2024-06-20T00:00:00")
    return "crm.sales.opportunity.won", oid, 3, sev.OpportunityClosed(opportunity=o)


def form(sid: str, cid: str, contact: str, at: str) -> Event:
    f = mev.FormSubmitted(submission_id=sid, form_id="f1", campaign_id=cid, contact_id=contact, channel="web_form")
    _at(f, "at", at)
    return "crm.marketing.form.submitted", sid, 1, f


def handover(lead_id: str, contact: str, cid: str, sid: str) -> Event:
    h = mev.LeadHandedOver(lead_id=lead_id, contact_id=contact, campaign_id=cid, submission_id=sid, source="web_form")
    _at(h, "at", "2024-06-07T09:00:00")
    return "crm.marketing.lead.handed_over", lead_id, 1, h


def applied(caller: Caller) -> int:
    return caller.GetEmailOpenRate(rpb.GetEmailOpenRateRequest()).events_applied


def test_campaign_roi_and_open_rate_from_the_marketing_and_sales_streams(
        reporting: tuple[ServiceHarness, NatsServer]) -> None:
    harness, server = reporting
    admin = harness.as_user("admin", ReportingServiceStub)
    events: list[Event] = [
        campaign("A", 1, "0"), campaign("A", 2, "1000"), campaign("B", 1, "400", kind="webinar"),
        campaign("S", 1, "10", owner="rep.south.1", region="south", team="south-sales"),
        campaign("A", 1, "0"),                                                   # stale: the cost stays 1000
        wave("w1", "A", 1, "sending"), wave("w1", "A", 2, "completed", failed=1),
        email("sent", "w1", "A", "C1", "2024-06-03T09:00:00"), email("sent", "w1", "A", "C2", "2024-06-03T09:00:01"),
        email("sent", "w1", "A", "C3", "2024-06-03T09:00:02"),
        email("opened", "w1", "A", "C1", "2024-06-03T10:00:00"), email("opened", "w1", "A", "C1", "2024-06-04T10:00:00"),
        email("clicked", "w1", "A", "C1", "2024-06-04T10:01:00"),                # C1's touch of A, after its lead's
        lead("L1", 1, "B"), lead("L1", 2, "B", contact="C1"),                    # first touch: B's lead
        form("S1", "A", "C2", "2024-06-05T09:00:00"), handover("L2", "C2", "A", "S1"), lead("L2", 1, "A"),
        won("O1", "L1", "C1", "3000"),                                           # first B, last A
        won("O2", "", "C2", "500"),                                              # A and A
        campaign("B", 2, "400", kind="webinar"),                                 # the last on MARKETING: after the repeats
    ]
    before = applied(admin)
    publish(server.url, events, again=(12, 16))                                  # a click and a hand-off twice
    wait_for(lambda: applied(admin) >= before + len(events), timeout=30, what="reporting to apply every event")
    assert applied(admin) == before + len(events)                                # the repeats took no effect

    table = admin.ListCampaignRoi(rpb.ListCampaignRoiRequest())
    assert [r.campaign_id for r in table.campaigns] == ["B", "A", "S"]           # first-touch ROI 6.5, -0.5, -1
    rows = {r.campaign_id: r for r in table.campaigns}
    a, b = rows["A"], rows["B"]
    assert (a.email.delivered, a.email.failed, a.email.opened, a.email.clicked, a.email.open_rate) == (3, 1, 1, 1, 0.3333)
    assert (a.leads, b.leads, b.conversions) == (1, 1, 1)
    assert (a.money.actual_cost, a.money.first_touch_revenue, a.money.last_touch_revenue) == ("1000.00", "500.00", "3500.00")
    assert (a.money.first_touch_roi, a.money.last_touch_roi) == (-0.5, 2.5)
    assert (b.money.first_touch_revenue, b.money.first_touch_roi, b.money.last_touch_deals) == ("3000.00", 6.5, 0)
    assert (b.conversion_rate, rows["S"].money.first_touch_roi, rows["S"].money.last_touch_roi) == (1.0, -1.0, -1.0)
    by_roi = admin.ListCampaignRoi(rpb.ListCampaignRoiRequest(order_by="-last_touch_roi"))
    assert [r.campaign_id for r in by_roi.campaigns] == ["A", "B", "S"]          # 2.5, then -1 and -1 by name
    assert {c.channel: c.leads for c in table.channels} == {"email": 1, "webinar": 1}

    rate = admin.GetEmailOpenRate(rpb.GetEmailOpenRateRequest(interval="week", by_campaign=True))
    assert [(p.period, p.campaign_id, p.delivered, p.opened, p.clicked) for p in rate.points] == [
        ("2024-06-03", "A", 3, 1, 1)]
    report = admin.GetCampaignReport(rpb.GetCampaignReportRequest(campaign_id="A"))
    assert [(w.wave_id, w.status) for w in report.waves] == [("w1", "completed")]
    assert {b.key: b.count for b in report.leads_by_source} == {"form": 1, "handover": 1, "sales_lead": 1}

    rep = harness.as_user("rep.north.1", ReportingServiceStub)
    assert {r.campaign_id for r in rep.ListCampaignRoi(rpb.ListCampaignRoiRequest()).campaigns} == {"A", "B"}
    south = harness.as_user("manager.south", ReportingServiceStub)
    assert [r.campaign_id for r in south.ListCampaignRoi(rpb.ListCampaignRoiRequest()).campaigns] == ["S"]
    with pytest.raises(grpc.RpcError) as hidden:
        south.GetCampaignReport(rpb.GetCampaignReportRequest(campaign_id="A"))
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as bad:
        admin.ListCampaignRoi(rpb.ListCampaignRoiRequest(order_by="roi"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("crm-error-field", "order_by") in (bad.value.trailing_metadata() or ())
