"""Marketing and sales events → the campaign read models (handlers.marketing, handlers.sales,
store.campaigns) on the migrated schema: every event kind, recipients counted once, leads attributed
once however they came, first- and last-touch attribution over several touches, and any order or
repetition of the events giving the same report."""
from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.reporting.v1.reporting_pb2 import CampaignReport, GetCampaignReportRequest, ListCampaignRoiRequest
from crm_devtools.users import DEMO_USERS
from crm_reporting import handlers
from crm_reporting.bootstrap import MIGRATIONS
from crm_reporting.tables import campaigns, opportunities
from crm_reporting.usecases import campaigns as reports
from crmkit.errors import NotFound
from crmkit.testing import migrated_database

ADMIN = DEMO_USERS["admin"]
NOW = datetime(2024, 7, 1, tzinfo=UTC)


def report(session: Session, cid: str) -> CampaignReport:
    return reports.campaign_report(session, principal=ADMIN, request=GetCampaignReportRequest(campaign_id=cid))


def attribution(session: Session) -> dict[str, tuple[str, str]]:
    rows = session.execute(select(opportunities.c.opportunity_id, opportunities.c.first_campaign_id,
                                  opportunities.c.last_campaign_id))
    return {oid: (first, last) for oid, first, last in rows}


def test_campaign_snapshots_keep_the_newest_version_and_a_deleted_campaign_leaves_the_reports(
        feed, session: Session) -> None:
    feed.campaign("A", 2, cost="800", budget="1000", name="春季展会", type="trade_show")
    feed.campaign("A", 1, cost="100", budget="1000", name="stale")                 # late, older
    row = session.execute(select(campaigns).where(campaigns.c.campaign_id == "A")).one()
    assert (row.version, row.name, row.channel, row.cost_units, row.budget_units) == (
        2, "春季展会", "trade_show", 800 * 10_000, 1000 * 10_000)
    money = report(session, "A").campaign.money
    assert (money.currency_code, money.budget, money.actual_cost) == ("CNY", "1000.00", "800.00")
    feed.campaign("A", 3, event="deleted")
    with pytest.raises(NotFound):
        report(session, "A")
    assert reports.campaign_roi(session, principal=ADMIN, request=ListCampaignRoiRequest()).campaigns == []


def test_each_recipient_counts_once_per_wave_and_rates_are_over_delivered_mails(feed, session: Session) -> None:
    feed.campaign("A")
    feed.wave("w1", "A", 1, status="sending", recipients=5)
    feed.wave("w1", "A", 3, status="completed", recipients=5, failed=1)
    feed.wave("w1", "A", 2, status="sending", recipients=5)                          # stale: changes nothing
    for contact in ("c1", "c2", "c3"):
        feed.email("sent", "w1", "A", contact, "2024-06-03T09:00:00")
    feed.email("sent", "w1", "A", "c1", "2024-06-03T09:00:00")                       # the same mail again
    feed.email("opened", "w1", "A", "c1", "2024-06-03T10:00:00")
    feed.email("opened", "w1", "A", "c1", "2024-06-04T10:00:00")                     # a second open
    feed.email("clicked", "w1", "A", "c2", "2024-06-03T11:00:00")                    # images off: also an open
    feed.email("clicked", "w1", "A", "c2", "2024-06-03T11:05:00")
    feed.email("unsubscribed", "w1", "A", "c3", "2024-06-03T12:00:00")
    feed.email("opened", "w1", "A", "c9", "2024-06-03T12:00:00")                     # its mail's event not here yet
    got = report(session, "A")
    email = got.campaign.email
    assert (email.waves, email.waves_sending, email.recipients, email.sent, email.delivered, email.failed) == (
        1, 0, 5, 4, 3, 1)
    assert (email.opened, email.clicked, email.unsubscribed) == (3, 1, 1)
    assert (email.open_rate, email.click_rate) == (0.6667, 0.3333)                   # c1, c2 of the 3 delivered
    assert [(w.wave_id, w.status, w.send_day, w.email.delivered) for w in got.waves] == [
        ("w1", "completed", "2024-06-03", 3)]


