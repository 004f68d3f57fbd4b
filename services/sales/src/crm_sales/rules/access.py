"""Who sees and changes which sales record: crmkit's owner / team / region rule, parameterized for
sales. Finance, legal, analysts and support read everything (they approve, report and help);
reps change what they own or what an active delegation lends them."""
from __future__ import annotations

from crmkit.auth import Principal
from crmkit.visibility import Visibility

VISIBILITY = Visibility(read_all=("support", "analyst", "finance", "legal"), writers=("rep",))


def as_manager(principal: Principal) -> Principal:
    """A rep delegating their own work passes the checks a manager's delegation passes."""
    return Principal(principal.user_id, (*principal.roles, "manager"), principal.team, principal.region)
