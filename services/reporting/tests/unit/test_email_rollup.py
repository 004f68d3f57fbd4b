"""The email and campaign revenue rollups stay exact: random deliveries, opens, clicks and
unsubscribes of several campaigns' waves (redelivered, out of order, a repeat earlier than the
first one) and deals of the clicking contacts won, lost and reopened among them, through the
handlers; then the open-rate report and the campaign ROI table answer from the rollups exactly
what the engagement rows and the deals answer, for every kind of caller; `rebuild` makes the rows the handlers kept;
and a rep sees only their own campaigns' mails."""
from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.json_format import MessageToDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import GetEmailOpenRateRequest, ListCampaignRoiRequest
from crm_reporting import tables
from crm_reporting.store import rollups
from crm_reporting.usecases import campaigns, email
from crmkit.auth import Principal

from .conftest import Feed

CALLERS = [Principal("analyst.1", ("analyst",), "bi", ""), Principal("m.0", ("manager",), "team-0", ""),
           Principal("rep-1-0", ("rep",), "team-1", "region-1"), Principal("rep-0-1", ("rep",), "team-0", "region-0")]
OWNERS = [("rep-0-1", "team-0", "region-0"), ("rep-1-0", "team-1", "region-1"), ("rep-0-0", "team-0", "region-0")]


def _at(rnd: random.Random) -> str:
    when = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(days=rnd.randrange(20), hours=rnd.randrange(24))
    return when.replace(tzinfo=None).isoformat()


def _feed_random(feed: Feed, seed: int) -> None:
    rnd = random.Random(seed)
    for c in range(6):
        owner, team, region = OWNERS[c % 3]
        feed.campaign(f"c{c}", owner=owner, team=team, region=region, type=rnd.choice(("email", "ads")))
        for w in range(2):
            feed.wave(f"w{c}{w}", f"c{c}", status="completed", delivered=rnd.randrange(3, 9))
    events = []
    for c in range(6):
        for w in range(2 if c != 5 else 1):       # c5's second wave: no email.sent, its snapshot counts
            for p in range(rnd.randrange(4, 12)):
                kinds = ["sent"] if rnd.random() < 0.85 else []
                kinds += [k for k in ("opened", "clicked", "unsubscribed") if rnd.random() < 0.4]
                events += [(k, f"w{c}{w}", f"c{c}", f"p{p}") for k in kinds]
    events += rnd.sample(events, 15)              # redeliveries, and repeats at other (earlier) times
    events += [("opened", "w51", "c5", f"p{p}") for p in range(4)]
    deals = [(f"o{i}", v) for i in range(16) for v in range(1, rnd.randrange(2, 5))]
    rnd.shuffle(events)
    rnd.shuffle(deals)                            # won, lost, reopened, stale versions, before or after the clicks
    while events or deals:
        if deals and (not events or rnd.random() < 0.2):
            oid, version = deals.pop()
            r = random.Random(f"{seed}/{oid}/{version}")
            feed.deal(oid, version, contact=f"p{r.randrange(12)}", status=r.choice(("open", "won", "won", "lost")),
                      amount=str(r.randrange(100, 9000)), currency=r.choice(("CNY", "CNY", "USD")), closed=_at(r))
        else:
            kind, wave, campaign, contact = events.pop()
            feed.email(kind, wave, campaign, contact, _at(rnd))


