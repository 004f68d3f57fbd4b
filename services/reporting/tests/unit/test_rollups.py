"""The rollups stay exact: random opportunity, lead, ticket, SLA-breach and contact events
(creations, stage moves, wins, losses, reassignments to other teams, deletions, redeliveries,
stale versions, in random order) through the handlers, then every query the rollups cover
(opportunities, leads, tickets and their tags, customers) answers exactly what the detail tables
answer, for every kind of caller; and `rebuild` makes the same rows the handlers kept."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.json_format import MessageToDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.common.v1.types_pb2 import Money
from crm.contacts.v1.contacts_pb2 import Contact
from crm.reporting.v1.reporting_pb2 import ForecastRequest, GetCustomerCountsRequest, Query, QueryFilter
from crm.sales.v1 import events_pb2 as sev
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm.support.v1.support_pb2 import Ticket
from crm_reporting import tables
from crm_reporting.analytics import query
from crm_reporting.handlers import sales, support
from crm_reporting.handlers.contacts import apply_snapshot
from crm_reporting.store import rollups
from crm_reporting.usecases import analytics, customers
from crmkit.auth import Principal

from .conftest import Feed

CALLERS = [Principal("analyst.1", ("analyst",), "bi", ""), Principal("m.0", ("manager",), "team-0", ""),
           Principal("m.r1", ("manager",), "", "region-1"), Principal("rep-1-0", ("rep",), "team-1", "region-1"),
           Principal("rep-0-1", ("rep",), "team-0", "region-0", delegators=("rep-0-0",))]
STAGES = [("first_contact", 10), ("solution_demo", 40), ("negotiation", 80)]


def _when(rnd: random.Random) -> datetime:
    return datetime(2024, 11, 1, tzinfo=UTC) + timedelta(days=rnd.randrange(150), hours=rnd.randrange(24))


def _opportunity(rnd: random.Random, oid: str, version: int) -> tuple[str, Opportunity]:
    team = rnd.randrange(2)
    status = rnd.choice(("open", "open", "won", "lost"))
    stage, probability = rnd.choice(STAGES)
    o = Opportunity(id=oid, version=version, owner_id=f"rep-{team}-{rnd.randrange(2)}", team=f"team-{team}",
                    region=f"region-{rnd.randrange(2)}", status=status, stage=status if status != "open" else stage,
                    probability=100 if status == "won" else 0 if status == "lost" else probability,
                    amount=Money(currency_code=rnd.choice(("CNY", "CNY", "USD")), amount=str(rnd.randrange(1, 90_000))),
                    expected_close_date=(_when(rnd) + timedelta(days=60)).date().isoformat())
    o.created_at.FromDatetime(_when(rnd))
    if status != "open":
        o.closed_at.FromDatetime(_when(rnd) + timedelta(days=10))
    kind = status if status != "open" else "updated"
    return kind, o


def _feed_random(feed: Feed, session: Session, seed: int) -> None:
    rnd = random.Random(seed)
    events = []
    for i in range(60):
        for version in range(1, rnd.randrange(2, 5)):
            events.append(("opp", f"o{i}", version))
    for i in range(40):
        for version in range(1, rnd.randrange(2, 4)):
            events.append(("contact", f"p{i}", version))
    events += rnd.sample(events, 20)          # redeliveries
    rnd.shuffle(events)                       # any order: older versions arrive after newer ones
    for i in range(30):
        events += [("lead", f"l{i}", v) for v in range(1, rnd.randrange(2, 4))]
        events += [("ticket", f"t{i}", v) for v in range(1, rnd.randrange(2, 5))]
        events += [("breach", f"t{i}", 1)] if rnd.random() < 0.3 else []
    rnd.shuffle(events)
    for kind, key, version in events:
        r = random.Random(f"{seed}/{key}/{version}")   # a version's snapshot is the same on each delivery
        if kind == "lead":
            team = r.randrange(2)
            lead = Lead(id=key, version=version, owner_id=f"rep-{team}-{r.randrange(2)}", team=f"team-{team}",
                        region=f"region-{r.randrange(2)}", source=r.choice(("website", "referral")),
                        status=r.choice(("new", "converted", "disqualified")))
            lead.created_at.FromDatetime(_when(r))
            sales.apply_lead(session, lead)
        elif kind == "ticket":
            ticket = Ticket(id=key, version=version, assignee_id=f"rep-{r.randrange(2)}-{r.randrange(2)}",
                            status=r.choice(("open", "solved")), priority=r.choice(("low", "high")),
                            type=r.choice(("question", "problem")), tags=r.sample(["billing", "login", "x"],
                                                                                  r.randrange(3)))
            ticket.created_at.FromDatetime(_when(r))
            ticket.first_responded_at.FromDatetime(_when(r) + timedelta(days=200))
            if ticket.status == "solved":
                ticket.solved_at.FromDatetime(_when(r) + timedelta(days=200))
            support.apply_ticket(session, ticket)
        elif kind == "breach":
            support.record_breach(session, key, "first_response")
        elif kind == "opp":
            event, o = _opportunity(r, key, version)
            payload = sev.OpportunityClosed(opportunity=o) if event != "updated" else sev.OpportunityUpdated(opportunity=o)
            feed.event(f"crm.sales.opportunity.{event}", key, version, payload)
        else:
            team = r.randrange(2)
            c = Contact(id=key, version=version, owner_id=f"rep-{team}-{r.randrange(2)}", team=f"team-{team}",
                        region=f"region-{r.randrange(2)}", source=r.choice(("website", "referral")),
                        level=r.choice(("a", "b")), tags=r.sample(["vip", "cn", "hk"], r.randrange(3)),
                        deleted=r.random() < 0.15)
            c.created_at.FromDatetime(_when(r))
            apply_snapshot(session, c, now=datetime(2025, 1, 1, tzinfo=UTC))


def _q(dims: list[str], measures: list[str], **kw: object) -> Query:
    filters = [QueryFilter(field=f, op=op, values=v) for f, op, v in kw.pop("filters", ())]  # type: ignore[attr-defined]
    return Query(source="opportunities", dimensions=dims, measures=measures, filters=filters, **kw)  # type: ignore[arg-type]


ALL_MEASURES = ["count", "open", "won", "lost", "amount", "open_amount", "won_amount", "weighted_amount", "avg_amount",
                "avg_probability", "avg_cycle_days", "win_rate"]
COVERED = [
    _q(["stage"], ALL_MEASURES),
    _q(["owner", "status"], ALL_MEASURES, filters=(("currency", "eq", ["CNY"]),)),
    _q(["team", "region"], ["won_amount", "win_rate"], time_field="closed", time_grain="month"),
    _q([], ["count", "avg_cycle_days"], time_field="created", time_grain="quarter", from_day="2024-12-01",
       to_day="2025-02-28"),
    _q(["stage"], ["weighted_amount"], time_field="expected", time_grain="year", filters=(
        ("probability", "gte", ["40"]), ("owner", "in", ["rep-0-0", "rep-1-1"]))),
    _q(["owner"], ["open_amount"], time_field="closed", from_day="2025-01-01", to_day="2025-01-31",
       filters=(("stage", "contains", ["o"]),)),
]
COVERED += [
    Query(source="leads", dimensions=["source", "owner"], measures=["count", "converted", "conversion_rate"]),
    Query(source="leads", dimensions=["status"], measures=["count"], time_field="created", time_grain="month",
          filters=[QueryFilter(field="team", values=["team-1"])]),
    Query(source="tickets", dimensions=["priority", "assignee"], measures=[
        "count", "open", "solved", "sla_breached", "avg_resolution_hours", "avg_first_response_hours"]),
    Query(source="tickets", dimensions=["priority"], measures=["solved", "avg_resolution_hours"], time_field="solved",
          time_grain="month"),
    Query(source="tickets", dimensions=["tag"], measures=["count", "open", "sla_breached"], order_by="-count", limit=2),
    Query(source="tickets", dimensions=["tag", "status"], measures=["count"], time_field="created",
          time_grain="quarter"),
]
# opportunities per day (their day rollup): day and week grains, windows on any day
COVERED += [
    _q(["stage"], ALL_MEASURES, time_field="created", time_grain="week"),
    _q(["owner"], ["won", "won_amount", "win_rate"], time_field="closed", time_grain="week", from_day="2025-01-08",
       to_day="2025-03-19"),
    _q([], ["count", "weighted_amount"], time_field="expected", time_grain="day", from_day="2025-02-10",
       filters=(("currency", "eq", ["CNY"]),)),
    _q(["team"], ["count", "avg_cycle_days"], time_field="created", from_day="2024-12-02"),
    _q(["region"], ["open_amount"], time_field="closed", time_grain="month", to_day="2025-02-14"),
    _q(["status"], ["count", "avg_probability"], time_field="created", time_grain="quarter", from_day="2024-11-15",
       to_day="2025-01-20", filters=(("owner", "in", ["rep-0-0", "rep-1-1"]),)),
]
# tickets per day (their day rollup, 0010)
COVERED += [
    Query(source="tickets", dimensions=["priority"], measures=["count"], time_grain="week"),
    Query(source="tickets", dimensions=["priority"], measures=["solved"], time_field="solved", time_grain="week"),
    Query(source="tickets", dimensions=["assignee"], measures=["solved", "sla_breached", "avg_resolution_hours"],
          time_field="solved", time_grain="day", from_day="2025-05-03"),
    Query(source="tickets", dimensions=["status"], measures=["count", "avg_first_response_hours"],
          time_field="created", from_day="2024-12-09", to_day="2025-02-12"),
]
NOT_COVERED = [
    Query(source="tickets", dimensions=["tag"], measures=["count"], time_grain="week"),   # no tag rollup per day
    Query(source="leads", dimensions=["source"], measures=["count"], time_grain="week"),  # leads: no day rollup
    Query(source="tickets", dimensions=["tag", "type"], measures=["count"]),    # the rollups keep no type
    Query(source="tickets", dimensions=["priority"], measures=["count"], filters=[QueryFilter(field="tag",
                                                                                              values=["billing"])]),
    _q(["first_campaign"], ["count"]),
    _q(["stage"], ["count"], time_field="created", time_grain="week", filters=(("expected_quarter", "eq",
                                                                                ["2025-Q1"]),)),
    _q(["stage"], ["count"], filters=(("expected_quarter", "eq", ["2025-Q1"]),)),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_rollup_answers_equal_detail_answers_for_every_caller(feed: Feed, session: Session, seed: int) -> None:
    _feed_random(feed, session, seed)
    for q in COVERED + NOT_COVERED:
        for principal in CALLERS:
            # a manager's tickets are their team's and region's, which the ticket rollups do not keep
            covered = q in COVERED and not (principal.is_manager and q.source == "tickets")
            assert (query.rollup_statement(query.plan(q, principal)) is not None) == covered
            fast, slow = query.run(session, q, principal), query.run(session, q, principal, use_rollup=False)
            assert MessageToDict(fast) == MessageToDict(slow), (MessageToDict(q), principal.user_id)
    for principal in CALLERS:
        for request in (GetCustomerCountsRequest(), GetCustomerCountsRequest(region="region-1", from_day="2025-01-10"),
                        GetCustomerCountsRequest(tag="vip"), GetCustomerCountsRequest(tag="cn", region="region-0",
                                                                                      to_day="2025-02-01")):
            fast_c = customers.customer_counts(session, principal=principal, request=request)
            slow_c = customers.customer_counts(session, principal=principal, request=request, use_rollup=False)
            assert MessageToDict(fast_c) == MessageToDict(slow_c)
        assert MessageToDict(analytics.forecast(session, principal=principal, request=ForecastRequest(
            quarter="2025-Q1"), now=datetime(2025, 2, 1, tzinfo=UTC)))["lines"]


def test_rebuild_makes_the_rows_the_handlers_kept_and_none_sums_to_nothing(feed: Feed, session: Session) -> None:
    _feed_random(feed, session, 4)
    rolled = (tables.opportunity_rollup, tables.customer_rollup, tables.customer_tag_rollup, tables.lead_rollup,
              tables.ticket_rollup, tables.ticket_tag_rollup, tables.opportunity_day_rollup,
              tables.tagged_customer_rollup, tables.ticket_day_rollup)
    kept = {t.name: sorted(tuple(r) for r in session.execute(select(t))) for t in rolled}
    assert all(kept.values()) and all(r.n > 0 for t in rolled for r in session.execute(select(t)))
    rollups.rebuild(session)
    assert {t.name: sorted(tuple(r) for r in session.execute(select(t))) for t in rolled} == kept


def test_drill_down_still_lists_the_detail_records(feed: Feed, session: Session) -> None:
    _feed_random(feed, session, 5)
    q = _q(["stage"], ["open"])
    analyst = CALLERS[0]
    result = query.run(session, q, analyst)
    row = next(r for r in result.rows if r.values.values[0].number_value > 0)
    drilled = query.drill(session, q, analyst, keys=list(row.keys), measure="open", page_token="", size=1000)
    assert drilled.total == int(row.values.values[0].number_value) and all(i.startswith("o") for i in drilled.ids)


def test_a_rep_sees_through_the_day_and_tag_rollups_only_their_own_records(feed: Feed, session: Session) -> None:
    _feed_random(feed, session, 6)
    rep, analyst = CALLERS[3], CALLERS[0]
    week = _q([], ["count"], time_field="created", time_grain="week")
    assert query.rollup_statement(query.plan(week, rep)) is not None
    o, c, ct = tables.opportunities.c, tables.customers.c, tables.customer_tags.c
    own = len(session.execute(select(o.opportunity_id).where(o.owner_id == rep.user_id)).all())
    every = len(session.execute(select(o.opportunity_id)).all())
    assert 0 < own < every
    assert query.run(session, week, rep).totals.values[0].number_value == own
    assert query.run(session, week, analyst).totals.values[0].number_value == every
    vip = select(c.contact_id).join(tables.customer_tags, ct.contact_id == c.contact_id).where(
        ct.tag == "vip", c.live.is_(True))
    own_vip = len(session.execute(vip.where(c.owner_id == rep.user_id)).all())
    counted = customers.customer_counts(session, principal=rep, request=GetCustomerCountsRequest(tag="vip"))
    assert counted.total == own_vip < len(session.execute(vip).all())
    assert sum(d.count for d in counted.new_per_day) == own_vip
    assert {b.key for b in counted.by_tag} <= {"vip", "cn", "hk"} and counted.by_tag[0].key == "vip"
