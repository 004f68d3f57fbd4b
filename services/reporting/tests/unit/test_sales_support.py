"""Sales and support read models (handlers.sales, handlers.support) and their summaries
(usecases.sales, usecases.support) on the migrated schema: snapshots in any order converge to the
newest, won / lost deals leave the pipeline, CSAT averages and satisfied shares are exact (absent
without answers), and each caller only counts what they may see."""
from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.common.v1.types_pb2 import Money
from crm.reporting.v1.reporting_pb2 import (
    GetSalesSummaryRequest,
    GetSupportSummaryRequest,
    SalesSummary,
    SupportSummary,
)
from crm.sales.v1 import events_pb2 as sev
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm.support.v1 import events_pb2 as tev
from crm.support.v1.support_pb2 import SlaClock, Ticket
from crm_devtools.users import DEMO_USERS
from crm_reporting import handlers, rules
from crm_reporting.handlers import sales as sales_handlers
from crm_reporting.handlers import support as support_handlers
from crm_reporting.rules import format_amount
from crm_reporting.tables import opportunities, tickets
from crm_reporting.usecases import sales as sales_reports
from crm_reporting.usecases import support as support_reports
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.errors import InvalidArgument
from crmkit.events import new_event, parse_envelope

ADMIN = DEMO_USERS["admin"]
SALES = GetSalesSummaryRequest()
SUPPORT = GetSupportSummaryRequest()
NOW = datetime(2024, 7, 3, tzinfo=UTC)


def sales_summary(session: Session, principal: Principal, request: GetSalesSummaryRequest) -> SalesSummary:
    return sales_reports.sales_summary(session, principal=principal, request=request)


def support_summary(session: Session, principal: Principal, request: GetSupportSummaryRequest) -> SupportSummary:
    return support_reports.support_summary(session, principal=principal, request=request)


def ts(text: str):
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(text).replace(tzinfo=UTC))
    return stamp


def opp(oid: str, version: int, *, stage: str = "qualify", status: str = "open", amount: str = "1000",
        currency: str = "CNY", closed: str = "", owner: str = "rep.north.1", team: str = "north-sales",
        region: str = "north") -> Opportunity:
    o = Opportunity(id=oid, version=version, stage=stage, status=status, owner_id=owner, team=team, region=region,
                    amount=Money(currency_code=currency, amount=amount))
    if closed:
        o.closed_at.CopyFrom(ts(closed))
    return o


def lead(lid: str, version: int, source: str, owner: str = "rep.north.1", region: str = "north",
         team: str = "north-sales") -> Lead:
    return Lead(id=lid, version=version, source=source, owner_id=owner, region=region, team=team, status="new")


def ticket(tid: str, version: int, *, status: str = "open", priority: str = "normal", assignee: str = "agent.1",
           created: str = "2024-05-01T08:00:00", responded: str = "", solved: str = "",
           breached: tuple[str, ...] = ()) -> Ticket:
    t = Ticket(id=tid, version=version, status=status, priority=priority, assignee_id=assignee,
               sla=[SlaClock(metric=m, breached=True) for m in breached])
    t.created_at.CopyFrom(ts(created))
    if responded:
        t.first_responded_at.CopyFrom(ts(responded))
    if solved:
        t.solved_at.CopyFrom(ts(solved))
    return t


def csat(tid: str, rating: int, when: str, assignee: str = "agent.1") -> tev.CsatAnswered:
    answer = tev.CsatAnswered(ticket_id=tid, rating=rating, assignee_id=assignee)
    answer.answered_at.CopyFrom(ts(when))
    return answer


def amounts(buckets) -> dict[tuple[str, str], tuple[int, str]]:
    return {(b.key, b.currency_code): (b.count, b.amount) for b in buckets}


def counts(buckets) -> dict[str, int]:
    return {b.key: b.count for b in buckets}


# -- sales -------------------------------------------------------------------------------------

DEAL = [
    opp("o1", 1, stage="qualify", amount="1000"),
    opp("o1", 2, stage="proposal", amount="1500.50"),
    opp("o1", 3, stage="negotiation", amount="2000"),
    opp("o1", 4, stage="negotiation", status="won", amount="2100.25", closed="2024-06-03T10:00:00"),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=lambda o: "".join(map(str, o)))
def test_opportunity_snapshots_in_any_order_converge_and_a_won_deal_leaves_the_pipeline(
        session: Session, order: tuple[int, ...]) -> None:
    for i in (*order, *order):   # and delivered all over again
        sales_handlers.apply_opportunity(session, DEAL[i])
    row = session.execute(select(opportunities)).one()._asdict()
    assert row["version"] == 4 and row["status"] == "won" and row["closed_month"] == "2024-06"
    summary = sales_summary(session, ADMIN, SALES)
    assert summary.pipeline_count == 0 and list(summary.pipeline_by_stage) == []
    assert amounts(summary.won_by_month) == {("2024-06", "CNY"): (1, "2100.25")}
    assert summary.won_count == 1 and summary.win_rate == 1.0


