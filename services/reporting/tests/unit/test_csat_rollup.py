"""The CSAT rollup (per day answered, assignee and rating) stays exact: random answers, changed
ratings, reassignments, stale and redelivered answers through the CSAT handler, then the CSAT
trend and custom CSAT queries read from the rollup answer exactly what the answers answer, for
every kind of caller; `rebuild` makes the rows the handler kept; migration 0010 fills it, and
the ticket rollup per day, from the answers and tickets a database already holds."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import GetStandardReportRequest, Query, QueryFilter
from crm.support.v1.events_pb2 import CsatAnswered
from crm.support.v1.support_pb2 import Ticket
from crm_reporting import tables
from crm_reporting.analytics import query
from crm_reporting.bootstrap import MIGRATIONS
from crm_reporting.handlers import support
from crm_reporting.store import rollups
from crm_reporting.usecases import analytics
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.migrations import upgrade

from . import test_rollups
from .conftest import Feed

ANALYST = Principal("analyst.1", ("analyst",), "bi", "")
REP = Principal("rep-1-0", ("rep",), "team-1", "region-1")
CALLERS = [ANALYST, Principal("m.0", ("manager",), "team-0", ""), REP, Principal("agent.9", ("support",), "", "")]


def _feed_random(session: Session, seed: int) -> None:
    rnd = random.Random(seed)
    answers = []
    for i in range(80):
        for _ in range(rnd.randrange(1, 4)):          # a customer may answer again, rating anew
            answered = datetime(2024, 12, 1, tzinfo=UTC) + timedelta(days=rnd.randrange(120), hours=rnd.randrange(24))
            answer = CsatAnswered(ticket_id=f"t{i}", assignee_id=f"rep-{rnd.randrange(2)}-{rnd.randrange(2)}",
                                  rating=rnd.randrange(1, 6))
            answer.answered_at.FromDatetime(answered)
            answers.append(answer)
    answers += rnd.sample(answers, 30)                  # redeliveries
    rnd.shuffle(answers)                                # older answers arrive after newer ones
    for answer in answers:
        support.apply_csat(session, answer)


def _csat(dims: list[str], measures: list[str], **kw: object) -> Query:
    filters = [QueryFilter(field=f, op=op, values=v) for f, op, v in kw.pop("filters", ())]  # type: ignore[attr-defined]
    return Query(source="csat", dimensions=dims, measures=measures, filters=filters, **kw)  # type: ignore[arg-type]


QUERIES = [
    analytics.STANDARD["csat_trend"][1],
    _csat([], ["count", "avg_rating", "satisfied_share"]),
    _csat(["assignee"], ["count", "avg_rating"], time_grain="day", from_day="2025-01-08", to_day="2025-02-19"),
    _csat(["rating"], ["count"], time_grain="month", filters=(("assignee", "in", ["rep-0-0", "rep-1-0"]),)),
    _csat([], ["satisfied_share", "avg_rating"], time_grain="quarter", from_day="2024-12-15"),
    _csat(["assignee"], ["count"], filters=(("rating", "gte", ["4"]),), to_day="2025-01-31", order_by="-count"),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_csat_from_the_rollup_equals_csat_from_the_answers_for_every_caller(session: Session, seed: int) -> None:
    _feed_random(session, seed)
    for q in QUERIES:
        assert q is not None
        for principal in CALLERS:
            # a manager's answers are by their tickets' team and region, which the rollup does not keep
            on_rollup = query.rollup_statement(query.plan(q, principal)) is not None
            assert on_rollup != principal.is_manager, MessageToDict(q)
            fast, slow = query.run(session, q, principal), query.run(session, q, principal, use_rollup=False)
            assert MessageToDict(fast) == MessageToDict(slow), (MessageToDict(q), principal.user_id)
            # these answers' tickets are filed under no team or region: a manager counts none
            assert fast.totals.values[0].number_value > 0 or principal is REP or principal.is_manager


def test_the_rollup_keeps_one_answer_per_ticket_and_rebuild_makes_the_same_rows(session: Session) -> None:
    _feed_random(session, 3)
    t = tables.csat_day_rollup
    kept = sorted(tuple(r) for r in session.execute(select(t)))
    assert kept and all(r.n > 0 for r in session.execute(select(t)))
    # every ticket's answer counts once, at its latest rating: the rollup holds exactly the answers
    assert sum(r.n for r in session.execute(select(t))) == 80
    assert sum(r.rating_sum for r in session.execute(select(t))) == sum(
        session.execute(select(tables.csat_answers.c.rating)).scalars())
    rollups.rebuild(session)
    assert sorted(tuple(r) for r in session.execute(select(t))) == kept


def test_a_rep_sees_in_the_csat_trend_only_the_answers_on_their_tickets(session: Session) -> None:
    _feed_random(session, 4)
    cs = tables.csat_answers.c
    own = session.execute(select(cs.rating).where(cs.assignee_id == REP.user_id)).scalars().all()
    every = session.execute(select(cs.rating)).scalars().all()
    assert 0 < len(own) < len(every)
    request = GetStandardReportRequest(name="csat_trend")
    mine = analytics.standard_report(session, principal=REP, request=request)
    theirs = analytics.standard_report(session, principal=ANALYST, request=request)
    assert mine.totals.values[0].number_value == len(own)
    assert mine.totals.values[1].number_value == round(sum(own) / len(own), 4)
    assert theirs.totals.values[0].number_value == len(every)


def test_migration_0010_fills_the_day_rollups_from_the_facts_already_held(feed: Feed, session: Session,
                                                                         tmp_path: Path) -> None:
    _feed_random(session, 5)
    test_rollups._feed_random(feed, session, 5)
    backfilled = (tables.csat_day_rollup, tables.ticket_day_rollup)
    kept = {t.name: sorted(tuple(r) for r in session.execute(select(t))) for t in backfilled}
    assert all(kept.values())
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, MIGRATIONS, "0009")
    old = Database(url)
    try:
        with old.unit_of_work() as uow:
            for t in (tables.csat_answers, tables.tickets, tables.ticket_tags, tables.sla_breaches):
                uow.session.execute(insert(t), [dict(r._mapping) for r in session.execute(select(t))])
            uow.commit()
        upgrade(url, MIGRATIONS)
        with old.read() as s:
            assert {t.name: sorted(tuple(r) for r in s.execute(select(t))) for t in backfilled} == kept
            trend = analytics.STANDARD["csat_trend"][1]
            weekly = Query(source="tickets", dimensions=["priority"], measures=["count", "solved"], time_grain="week")
            for q in (trend, weekly):
                assert q is not None and query.rollup_statement(query.plan(q, ANALYST)) is not None
                assert MessageToDict(query.run(s, q, ANALYST)) == MessageToDict(
                    query.run(s, q, ANALYST, use_rollup=False))
    finally:
        old.dispose()


def test_a_number_dimension_says_so_in_its_column(session: Session) -> None:
    _feed_random(session, 5)
    result = query.run(session, _csat(["rating", "assignee"], ["count"]), CALLERS[0])
    units = {c.name: c.unit for c in result.columns}
    assert (units["rating"], units["assignee"]) == ("number", "text")  # an export writes ratings as numbers


def _ticket(assignee: str, version: int) -> Ticket:
    return Ticket(id="t-moved", version=version, assignee_id=assignee, status="solved", priority="normal")


def _answer(assignee: str) -> CsatAnswered:
    answer = CsatAnswered(ticket_id="t-moved", assignee_id=assignee, rating=5)
    answer.answered_at.FromDatetime(datetime(2025, 1, 6, 9, tzinfo=UTC))
    return answer


def _counted(session: Session, who: Principal, *, use_rollup: bool = True) -> tuple[float, list[str]]:
    trend = analytics.STANDARD["csat_trend"][1]
    assert trend is not None
    figure = query.run(session, trend, who, use_rollup=use_rollup).totals.values[0].number_value
    ids = query.drill(session, trend, who, keys=[], measure="", page_token="", size=100).ids
    return figure, list(ids)


@pytest.mark.parametrize("answer_first", [True, False])
def test_a_csat_answer_follows_its_ticket_to_the_new_assignee(session: Session, answer_first: bool) -> None:
    # The answer's event names the assignee when the customer answered; a ticket reassigned since
    # (or offboarded) is the new assignee's, and so is its answer: the old one no longer reads it.
    before, after = Principal("rep-a", ("rep",)), Principal("rep-b", ("rep",))
    steps = [lambda: support.apply_csat(session, _answer("rep-a")),
             lambda: support.apply_ticket(session, _ticket("rep-b", 3))]
    support.apply_ticket(session, _ticket("rep-a", 2))
    for step in steps if answer_first else reversed(steps):
        step()
    support.apply_ticket(session, _ticket("rep-a", 2))   # the older snapshot again changes nothing
    for use_rollup in (True, False):
        assert _counted(session, before, use_rollup=use_rollup) == (0.0, [])
        assert _counted(session, after, use_rollup=use_rollup) == (1.0, ["t-moved"])
    kept = sorted(tuple(r) for r in session.execute(select(tables.csat_day_rollup)))
    rollups.rebuild(session)
    assert sorted(tuple(r) for r in session.execute(select(tables.csat_day_rollup))) == kept


def test_migration_0012_gives_answers_held_before_it_their_tickets_assignee(session: Session, tmp_path: Path) -> None:
    support.apply_ticket(session, _ticket("rep-b", 3))
    support.apply_csat(session, _answer("rep-b"))
    kept = {t.name: sorted(tuple(r) for r in session.execute(select(t)))
            for t in (tables.csat_answers, tables.csat_day_rollup)}
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, MIGRATIONS, "0011")
    old = Database(url)
    try:
        with old.unit_of_work() as uow:   # as 0011 kept them: the answer under the assignee it named
            uow.session.execute(insert(tables.tickets), [dict(r._mapping) for r in session.execute(
                select(tables.tickets))])
            for t in (tables.csat_answers, tables.csat_day_rollup):
                uow.session.execute(insert(t), [{**r._mapping, "assignee_id": "rep-a"} for r in session.execute(
                    select(t))])
            uow.commit()
        upgrade(url, MIGRATIONS)
        with old.read() as s:
            assert {t.name: sorted(tuple(r) for r in s.execute(select(t)))
                    for t in (tables.csat_answers, tables.csat_day_rollup)} == kept
    finally:
        old.dispose()
