"""The public pool (公海) of leads, pure: the team rules, claim limit, cool-down and reasons are
crmkit.pool's (one mechanism for leads and customers); here is what they mean for a lead: which
leads a rep holds, what its clocks are, and how it goes into and out of the pool."""
from __future__ import annotations

from datetime import datetime

from crm.common.v1.pool_pb2 import PoolRule
from crm.sales.v1.sales_pb2 import Lead
from crmkit import pool
from crmkit.pool import (
    ASSIGNED,
    CLAIMED,
    DEFAULT_RULE,
    LOSSES,
    RELEASED,
    RETURNED,
    check_cooldown,
    check_reason,
    rule_for,
    validate_rules,
)
from crmkit.records import dt

# crmkit.pool's rules, under the one name the lead pool's callers use
__all__ = ["ASSIGNED", "CLAIMED", "COUNTED", "DEFAULT_RULE", "HELD", "LOSSES", "RELEASED", "RETURNED",
           "check_claim_limit", "check_cooldown", "check_reason", "last_follow_up", "put_in_pool", "rule_for",
           "stale_before", "stale_reason", "take_out", "touch", "validate_rules"]

# Leads a rep holds (and the rule may take back): open, or qualified but not yet converted.
HELD = ("new", "working", "qualified")
# What a rep counts against the claim limit.
COUNTED = HELD


def last_follow_up(lead: Lead) -> datetime | None:
    """When the inactivity clock started: the last follow-up, or the moment the rep got the lead."""
    return pool.max_time(dt(lead.last_follow_up_at) if lead.HasField("last_follow_up_at") else None,
                         dt(lead.assigned_at) if lead.HasField("assigned_at") else None)


def stale_reason(lead: Lead, rule: PoolRule, now: datetime) -> str | None:
    """Why the rule takes this lead back to the pool now; None while its rep still may keep it."""
    if not lead.owner_id or lead.in_pool or lead.status not in HELD:
        return None
    return pool.stale_reason(rule, now, followed_up=last_follow_up(lead),
                             held_since=dt(lead.assigned_at) if lead.HasField("assigned_at") else None)


def stale_before(rule: PoolRule, now: datetime) -> tuple[datetime | None, datetime | None]:
    return pool.cut_offs(rule, now)


def check_claim_limit(held: int, rule: PoolRule, team: str) -> None:
    pool.check_claim_limit(held, rule, team, "leads")


def put_in_pool(lead: Lead, reason: str, now: datetime) -> str:
    """The lead without an owner, waiting in its team's pool; returns who held it."""
    previous = lead.owner_id
    lead.previous_owner_id = previous
    lead.owner_id = ""
    lead.in_pool = True
    lead.pool_reason = reason
    lead.pooled_at.FromDatetime(now)
    lead.ClearField("response_due_at")
    return previous


def take_out(lead: Lead) -> None:
    """Out of the pool (someone holds it again, or it is closed); the history stays in the moves."""
    lead.in_pool = False
    lead.pool_reason = ""
    lead.ClearField("pooled_at")


def touch(lead: Lead, at: datetime) -> None:
    """A follow-up on the lead: restarts the pool's inactivity clock."""
    if not lead.HasField("last_follow_up_at") or dt(lead.last_follow_up_at) < at:
        lead.last_follow_up_at.FromDatetime(at)