def test_pipeline_by_stage_won_per_month_win_rate_and_leads(session: Session) -> None:
    for o in (
        opp("a", 1, stage="qualify", amount="100.10"),
        opp("b", 1, stage="qualify", amount="200.20"),
        opp("c", 1, stage="proposal", amount="0.0001"),
        opp("d", 1, stage="proposal", amount="50", currency="USD"),
        opp("e", 2, stage="negotiation", status="won", amount="1000", closed="2024-05-31T23:59:59"),
        opp("f", 2, stage="negotiation", status="won", amount="3000", closed="2024-06-01T00:00:00"),
        opp("g", 2, stage="negotiation", status="won", amount="0.5", closed="2024-06-20T00:00:00"),
        opp("h", 2, stage="proposal", status="lost", amount="999"),
    ):
        sales_handlers.apply_opportunity(session, o)
    sales_handlers.apply_opportunity(session, opp("h", 1, stage="proposal", amount="999"))   # late: ignored
    for lid, source in (("l1", "web_form"), ("l2", "web_form"), ("l3", "event"), ("l4", "")):
        sales_handlers.apply_lead(session, lead(lid, 1, source))
    sales_handlers.apply_lead(session, lead("l3", 2, "referral"))

    s = sales_summary(session, ADMIN, SALES)
    assert amounts(s.pipeline_by_stage) == {
        ("qualify", "CNY"): (2, "300.30"), ("proposal", "CNY"): (1, "0.0001"), ("proposal", "USD"): (1, "50.00")}
    assert s.pipeline_count == 4
    assert amounts(s.won_by_month) == {("2024-05", "CNY"): (1, "1000.00"), ("2024-06", "CNY"): (2, "3000.50")}
    assert (s.won_count, s.lost_count) == (3, 1) and s.win_rate == 0.75
    assert counts(s.leads_by_source) == {"web_form": 2, "referral": 1, "unknown": 1} and s.lead_count == 4


def test_lost_moves_a_deal_out_of_the_pipeline_and_a_reopened_one_comes_back(session: Session) -> None:
    sales_handlers.apply_opportunity(session, opp("x", 1, amount="10"))
    assert sales_summary(session, ADMIN, SALES).pipeline_count == 1
    sales_handlers.apply_opportunity(session, opp("x", 2, status="lost", amount="10"))
    s = sales_summary(session, ADMIN, SALES)
    assert s.pipeline_count == 0 and s.lost_count == 1 and s.win_rate == 0.0
    sales_handlers.apply_opportunity(session, opp("x", 3, stage="proposal", amount="12"))
    s = sales_summary(session, ADMIN, SALES)
    assert amounts(s.pipeline_by_stage) == {("proposal", "CNY"): (1, "12.00")} and s.lost_count == 0


@pytest.mark.parametrize(("user", "pipeline", "leads"), [
    ("rep.north.1", 1, 1), ("rep.south.1", 1, 1), ("rep.north.2", 0, 0),
    ("manager.north", 1, 1), ("manager.south", 2, 1), ("admin", 3, 2),
])
def test_sales_summary_only_counts_what_the_caller_may_see(session: Session, user: str, pipeline: int,
                                                           leads: int) -> None:
    sales_handlers.apply_opportunity(session, opp("n", 1))
    sales_handlers.apply_opportunity(session, opp("s", 1, owner="rep.south.1", team="south-sales", region="south"))
    sales_handlers.apply_opportunity(session, opp("s2", 1, owner="rep.south.9", team="other", region="south"))
    sales_handlers.apply_lead(session, lead("ln", 1, "event"))
    sales_handlers.apply_lead(session, lead("ls", 1, "event", owner="rep.south.1", region="south",
                                              team="south-sales"))
    s = sales_summary(session, DEMO_USERS[user], SALES)
    assert (s.pipeline_count, s.lead_count) == (pipeline, leads)
    analyst = Principal("analyst.1", ("analyst",), "bi", "")
    assert sales_summary(session, analyst, SALES).pipeline_count == 3
    assert sales_summary(session, ADMIN, GetSalesSummaryRequest(region="south")).pipeline_count == 2


@pytest.mark.parametrize(("units", "text"), [(0, "0.00"), (10_000, "1.00"), (12_345, "1.2345"),
                                             (-5_000, "-0.50"), (123_456_789_0000, "123456789.00")])
def test_amounts_are_exact_decimal_strings(units: int, text: str) -> None:
    assert format_amount(units) == text
    assert rules.amount_units(text) == units


# -- support -----------------------------------------------------------------------------------

