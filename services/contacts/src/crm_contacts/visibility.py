"""Who sees which customer, enforced inside the service (the gateway is not trusted with it):
an admin sees everything, a manager their team and their region, support and analysts read
everything but change nothing, anyone else (a rep) only the records they own."""
from __future__ import annotations

from sqlalchemy import ColumnElement, Table, false, or_, true

from crmkit.auth import Principal
from crmkit.errors import PermissionDenied

READ_ALL_ROLES = ("support", "analyst")


def can_read(principal: Principal, owner_id: str, team: str, region: str) -> bool:
    if principal.is_admin or principal.has_role(*READ_ALL_ROLES):
        return True
    if principal.is_manager:
        return bool((principal.team and team == principal.team) or (principal.region and region == principal.region))
    return owner_id == principal.user_id


def can_write(principal: Principal, owner_id: str, team: str, region: str) -> bool:
    if principal.is_admin:
        return True
    if principal.is_manager:
        return can_read(principal, owner_id, team, region)
    return principal.has_role("rep", "marketing") and owner_id == principal.user_id


def visible_clause(principal: Principal, table: Table) -> ColumnElement[bool]:
    if principal.is_admin or principal.has_role(*READ_ALL_ROLES):
        return true()
    if principal.is_manager:
        clauses = []
        if principal.team:
            clauses.append(table.c.team == principal.team)
        if principal.region:
            clauses.append(table.c.region == principal.region)
        return or_(*clauses) if clauses else false()
    return table.c.owner_id == principal.user_id


def check_assignable(principal: Principal, owner_id: str) -> None:
    """A rep may only create or keep records owned by themselves; managers assign freely."""
    if principal.is_admin or principal.is_manager:
        return
    if owner_id != principal.user_id:
        raise PermissionDenied("you can only own records yourself; ask a manager to assign", field="owner_id")