REQUESTS = [GetEmailOpenRateRequest(), GetEmailOpenRateRequest(interval="week", by_campaign=True),
            GetEmailOpenRateRequest(from_day="2024-06-05", to_day="2024-06-14", channel="email"),
            GetEmailOpenRateRequest(campaign_id="c1", interval="day")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_email_rollup_answers_what_the_engagement_rows_answer(feed: Feed, session: Session, seed: int) -> None:
    _feed_random(feed, seed)
    for principal in CALLERS:
        for request in REQUESTS:
            fast = email.email_open_rate(session, principal=principal, request=request)
            slow = email.email_open_rate(session, principal=principal, request=request, use_rollup=False)
            assert MessageToDict(fast) == MessageToDict(slow), (MessageToDict(request), principal.user_id)
        roi = ListCampaignRoiRequest(order_by="open_rate")
        fast_roi = campaigns.campaign_roi(session, principal=principal, request=roi)
        slow_roi = campaigns.campaign_roi(session, principal=principal, request=roi, use_rollup=False)
        assert MessageToDict(fast_roi) == MessageToDict(slow_roi)
    analyst = email.email_open_rate(session, principal=CALLERS[0], request=REQUESTS[0])
    assert analyst.total.delivered > 0 and analyst.total.opened > 0
    roi = campaigns.campaign_roi(session, principal=CALLERS[0], request=ListCampaignRoiRequest())
    assert any(r.money.first_touch_deals for r in roi.campaigns)     # the revenue rollup was exercised


def test_rebuild_makes_the_email_and_revenue_rows_the_handlers_kept(feed: Feed, session: Session) -> None:
    _feed_random(feed, 4)
    rolled = (tables.email_rollup, tables.campaign_revenue_rollup)
    kept = {t.name: sorted(tuple(r) for r in session.execute(select(t))) for t in rolled}
    assert all(kept.values()) and all(r.n > 0 for t in rolled for r in session.execute(select(t)))
    rollups.rebuild(session)
    assert {t.name: sorted(tuple(r) for r in session.execute(select(t))) for t in rolled} == kept


def test_an_earlier_delivery_moves_the_mail_and_its_open_to_that_day(feed: Feed, session: Session) -> None:
    feed.campaign("c1")
    feed.wave("w1", "c1", status="completed", delivered=1)
    feed.email("sent", "w1", "c1", "p1", "2024-06-04T09:00:00")
    feed.email("opened", "w1", "c1", "p1", "2024-06-05T09:00:00")
    feed.email("sent", "w1", "c1", "p1", "2024-06-03T09:00:00")     # redelivered from an older log
    analyst = CALLERS[0]
    report = email.email_open_rate(session, principal=analyst, request=GetEmailOpenRateRequest())
    assert [(p.period, p.delivered, p.opened) for p in report.points] == [("2024-06-03", 1, 1)]
    rows = session.execute(select(tables.email_rollup.c.day, tables.email_rollup.c.delivered)).all()
    assert sorted(rows) == [("2024-06-03", 1), ("2024-06-05", 0)]     # the open counted on its own day


def test_a_rep_sees_through_the_rollup_only_the_mails_of_their_own_campaigns(feed: Feed, session: Session) -> None:
    feed.campaign("mine", owner="rep-1-0", team="team-1", region="region-1")
    feed.campaign("theirs", owner="rep-0-1", team="team-0", region="region-0")
    for cid, people in (("mine", 2), ("theirs", 5)):
        feed.wave(f"w-{cid}", cid, status="completed")
        for p in range(people):
            feed.email("sent", f"w-{cid}", cid, f"p{p}", "2024-06-03T09:00:00")
            feed.email("opened", f"w-{cid}", cid, f"p{p}", "2024-06-03T10:00:00")
    rep, analyst = CALLERS[2], CALLERS[0]
    mine = email.email_open_rate(session, principal=rep, request=GetEmailOpenRateRequest(by_campaign=True))
    assert [(p.campaign_id, p.delivered, p.opened) for p in mine.points] == [("mine", 2, 2)]
    table = campaigns.campaign_roi(session, principal=rep, request=ListCampaignRoiRequest())
    assert [(r.campaign_id, r.email.delivered) for r in table.campaigns] == [("mine", 2)]
    everyone = email.email_open_rate(session, principal=analyst, request=GetEmailOpenRateRequest())
    assert everyone.total.delivered == 7


def test_adding_tallies_adds_every_figure() -> None:
    """The campaign and channel totals are tallies added up: a figure left out of `add` would read 0."""
    names = [f.name for f in dataclasses.fields(email.Tally)]
    one = email.Tally(**{n: i + 1 for i, n in enumerate(names)})
    added = email.Tally(**{n: 100 for n in names}).add(one)
    assert [getattr(added, n) for n in names] == [100 + i + 1 for i in range(len(names))]
