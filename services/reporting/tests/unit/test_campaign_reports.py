"""The campaign reports (usecases.campaigns, usecases.email) over read models fed by real events:
the ROI table sorted by any column with null ROIs last, paged, summed per channel; money in the
campaign's currency; the open rate per day and week as cohorts of delivered mail; who sees which
campaign; and bad filters named."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import (
    CampaignRoiTable,
    EmailOpenRateReport,
    GetCampaignReportRequest,
    GetEmailOpenRateRequest,
    ListCampaignRoiRequest,
)
from crm_devtools.users import DEMO_USERS
from crm_reporting import rules
from crm_reporting.usecases import campaigns as reports
from crm_reporting.usecases import email as email_reports
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, NotFound

ADMIN = DEMO_USERS["admin"]
ANALYST = Principal("analyst.1", ("analyst",), "bi", "", "分析师 Analyst")


def roi_table(session: Session, principal: Principal = ADMIN, **request: object) -> CampaignRoiTable:
    return reports.campaign_roi(session, principal=principal, request=ListCampaignRoiRequest(**request))


def open_rate(session: Session, principal: Principal = ADMIN, **request: object) -> EmailOpenRateReport:
    return email_reports.email_open_rate(session, principal=principal, request=GetEmailOpenRateRequest(**request))


def _three_campaigns(feed) -> None:
    """A: cost 500, one 1000 deal (ROI 1.0); B: cost 2000, one 1000 deal (-0.5); Z: nothing spent."""
    feed.campaign("A", cost="500", name="a-email", type="email", start="2024-05-01")
    feed.campaign("B", cost="2000", name="b-webinar", type="webinar", start="2024-06-01")
    feed.campaign("Z", name="z-email", type="email", start="2024-07-01")
    for lead, cid in (("L1", "A"), ("L2", "B"), ("L3", "Z"), ("L4", "A")):
        feed.lead(lead, campaign=cid)
    feed.lead("L4", 2, campaign="A", status="converted", contact="C4")
    feed.deal("O1", lead="L1")
    feed.deal("O2", lead="L2")
    feed.deal("O3", lead="L3")


def test_the_roi_table_sorts_by_roi_with_null_last_either_way(feed, session: Session) -> None:
    _three_campaigns(feed)
    assert [r.campaign_id for r in roi_table(session).campaigns] == ["A", "B", "Z"]          # -first_touch_roi
    assert [r.campaign_id for r in roi_table(session, order_by="first_touch_roi").campaigns] == ["B", "A", "Z"]
    assert [r.campaign_id for r in roi_table(session, order_by="-leads").campaigns] == ["A", "B", "Z"]
    assert [r.campaign_id for r in roi_table(session, order_by="-name").campaigns] == ["Z", "B", "A"]
    assert [r.campaign_id for r in roi_table(session, order_by="start_date").campaigns] == ["A", "B", "Z"]
    z = roi_table(session).campaigns[2]
    assert z.money.first_touch_revenue == "1000.00" and not z.money.HasField("first_touch_roi")
    a = roi_table(session).campaigns[0]
    assert (a.leads, a.conversions, a.conversion_rate, a.money.first_touch_roi) == (2, 1, 0.5, 1.0)
    with pytest.raises(InvalidArgument) as bad:
        roi_table(session, order_by="roi desc")
    assert bad.value.field == "order_by"


def test_the_roi_table_pages_and_its_channel_summary_covers_every_page(feed, session: Session) -> None:
    _three_campaigns(feed)
    first = roi_table(session, page={"page_size": 2})
    assert [r.campaign_id for r in first.campaigns] == ["A", "B"] and first.page.next_page_token
    rest = roi_table(session, page={"page_size": 2, "page_token": first.page.next_page_token})
    assert [r.campaign_id for r in rest.campaigns] == ["Z"] and rest.page.next_page_token == ""
    channels = {c.channel: c for c in first.channels}
    assert set(channels) == {"email", "webinar"}
    email = channels["email"]
    assert (email.campaigns, email.leads, email.conversions) == (2, 3, 1)
    [money] = email.money
    assert (money.currency_code, money.actual_cost, money.first_touch_revenue, money.first_touch_deals) == (
        "CNY", "500.00", "2000.00", 2)
    assert money.first_touch_roi == 3.0                                                      # (2000 - 500) / 500
    with pytest.raises(InvalidArgument) as bad:
        roi_table(session, page={"page_token": "not-ours"})
    assert bad.value.field == "page_token"


def test_filters_narrow_the_table(feed, session: Session) -> None:
    _three_campaigns(feed)
    assert [r.campaign_id for r in roi_table(session, channel="email").campaigns] == ["A", "Z"]
    assert [r.campaign_id for r in roi_table(session, from_day="2024-06-01", to_day="2024-06-30").campaigns] == ["B"]
    assert roi_table(session, status="draft").campaigns == []
    with pytest.raises(InvalidArgument) as bad:
        roi_table(session, from_day="June")
    assert bad.value.field == "from_day"
    with pytest.raises(InvalidArgument) as bad:
        roi_table(session, status="running")  # a typo: said, not an empty table
    assert bad.value.field == "status" and "active" in bad.value.message


def test_money_is_counted_in_the_campaigns_currency_and_other_currencies_are_counted_not_converted(
        feed, session: Session) -> None:
    feed.campaign("A", cost="500", currency="CNY")
    feed.campaign("N")                                                                       # no cost, no budget
    for lead, cid in (("L1", "A"), ("L2", "A"), ("L3", "N")):
        feed.lead(lead, campaign=cid)
    feed.deal("O1", lead="L1", amount="1000", currency="CNY")
    feed.deal("O2", lead="L2", amount="99", currency="USD")
    feed.deal("O3", lead="L3", amount="70", currency="USD")
    rows = {r.campaign_id: r for r in roi_table(session).campaigns}
    assert (rows["A"].money.currency_code, rows["A"].money.first_touch_revenue, rows["A"].other_currency_deals) == (
        "CNY", "1000.00", 1)
    assert (rows["N"].money.currency_code, rows["N"].money.last_touch_revenue, rows["N"].other_currency_deals) == (
        "USD", "70.00", 0)


def test_who_sees_which_campaign(feed, session: Session) -> None:
    feed.campaign("north", owner="rep.north.2", team="north-sales", region="north")
    feed.campaign("south", owner="rep.south.1", team="south-sales", region="south")
    feed.campaign("mine", owner="marketing.hq", team="marketing")
    seen = {user: {r.campaign_id for r in roi_table(session, principal).campaigns}
            for user, principal in (("admin", ADMIN), ("analyst", ANALYST), *(
                (name, DEMO_USERS[name]) for name in ("manager.north", "rep.north.2", "marketing.hq", "rep.north.1")))}
    # a marketer reads every campaign in marketing (its list, each campaign): their ROI table too
    assert seen == {"admin": {"north", "south", "mine"}, "analyst": {"north", "south", "mine"},
                    "manager.north": {"north"}, "rep.north.2": {"north"}, "marketing.hq": {"north", "south", "mine"},
                    "rep.north.1": set()}
    assert reports.campaign_report(session, principal=DEMO_USERS["marketing.hq"],
                                   request=GetCampaignReportRequest(campaign_id="south")).campaign.campaign_id == "south"
    with pytest.raises(NotFound) as hidden:
        reports.campaign_report(session, principal=DEMO_USERS["rep.north.1"],
                                request=GetCampaignReportRequest(campaign_id="north"))
    assert hidden.value.field == "campaign_id"
    assert reports.campaign_report(session, principal=DEMO_USERS["manager.north"],
                                   request=GetCampaignReportRequest(campaign_id="north")).campaign.campaign_id == "north"
    feed.wave("w1", "south", status="completed")
    feed.email("sent", "w1", "south", "c1", "2024-06-03T09:00:00")
    assert open_rate(session, DEMO_USERS["manager.north"]).total.delivered == 0
    assert open_rate(session, DEMO_USERS["manager.south"]).total.delivered == 1
    assert open_rate(session, DEMO_USERS["marketing.hq"]).total.delivered == 1


def _mailing(feed) -> None:
    """Mon 3 June: A delivers c1, c2 (c1 opens on Wednesday); Tue 4 June: B delivers c3 (clicks);
    Mon 10 June: A delivers c4 (nobody opens)."""
    feed.campaign("A", name="alpha")
    feed.campaign("B", name="beta", type="social")
    feed.wave("wa", "A", status="sending")
    feed.wave("wb", "B", status="completed")
    feed.email("sent", "wa", "A", "c1", "2024-06-03T09:00:00")
    feed.email("sent", "wa", "A", "c2", "2024-06-03T09:01:00")
    feed.email("opened", "wa", "A", "c1", "2024-06-05T20:00:00")
    feed.email("sent", "wb", "B", "c3", "2024-06-04T09:00:00")
    feed.email("clicked", "wb", "B", "c3", "2024-06-04T10:00:00")
    feed.email("sent", "wa", "A", "c4", "2024-06-10T09:00:00")
    feed.email("sent", "wa", "A", "c1", "2024-06-11T09:00:00")                               # a repeat, later: no move


def test_the_open_rate_per_day_counts_each_open_on_the_day_its_mail_was_delivered(feed, session: Session) -> None:
    _mailing(feed)
    got = open_rate(session)
    assert got.interval == "day"
    assert [(p.period, p.delivered, p.opened, p.clicked) for p in got.points] == [
        ("2024-06-03", 2, 1, 0), ("2024-06-04", 1, 1, 1), ("2024-06-10", 1, 0, 0)]
    assert [p.open_rate for p in got.points] == [0.5, 1.0, 0.0]
    assert (got.total.delivered, got.total.opened, got.total.open_rate, got.total.click_rate) == (4, 2, 0.5, 0.25)
    narrowed = open_rate(session, from_day="2024-06-04", to_day="2024-06-09")
    assert [p.period for p in narrowed.points] == ["2024-06-04"]
    assert [p.period for p in open_rate(session, campaign_id="A").points] == ["2024-06-03", "2024-06-10"]
    assert [p.period for p in open_rate(session, channel="social").points] == ["2024-06-04"]


def test_the_open_rate_per_week_and_per_campaign(feed, session: Session) -> None:
    _mailing(feed)
    weeks = open_rate(session, interval="week")
    assert [(p.period, p.delivered, p.opened) for p in weeks.points] == [("2024-06-03", 3, 2), ("2024-06-10", 1, 0)]
    split = open_rate(session, interval="week", by_campaign=True)
    assert [(p.period, p.campaign_name, p.delivered, p.opened) for p in split.points] == [
        ("2024-06-03", "alpha", 2, 1), ("2024-06-03", "beta", 1, 1), ("2024-06-10", "alpha", 1, 0)]
    assert split.points[0].campaign_id == "A"
    empty = open_rate(session, from_day="2025-01-01")
    assert empty.points == [] and not empty.total.HasField("open_rate")
    with pytest.raises(InvalidArgument) as bad:
        open_rate(session, interval="month")
    assert bad.value.field == "interval"
    with pytest.raises(InvalidArgument) as bad:
        open_rate(session, to_day="10/06/2024")
    assert bad.value.field == "to_day"


def test_a_wave_without_email_sent_events_counts_its_snapshots_deliveries(feed, session: Session) -> None:
    _mailing(feed)
    feed.wave("old", "B", 1, status="completed", recipients=5, delivered=4, started="2024-06-10T08:00:00")
    for contact in ("d1", "d2"):
        feed.email("opened", "old", "B", contact, "2024-06-12T08:00:00")
    feed.email("clicked", "old", "B", "d2", "2024-06-12T08:01:00")
    b = reports.campaign_report(session, principal=ADMIN, request=GetCampaignReportRequest(campaign_id="B"))
    assert (b.campaign.email.delivered, b.campaign.email.opened, b.campaign.email.open_rate) == (5, 3, 0.6)
    assert {w.wave_id: (w.email.delivered, w.email.open_rate) for w in b.waves} == {"wb": (1, 1.0), "old": (4, 0.5)}
    days = open_rate(session, campaign_id="B")
    assert [(p.period, p.delivered, p.opened, p.clicked) for p in days.points] == [
        ("2024-06-04", 1, 1, 1), ("2024-06-10", 4, 2, 1)]
    assert open_rate(session, campaign_id="B", to_day="2024-06-09").total.delivered == 1


def test_campaign_report_lists_its_waves_by_send_day(feed, session: Session) -> None:
    _mailing(feed)
    feed.wave("wa2", "A", status="ready", started="2024-06-01T09:00:00", kind="sequence")
    got = reports.campaign_report(session, principal=ADMIN, request=GetCampaignReportRequest(campaign_id="A"))
    assert [(w.wave_id, w.kind, w.status, w.email.delivered, w.email.opened) for w in got.waves] == [
        ("wa2", "sequence", "ready", 0, 0), ("wa", "", "sending", 3, 1)]
    assert (got.campaign.email.waves, got.campaign.email.waves_sending, got.campaign.email.open_rate) == (2, 2, 0.3333)
    with pytest.raises(NotFound):
        reports.campaign_report(session, principal=ADMIN, request=GetCampaignReportRequest())


def test_rules_of_the_campaign_figures() -> None:
    assert rules.week_of("2024-06-09") == "2024-06-03" and rules.week_of("2024-06-10") == "2024-06-10"
    assert rules.rate(1, 3) == 0.3333 and rules.rate(0, 0) is None
    assert rules.roi(15_000, 10_000) == 0.5 and rules.roi(0, 10_000) == -1.0 and rules.roi(5, 0) is None
    assert rules.campaign_currency("CNY", "USD", ["EUR"]) == "CNY"
    assert rules.campaign_currency("", "USD", ["EUR"]) == "USD"
    assert rules.campaign_currency("", "", ["EUR", "EUR", ""]) == "EUR"
    assert rules.campaign_currency("", "", ["EUR", "USD"]) == ""
    from datetime import UTC, datetime
    t = datetime(2024, 6, 1, tzinfo=UTC)
    touches = [rules.Touch(t, "b", "B"), rules.Touch(t, "a", "A"), rules.Touch(datetime(2024, 6, 9, tzinfo=UTC), "c", "C")]
    assert rules.first_and_last(touches, None) == ("A", "C")
    assert rules.first_and_last(touches, datetime(2024, 6, 2, tzinfo=UTC)) == ("A", "B")
    assert rules.first_and_last(touches, datetime(2024, 5, 1, tzinfo=UTC)) == ("", "")
