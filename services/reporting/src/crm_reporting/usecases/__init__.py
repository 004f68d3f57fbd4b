"""The report reads, one module per report: `customers` (contact events), `sales` (opportunities
and leads), `support` (tickets, SLA breaches, CSAT), `campaigns` (the ROI table and one campaign's
report) and `email` (email figures, the open rate over time). Each takes a read session first and the
caller and the request by keyword, and counts only what the caller may see:

- customers, opportunities, leads and campaigns carry owner, team and region, and use the owner /
  team / region rule of contacts, sales and marketing (`VISIBLE`): admins, services and analysts count everything,
  a manager their team and their region (an empty one matches nothing), anyone else their own;
  campaigns also every one for marketers (`CAMPAIGNS_VISIBLE`), as marketing shows them;
- tickets carry an assignee and the team and region support files them under (from their customer
  or author): support agents, admins and analysts count all of them, a manager those of their team
  or region and those assigned to them (support's manager rule), anyone else those assigned to
  them. A CSAT answer counts as its ticket does (`tickets_visible`, `csat_visible`)."""
from __future__ import annotations

from sqlalchemy import ColumnElement, exists, literal, or_, select, true

from crm_reporting.tables import csat_answers, tickets
from crmkit.auth import Principal
from crmkit.visibility import Visibility

VISIBLE = Visibility(read_all=("analyst",))
# Campaigns as marketing lets them be read: marketers and analysts every one (marketing's CAMPAIGNS
# rule), so the ROI table and the open rates cover the campaigns a marketer's campaign list shows.
CAMPAIGNS_VISIBLE = Visibility(read_all=("analyst", "marketing"))


def _reads_all_tickets(principal: Principal) -> bool:
    return principal.is_admin or principal.has_role("analyst", "support")


def _in_scope(principal: Principal) -> list[ColumnElement[bool]]:
    """A manager's tickets by where support files them: their team, their region (empty: none)."""
    scope = []
    if principal.team:
        scope.append(tickets.c.team == principal.team)
    if principal.region:
        scope.append(tickets.c.region == principal.region)
    return scope


def tickets_visible(principal: Principal) -> ColumnElement[bool]:
    """Which tickets (rows of `tickets`) the caller counts."""
    if _reads_all_tickets(principal):
        return true()
    mine = tickets.c.assignee_id == principal.user_id
    return or_(mine, *_in_scope(principal)) if principal.is_manager else mine


def csat_visible(principal: Principal) -> ColumnElement[bool]:
    """Which CSAT answers the caller counts: a manager's by their ticket's team and region."""
    if _reads_all_tickets(principal):
        return true()
    mine = csat_answers.c.assignee_id == principal.user_id
    scope = _in_scope(principal) if principal.is_manager else []
    if not scope:
        return mine
    ticket_in_scope = exists(select(literal(1)).where(tickets.c.ticket_id == csat_answers.c.ticket_id, or_(*scope)))
    return or_(mine, ticket_in_scope)