def test_a_campaign_without_deliveries_has_no_rates_not_zero(feed, session: Session) -> None:
    feed.campaign("A")
    feed.wave("w1", "A", status="ready", recipients=2)
    email = report(session, "A").campaign.email
    assert (email.waves, email.waves_sending, email.delivered) == (1, 1, 0)
    assert not email.HasField("open_rate") and not email.HasField("click_rate")


def test_leads_are_attributed_once_however_they_came(feed, session: Session) -> None:
    feed.campaign("A")
    feed.lead("L1", campaign="A")                                                     # a sales lead of the campaign
    feed.form("S1", "A", contact="C2")                                                # a form submission ...
    feed.handover("L2", "C2", "A", submission="S1")                                   # ... that became L2
    feed.lead("L2", campaign="A", contact="C2")
    feed.handover("L3", "C3", "A")                                                    # an MQL hand-off
    feed.lead("L3", campaign="A")
    feed.form("S9", "A", at="2024-06-07T10:00:00")                                    # not (yet) a sales lead
    feed.lead("L2", 2, campaign="A", status="converted", contact="C2")
    got = report(session, "A")
    assert (got.campaign.leads, got.campaign.conversions, got.campaign.conversion_rate) == (4, 1, 0.25)
    assert {b.key: b.count for b in got.leads_by_source} == {"sales_lead": 3, "form": 2, "handover": 2}


def test_a_hand_off_before_its_form_submission_still_makes_one_lead(feed, session: Session) -> None:
    feed.campaign("A")
    feed.handover("L2", "C2", "A", submission="S1")
    feed.form("S1", "A")
    feed.lead("L2", campaign="A")
    assert report(session, "A").campaign.leads == 1


def test_a_lead_whose_campaign_changes_moves_with_it(feed, session: Session) -> None:
    feed.campaign("A")
    feed.campaign("B")
    feed.lead("L1", 1, campaign="A")
    feed.lead("L1", 2, campaign="B")
    feed.lead("L1", 1, campaign="A")                                                  # stale
    assert (report(session, "A").campaign.leads, report(session, "B").campaign.leads) == (0, 1)


def test_first_and_last_touch_over_several_touches_up_to_the_win(feed, session: Session) -> None:
    for cid, cost in (("A", "500"), ("B", "0"), ("C", "2000"), ("D", "100")):
        feed.campaign(cid, cost=cost)
    feed.lead("L1", 1, campaign="A", created="2024-06-01T08:00:00")                  # first touch: the lead's campaign
    feed.lead("L1", 2, campaign="A", status="converted", contact="C1", created="2024-06-01T08:00:00")
    feed.email("clicked", "w-b", "B", "C1", "2024-06-05T09:00:00")                    # a click of the contact
    feed.form("S1", "C", contact="C1", at="2024-06-10T09:00:00")                     # last touch before the win
    feed.email("clicked", "w-d", "D", "C1", "2024-06-25T09:00:00")                    # after the win: not its cause
    feed.deal("O1", lead="L1", contact="C1", amount="1000", closed="2024-06-20T00:00:00")
    assert attribution(session) == {"O1": ("A", "C")}
    table = {r.campaign_id: r.money for r in reports.campaign_roi(
        session, principal=ADMIN, request=ListCampaignRoiRequest()).campaigns}
    assert (table["A"].first_touch_deals, table["A"].first_touch_revenue, table["A"].last_touch_revenue) == (
        1, "1000.00", "0.00")
    assert (table["C"].last_touch_deals, table["C"].last_touch_revenue, table["C"].first_touch_deals) == (
        1, "1000.00", 0)
    assert table["A"].first_touch_roi == 1.0 and table["A"].last_touch_roi == -1.0   # (1000 - 500) / 500
    assert table["C"].last_touch_roi == -0.5                                         # (1000 - 2000) / 2000
    assert not table["B"].HasField("first_touch_roi")                                # nothing spent: null
    assert table["D"].last_touch_deals == 0


def test_a_touch_arriving_after_the_win_still_counts_if_it_happened_before(feed, session: Session) -> None:
    feed.campaign("A")
    feed.campaign("B")
    feed.deal("O1", contact="C1", closed="2024-06-20T00:00:00")
    assert attribution(session) == {"O1": ("", "")}
    feed.email("clicked", "w-b", "B", "C1", "2024-06-10T09:00:00")
    assert attribution(session) == {"O1": ("B", "B")}
    feed.form("S1", "A", contact="C1", at="2024-06-01T09:00:00")                     # earlier: the new first touch
    assert attribution(session) == {"O1": ("A", "B")}


