"""The public pool (公海) report: per team and kind of record (leads from sales, customers from
contacts), the records waiting in its pool now and the moves (returned by the rule, released,
claimed, assigned) in a period. A pool belongs to a team, so the caller counts by team: admins,
services and analysts every team, a manager their team's and their region's, a rep their own
team's."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, false, func, literal, select, true, union_all
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import GetPoolReportRequest, PoolReport, PoolTeamFigures
from crm_reporting.rules import check_days
from crm_reporting.store import events_applied
from crm_reporting.tables import account_pool, leads, pool_moves
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

KINDS = ("returned", "released", "claimed", "assigned")
RECORD_TYPES = ("lead", "account")


def _teams_seen(principal: Principal, table: Table) -> ColumnElement[bool]:
    if principal.is_admin or principal.has_role("analyst", "service"):
        return true()
    own = (table.c.team == principal.team) if principal.team else false()
    if principal.is_manager and principal.region:
        return own | (table.c.region == principal.region)
    return own


def _pooled(principal: Principal, request: GetPoolReportRequest) -> Any:
    """(team, record_type, count) of what waits in a pool now."""
    parts = []
    for record_type, table in (("lead", leads), ("account", account_pool)):
        if request.record_type and request.record_type != record_type:
            continue
        where = [table.c.in_pool.is_(True), _teams_seen(principal, table)]
        if request.team:
            where.append(table.c.team == request.team)
        parts.append(select(table.c.team, literal(record_type).label("record_type"), func.count().label("n"))
                     .where(*where).group_by(table.c.team))
    return union_all(*parts)


def pool_report(session: Session, *, principal: Principal, request: GetPoolReportRequest) -> PoolReport:
    check_days(request)
    if request.record_type and request.record_type not in RECORD_TYPES:
        raise InvalidArgument(f"one of {', '.join(RECORD_TYPES)}", field="record_type")
    move_where = [_teams_seen(principal, pool_moves)]
    if request.team:
        move_where.append(pool_moves.c.team == request.team)
    if request.record_type:
        move_where.append(pool_moves.c.record_type == request.record_type)
    if request.from_day:
        move_where.append(pool_moves.c.day >= request.from_day)
    if request.to_day:
        move_where.append(pool_moves.c.day <= request.to_day)
    figures: dict[tuple[str, str], PoolTeamFigures] = {}

    def row(team: str, record_type: str) -> PoolTeamFigures:
        return figures.setdefault((team, record_type), PoolTeamFigures(team=team, record_type=record_type))

    for team, record_type, n in session.execute(_pooled(principal, request)):
        row(team, record_type).in_pool = n
    moves = (select(pool_moves.c.team, pool_moves.c.record_type, pool_moves.c.kind, func.count())
             .where(*move_where).group_by(pool_moves.c.team, pool_moves.c.record_type, pool_moves.c.kind))
    for team, record_type, kind, n in session.execute(moves):
        if kind in KINDS:
            setattr(row(team, record_type), kind, n)
    return PoolReport(teams=[figures[k] for k in sorted(figures)], events_applied=events_applied(session))
