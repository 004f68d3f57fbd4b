"""The report reads, one module per report: `customers` (contact events), `sales` (opportunities
and leads), `support` (tickets, SLA breaches, CSAT), `campaigns` (the ROI table and one campaign's
report) and `email` (email figures, the open rate over time). Each takes a read session first and the
caller and the request by keyword, and counts only what the caller may see:

- customers, opportunities, leads and campaigns carry owner, team and region, and use the owner /
  team / region rule of contacts, sales and marketing (`VISIBLE`): admins, services and analysts count everything,
  a manager their team and their region (an empty one matches nothing), anyone else their own;
- tickets carry an assignee but no team or region: a rep counts the tickets assigned to them,
  managers, support agents, admins and analysts all of them (as in support)."""
from __future__ import annotations

from sqlalchemy import ColumnElement, true

from crmkit.auth import Principal
from crmkit.visibility import Visibility

VISIBLE = Visibility(read_all=("analyst",))


def assigned(principal: Principal, column: ColumnElement[str]) -> ColumnElement[bool]:
    """Which support rows (by their assignee column) the caller counts."""
    if principal.is_admin or principal.is_manager or principal.has_role("analyst", "support"):
        return true()
    return column == principal.user_id