TICKET = [
    ticket("t1", 1, status="new", priority="normal"),
    ticket("t1", 2, status="open", priority="high", responded="2024-05-01T08:30:00"),
    ticket("t1", 3, status="open", priority="urgent", responded="2024-05-01T08:30:00", breached=("resolution",)),
    ticket("t1", 4, status="solved", priority="urgent", responded="2024-05-01T08:30:00",
           solved="2024-05-01T12:00:00", breached=("resolution",)),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=lambda o: "".join(map(str, o)))
def test_ticket_snapshots_in_any_order_converge(session: Session, order: tuple[int, ...]) -> None:
    for i in (*order, *order):
        support_handlers.apply_ticket(session, TICKET[i])
    row = session.execute(select(tickets)).one()._asdict()
    expected = {"ticket_id": "t1", "version": 4, "assignee_id": "agent.1", "status": "solved",
                "priority": "urgent", "first_response_seconds": 1800, "resolution_seconds": 4 * 3600}
    assert {name: row[name] for name in expected} == expected
    s = support_summary(session, ADMIN, SUPPORT)
    assert s.total == 1 and counts(s.by_status) == {"solved": 1} and s.sla_breaches == 1


def test_support_summary_counts_times_breaches_and_an_exact_csat_average(session: Session) -> None:
    support_handlers.apply_ticket(session, ticket("a", 1, status="open", priority="high",
                                                    responded="2024-05-01T08:10:00"))
    support_handlers.apply_ticket(session, ticket("b", 1, status="solved", priority="normal",
                                                    responded="2024-05-01T08:20:00", solved="2024-05-01T10:00:00"))
    support_handlers.apply_ticket(session, ticket("c", 1, status="new", priority="high"))
    support_handlers.record_breach(session, "a", "first_response")
    support_handlers.record_breach(session, "a", "first_response")      # redelivered
    support_handlers.apply_ticket(session, ticket("a", 2, status="open", priority="high",
                                                    responded="2024-05-01T08:10:00", breached=("first_response",)))
    support_handlers.record_breach(session, "b", "resolution")
    for tid, rating, when in (("a", 5, "2024-05-02T09:00:00"), ("b", 4, "2024-05-02T18:00:00"),
                              ("c", 4, "2024-05-03T01:00:00"), ("d", 1, "2024-05-01T01:00:00")):
        support_handlers.apply_csat(session, csat(tid, rating, when))
    support_handlers.apply_csat(session, csat("d", 2, "2024-05-03T02:00:00"))   # changed their mind
    support_handlers.apply_csat(session, csat("d", 1, "2024-05-01T01:00:00"))   # the old answer, late

    s = support_summary(session, ADMIN, SUPPORT)
    assert s.total == 3 and counts(s.by_status) == {"open": 1, "solved": 1, "new": 1}
    assert counts(s.by_priority) == {"high": 2, "normal": 1}
    assert s.sla_breaches == 2
    assert (s.avg_first_response_seconds, s.first_response_count) == (900.0, 2)
    assert (s.avg_resolution_seconds, s.resolution_count) == (7200.0, 1)
    assert (s.csat_average, s.csat_count) == (15 / 4, 4)
    assert [(d.day, d.count, d.average) for d in s.csat_per_day] == [("2024-05-02", 2, 4.5), ("2024-05-03", 2, 3.0)]
    window = support_summary(session, ADMIN, GetSupportSummaryRequest(from_day="2024-05-03"))
    assert [d.day for d in window.csat_per_day] == ["2024-05-03"] and window.csat_count == 4


def test_a_rep_sees_only_tickets_assigned_to_them_and_agents_see_all(session: Session) -> None:
    support_handlers.apply_ticket(session, ticket("mine", 1, assignee="rep.north.1"))
    support_handlers.apply_ticket(session, ticket("theirs", 1, assignee="agent.1"))
    support_handlers.apply_csat(session, csat("mine", 3, "2024-05-02T00:00:00", assignee="rep.north.1"))
    support_handlers.apply_csat(session, csat("theirs", 5, "2024-05-02T00:00:00"))
    rep = support_summary(session, DEMO_USERS["rep.north.1"], SUPPORT)
    assert (rep.total, rep.csat_count, rep.csat_average) == (1, 1, 3.0)
    for principal in (Principal("agent.1", ("support",)), ADMIN):
        assert support_summary(session, principal, SUPPORT).total == 2
    # a manager: the tickets filed under their team or region (neither of these is), as support shows them
    assert support_summary(session, DEMO_USERS["manager.south"], SUPPORT).total == 0


