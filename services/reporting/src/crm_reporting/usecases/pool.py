"""The public pool (公海) report: per team, the leads waiting in its pool now and the moves
(returned by the rule, released, claimed, assigned) in a period. A pool belongs to a team, so the
caller counts by team: admins, services and analysts every team, a manager their team's and
their region's, a rep their own team's."""
from __future__ import annotations

from sqlalchemy import ColumnElement, Table, false, func, select, true
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import GetPoolReportRequest, PoolReport, PoolTeamFigures
from crm_reporting.rules import check_days
from crm_reporting.store import events_applied
from crm_reporting.tables import leads, pool_moves
from crmkit.auth import Principal

KINDS = ("returned", "released", "claimed", "assigned")


def _teams_seen(principal: Principal, table: Table) -> ColumnElement[bool]:
    if principal.is_admin or principal.has_role("analyst", "service"):
        return true()
    own = (table.c.team == principal.team) if principal.team else false()
    if principal.is_manager and principal.region:
        return own | (table.c.region == principal.region)
    return own


def pool_report(session: Session, *, principal: Principal, request: GetPoolReportRequest) -> PoolReport:
    check_days(request)
    lead_where = [leads.c.in_pool.is_(True), _teams_seen(principal, leads)]
    move_where = [_teams_seen(principal, pool_moves)]
    if request.team:
        lead_where.append(leads.c.team == request.team)
        move_where.append(pool_moves.c.team == request.team)
    if request.from_day:
        move_where.append(pool_moves.c.day >= request.from_day)
    if request.to_day:
        move_where.append(pool_moves.c.day <= request.to_day)
    figures: dict[str, PoolTeamFigures] = {}

    def team(name: str) -> PoolTeamFigures:
        return figures.setdefault(name, PoolTeamFigures(team=name))

    for name, n in session.execute(select(leads.c.team, func.count()).where(*lead_where).group_by(leads.c.team)):
        team(name).in_pool = n
    for name, kind, n in session.execute(select(pool_moves.c.team, pool_moves.c.kind, func.count())
                                         .where(*move_where).group_by(pool_moves.c.team, pool_moves.c.kind)):
        if kind in KINDS:
            setattr(team(name), kind, n)
    return PoolReport(teams=[figures[k] for k in sorted(figures)], events_applied=events_applied(session))
