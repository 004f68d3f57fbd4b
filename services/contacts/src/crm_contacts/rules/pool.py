"""The public pool (公海) of customers, pure: the team rules, claim limit, cool-down and reasons
are crmkit.pool's (the same as sales' pool of leads); here is how an account goes into and out of
its team's pool, and when its owner's clock starts."""
from __future__ import annotations

from datetime import datetime

from crm.contacts.v1.contacts_pb2 import Account
from crmkit.records import dt


def held_since(account: Account) -> datetime:
    """When its owner got it (its creation, for an account no pool move or reassignment touched)."""
    return dt(account.assigned_at) if account.HasField("assigned_at") else dt(account.created_at)


def put_in_pool(account: Account, reason: str, now: datetime) -> str:
    """The account without an owner, waiting in its team's pool; returns who held it."""
    previous = account.owner_id
    account.previous_owner_id = previous
    account.owner_id = ""
    account.in_pool = True
    account.pool_reason = reason
    account.pooled_at.FromDatetime(now)
    return previous


def give(account: Account, owner_id: str, now: datetime) -> None:
    """A new owner (a claim, a manager's assignment, an edit of owner_id, a transfer): out of the
    pool, and the owner's clock starts now."""
    account.owner_id = owner_id
    account.in_pool = False
    account.pool_reason = ""
    account.ClearField("pooled_at")
    account.assigned_at.FromDatetime(now)