def test_a_deal_that_is_lost_or_reopened_gives_its_revenue_back(feed, session: Session) -> None:
    feed.campaign("A")
    feed.lead("L1", campaign="A")
    feed.deal("O1", 2, lead="L1")
    assert attribution(session) == {"O1": ("A", "A")}
    feed.deal("O1", 3, lead="L1", status="open")
    assert attribution(session) == {"O1": ("", "")}
    feed.deal("O1", 4, lead="L1", status="lost")
    assert attribution(session) == {"O1": ("", "")}


def test_linking_a_lead_to_a_contact_brings_its_touches_to_the_contacts_deals(feed, session: Session) -> None:
    feed.campaign("A")
    feed.campaign("B")
    feed.lead("L1", campaign="A", created="2024-06-01T08:00:00")
    feed.email("clicked", "w-b", "B", "C1", "2024-06-05T09:00:00")
    feed.deal("O1", contact="C1")                                                    # only the contact: B
    assert attribution(session) == {"O1": ("B", "B")}
    feed.handover("L1", "C1", "A")                                                   # L1 is C1
    assert attribution(session) == {"O1": ("A", "B")}


def _story(feed) -> None:
    """Two people, four campaigns, every kind of event, some of them twice."""
    for cid, cost, kind in (("A", "500", "email"), ("B", "0", "webinar"), ("C", "2000", "web_form"),
                            ("D", "100", "ads")):
        feed.campaign(cid, 1, cost="0", type=kind)
        feed.campaign(cid, 2, cost=cost, type=kind)
    feed.wave("w1", "A", 1, status="sending", recipients=3)
    feed.wave("w1", "A", 2, status="completed", recipients=3, failed=1)
    for contact in ("C1", "C2"):
        feed.email("sent", "w1", "A", contact, "2024-06-03T09:00:00")
    feed.email("opened", "w1", "A", "C1", "2024-06-03T10:00:00")
    feed.email("clicked", "w1", "A", "C1", "2024-06-04T10:00:00")
    feed.email("unsubscribed", "w1", "A", "C2", "2024-06-05T10:00:00")
    feed.lead("L1", 1, campaign="B", created="2024-06-02T08:00:00")
    feed.lead("L1", 2, campaign="B", status="converted", contact="C1", created="2024-06-02T08:00:00")
    feed.form("S1", "C", contact="C2", at="2024-06-06T09:00:00")
    feed.handover("L2", "C2", "C", submission="S1")
    feed.lead("L2", campaign="C", contact="C2", created="2024-06-06T09:00:00")
    feed.email("clicked", "w-d", "D", "C2", "2024-06-08T09:00:00")
    feed.deal("O1", 1, lead="L1", contact="C1", status="open")
    feed.deal("O1", 2, lead="L1", contact="C1", amount="3000", closed="2024-06-20T00:00:00")
    feed.deal("O2", 2, contact="C2", amount="800", closed="2024-06-09T00:00:00")


def _snapshot(session: Session) -> tuple[bytes, ...]:
    table = reports.campaign_roi(session, principal=ADMIN, request=ListCampaignRoiRequest(order_by="name"))
    table.events_applied = 0
    return (table.SerializeToString(deterministic=True),
            *(report(session, c).SerializeToString(deterministic=True) for c in "ABCD"))


def test_any_order_and_any_repetition_of_the_events_gives_the_same_reports(feed, session: Session,
                                                                          tmp_path: Path) -> None:
    _story(feed)
    expected = _snapshot(session)
    assert attribution(session) == {"O1": ("B", "A"), "O2": ("C", "D")}
    events: list[EventEnvelope] = list(feed.log)
    shuffle = random.Random(20240601)
    for attempt in range(12):
        order = events + shuffle.sample(events, k=len(events) // 3)                  # some delivered twice
        shuffle.shuffle(order)
        (tmp_path / f"order-{attempt}").mkdir()
        db = migrated_database(MIGRATIONS, tmp_path / f"order-{attempt}")
        try:
            with db.unit_of_work() as uow:
                for env in order:
                    handlers.handle(uow, env, now=NOW)
                assert _snapshot(uow.session) == expected, f"order {attempt}"
        finally:
            db.dispose()
