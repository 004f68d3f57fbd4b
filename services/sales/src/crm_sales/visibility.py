"""Who sees which sales record, enforced here (never trusted to the gateway): an admin sees
everything, a manager their team and region, finance / legal / analysts read everything (they
approve and report), a rep what they own plus what an active delegation lends them."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Table, false, or_, true

from crmkit.auth import Principal
from crmkit.errors import PermissionDenied

READ_ALL_ROLES = ("support", "analyst", "finance", "legal")


def can_read(principal: Principal, owner_id: str, team: str, region: str, delegators: Sequence[str] = ()) -> bool:
    if principal.is_admin or principal.has_role(*READ_ALL_ROLES):
        return True
    if principal.is_manager:
        return bool((principal.team and team == principal.team) or (principal.region and region == principal.region))
    return bool(owner_id) and (owner_id == principal.user_id or owner_id in delegators)


def can_write(principal: Principal, owner_id: str, team: str, region: str, delegators: Sequence[str] = ()) -> bool:
    if principal.is_admin:
        return True
    if principal.is_manager:
        return can_read(principal, owner_id, team, region)
    return principal.has_role("rep") and bool(owner_id) and (owner_id == principal.user_id or owner_id in delegators)


def visible_clause(principal: Principal, table: Table, delegators: Sequence[str] = ()) -> ColumnElement[bool]:
    if principal.is_admin or principal.has_role(*READ_ALL_ROLES):
        return true()
    if principal.is_manager:
        clauses = []
        if principal.team:
            clauses.append(table.c.team == principal.team)
        if principal.region:
            clauses.append(table.c.region == principal.region)
        return or_(*clauses) if clauses else false()
    return table.c.owner_id.in_([principal.user_id, *delegators])


def check_assignable(principal: Principal, owner_id: str) -> None:
    """A rep may only give records to themselves; managers and admins assign freely."""
    if principal.is_admin or principal.is_manager:
        return
    if owner_id != principal.user_id:
        raise PermissionDenied("you can only own records yourself; ask a manager to assign", field="owner_id")


def require_manager(principal: Principal, what: str) -> None:
    if not (principal.is_admin or principal.is_manager):
        raise PermissionDenied(f"only a manager or an admin can {what}")
