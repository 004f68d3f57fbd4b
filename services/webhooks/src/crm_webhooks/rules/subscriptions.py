"""Who manages subscriptions, and what a subscription may say."""
from __future__ import annotations

from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, PermissionDenied
from crmkit.limits import MAX_NOTES

MANAGER_ROLES = ("integration",)  # besides admins
STATUSES = ("active", "paused")
DELIVERY_STATUSES = ("pending", "delivered", "parked")


def check_manager(principal: Principal) -> None:
    if not principal.has_role(*MANAGER_ROLES):
        raise PermissionDenied("only an admin or an integration user manages webhooks")


def can_see(principal: Principal, owner_id: str) -> bool:
    """An admin sees every subscription; an integration user their own."""
    return principal.is_admin or owner_id == principal.user_id


def check_status(status: str, field: str = "status") -> str:
    status = status or "active"
    if status not in STATUSES:
        raise InvalidArgument(f"must be one of {', '.join(STATUSES)}", field=field)
    return status


def check_description(text: str) -> str:
    if len(text) > MAX_NOTES:
        raise InvalidArgument(f"at most {MAX_NOTES} characters", field="description")
    return text


def check_delivery_status(status: str) -> str:
    if status and status not in DELIVERY_STATUSES:
        raise InvalidArgument(f"must be one of {', '.join(DELIVERY_STATUSES)}", field="status")
    return status
