"""Leads have no day rollup, so a week or day grain reads lead_facts: migration 0011's indexes make
it read only the window's rows (an analyst's from one index holding every catalogue column, a
rep's by owner, a manager's by team), and the answers stay those of the rows."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import Query
from crm.sales.v1.sales_pb2 import Lead
from crm_reporting.analytics import query
from crm_reporting.handlers import sales
from crmkit.auth import Principal

WEEKLY = Query(source="leads", dimensions=["source"], measures=["count", "conversion_rate"], time_field="created",
               time_grain="week", from_day="2025-01-06", to_day="2025-02-23")
ANALYST = Principal("analyst.1", ("analyst",), "bi", "")
MANAGER = Principal("m.1", ("manager",), "team-1", "")
REP = Principal("rep-1-0", ("rep",), "team-1", "region-1")


def _leads(session: Session) -> None:
    for i in range(60):
        team = i % 3
        lead = Lead(id=f"l{i}", version=1, owner_id=f"rep-{team}-{i % 2}", team=f"team-{team}",
                    region=f"region-{team}", source=("website", "referral")[i % 2],
                    status=("new", "converted")[i % 4 == 0])
        lead.created_at.FromDatetime(datetime(2024, 12, 20, tzinfo=UTC) + timedelta(days=i))
        sales.apply_lead(session, lead)


def _plan_of(session: Session, principal: Principal) -> tuple[str, Any]:
    """The query's answer and SQLite's plan of the statement it ran over lead_facts."""
    ran: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "lead_facts" in statement:
            ran.append((statement, parameters))

    bind = session.connection()
    event.listen(bind, "before_cursor_execute", keep)
    try:
        answer = query.run(session, WEEKLY, principal)
    finally:
        event.remove(bind, "before_cursor_execute", keep)
    (statement, parameters), = ran
    plan = " | ".join(row[-1] for row in bind.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    return plan, answer


def test_a_weekly_lead_query_reads_the_windows_rows_through_an_index(session: Session) -> None:
    _leads(session)
    for principal, index in ((ANALYST, "COVERING INDEX ix_lead_facts_created"),
                             (REP, "INDEX ix_lead_facts_owner_created"), (MANAGER, "INDEX ix_lead_facts_team_created")):
        plan, answer = _plan_of(session, principal)
        assert index in plan, (principal.user_id, plan)
        assert answer.totals.values[0].number_value > 0


def test_the_indexed_answers_are_the_rows_answers_for_every_caller(session: Session) -> None:
    _leads(session)
    for principal in (ANALYST, MANAGER, REP):
        answer = query.run(session, WEEKLY, principal)
        periods = {row.keys[0] for row in answer.rows}
        assert periods and all("2025-01-06" <= p <= "2025-02-17" for p in periods)
        visible = [i for i in range(60) if principal is ANALYST or (principal is MANAGER and i % 3 == 1)
                   or (principal is REP and i % 3 == 1 and i % 2 == 0)]
        in_window = [i for i in visible if 17 <= i <= 65]      # 2024-12-20 + i days in 6 Jan - 23 Feb
        assert answer.totals.values[0].number_value == len(in_window)