def test_satisfied_counts_fours_and_fives_overall_and_per_day(session: Session) -> None:
    for tid, rating, when in (("a", 5, "2024-05-02T09:00:00"), ("b", 4, "2024-05-02T18:00:00"),
                              ("c", 3, "2024-05-03T01:00:00"), ("d", 1, "2024-05-03T02:00:00")):
        support_handlers.apply_csat(session, csat(tid, rating, when))
    s = support_summary(session, ADMIN, SUPPORT)
    assert (s.csat_count, s.csat_satisfied, s.csat_satisfied_share) == (4, 2, 0.5)
    assert [(d.day, d.count, d.satisfied) for d in s.csat_per_day] == [("2024-05-02", 2, 2), ("2024-05-03", 2, 0)]
    # the day window narrows the series only; the share stays over every answer, like the count
    window = support_summary(session, ADMIN, GetSupportSummaryRequest(from_day="2024-05-03"))
    assert [d.day for d in window.csat_per_day] == ["2024-05-03"]
    assert (window.csat_count, window.csat_satisfied, window.csat_satisfied_share) == (4, 2, 0.5)


def test_satisfied_follows_the_same_visibility_as_the_count(session: Session) -> None:
    support_handlers.apply_csat(session, csat("mine", 3, "2024-05-02T00:00:00", assignee="rep.north.1"))
    support_handlers.apply_csat(session, csat("theirs", 5, "2024-05-02T00:00:00"))
    rep = support_summary(session, DEMO_USERS["rep.north.1"], SUPPORT)
    assert (rep.csat_count, rep.csat_satisfied, rep.csat_satisfied_share) == (1, 0, 0.0)
    assert rep.HasField("csat_satisfied_share")             # a real 0 %, not "no data"
    admin = support_summary(session, ADMIN, SUPPORT)
    assert (admin.csat_count, admin.csat_satisfied, admin.csat_satisfied_share) == (2, 1, 0.5)


def test_no_answers_leave_average_and_share_unset(session: Session) -> None:
    support_handlers.apply_ticket(session, ticket("a", 1))
    s = support_summary(session, ADMIN, SUPPORT)
    assert (s.total, s.csat_count, s.csat_satisfied, list(s.csat_per_day)) == (1, 0, 0, [])
    assert not s.HasField("csat_average") and not s.HasField("csat_satisfied_share")


def test_a_bad_day_is_refused(session: Session) -> None:
    with pytest.raises(InvalidArgument) as err:
        support_summary(session, ADMIN, GetSupportSummaryRequest(to_day="2024/05/01"))
    assert err.value.field == "to_day"


# -- dispatch ----------------------------------------------------------------------------------

def _envelope(producer: str, event_type: str, payload, version: int = 1):
    env = new_event(producer=producer, event_type=event_type, aggregate_type=event_type.split(".")[2],
                    aggregate_id=str(uuid.uuid4()), aggregate_version=version, payload=payload)
    return parse_envelope(env.data)


def test_handle_dispatches_sales_and_support_events_by_type(db: Database) -> None:
    events = [
        _envelope("sales", "crm.sales.opportunity.created", sev.OpportunityCreated(opportunity=opp("o", 1))),
        _envelope("sales", "crm.sales.opportunity.won", sev.OpportunityClosed(
            opportunity=opp("o", 2, status="won", amount="88", closed="2024-07-01T00:00:00"))),
        _envelope("sales", "crm.sales.opportunity.stage_changed", sev.OpportunityStageChanged(
            opportunity=opp("o", 1, stage="proposal"))),                                   # stale
        _envelope("sales", "crm.sales.lead.created", sev.LeadCreated(lead=lead("l", 1, "event"))),
        _envelope("sales", "crm.sales.lead.converted", sev.LeadConverted(
            lead=lead("l", 2, "event"), opportunity=opp("o2", 1, amount="5"))),
        _envelope("sales", "crm.sales.task.created", sev.TaskChanged()),                  # not counted
        _envelope("support", "crm.support.ticket.created", tev.TicketCreated(ticket=ticket("t", 1))),
        _envelope("support", "crm.support.sla.breached", tev.SlaBreached(ticket=ticket("t", 2), metric="resolution")),
        _envelope("support", "crm.support.csat.answered", csat("t", 4, "2024-07-02T00:00:00")),
        _envelope("support", "crm.support.kb_article.rated", tev.KbFeedbackGiven(article_id="k")),
    ]
    for env in events:
        with db.unit_of_work() as uow:
            handlers.handle(uow, env, now=NOW)
            uow.commit()
    with db.read() as s:
        sales = sales_summary(s, ADMIN, SALES)
        assert amounts(sales.won_by_month) == {("2024-07", "CNY"): (1, "88.00")}
        assert amounts(sales.pipeline_by_stage) == {("qualify", "CNY"): (1, "5.00")} and sales.lead_count == 1
        support = support_summary(s, ADMIN, SUPPORT)
        assert support.total == 1 and support.sla_breaches == 1 and support.csat_average == 4.0
