"""The public pool (公海), pure: each team's rule (the built-in default until an admin saves one),
when a held lead goes back to the pool and why, the claim limit and the cool-down. No database,
no network, no clock: `now` and the facts are given."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from crm.sales.v1.sales_pb2 import Lead, PoolRule
from crmkit.errors import FailedPrecondition, InvalidArgument
from crmkit.records import dt

DEFAULT_RULE = PoolRule(team="", inactive_days=30, unconverted_days=90, claim_limit=50, cooldown_days=7)
# Leads a rep holds (and the rule may take back): open, or qualified but not yet converted.
HELD = ("new", "working", "qualified")
# What a rep counts against the claim limit.
COUNTED = HELD
MAX_DAYS = 3650
MAX_CLAIM_LIMIT = 100_000
MAX_REASON = 500

# Pool move kinds (PoolMove.kind).
RETURNED, RELEASED, CLAIMED, ASSIGNED = "returned", "released", "claimed", "assigned"
# Moves that take a lead away from a rep: each starts that rep's cool-down on it.
LOSSES = (RETURNED, RELEASED)


def validate_rules(rules: Sequence[PoolRule]) -> None:
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        where = f"pool_rules[{i}]"
        team = rule.team.strip()
        if team in seen:
            raise InvalidArgument(f"a second rule for team '{team or '(default)'}'", field=f"{where}.team")
        seen.add(team)
        for name in ("inactive_days", "unconverted_days", "cooldown_days"):
            value = getattr(rule, name)
            if not 0 <= value <= MAX_DAYS:
                raise InvalidArgument(f"{name} is 0 (never) to {MAX_DAYS}", field=f"{where}.{name}")
        if not 0 <= rule.claim_limit <= MAX_CLAIM_LIMIT:
            raise InvalidArgument(f"claim_limit is 0 (no limit) to {MAX_CLAIM_LIMIT}", field=f"{where}.claim_limit")


def rule_for(team: str, rules: Sequence[PoolRule]) -> PoolRule:
    """The team's own rule, else the saved default (team ""), else the built-in one."""
    by_team = {r.team.strip(): r for r in rules}
    return by_team.get(team) or by_team.get("") or DEFAULT_RULE


def last_follow_up(lead: Lead) -> datetime | None:
    """When the inactivity clock started: the last follow-up, or the moment the rep got the lead."""
    times = [dt(ts) for ts, present in ((lead.last_follow_up_at, lead.HasField("last_follow_up_at")),
                                       (lead.assigned_at, lead.HasField("assigned_at"))) if present]
    return max(times) if times else None


def stale_reason(lead: Lead, rule: PoolRule, now: datetime) -> str | None:
    """Why the rule takes this lead back to the pool now; None while its rep still may keep it."""
    if not lead.owner_id or lead.in_pool or lead.status not in HELD:
        return None
    touched = last_follow_up(lead)
    if rule.inactive_days and touched is not None and now - touched >= timedelta(days=rule.inactive_days):
        return f"no follow-up for {rule.inactive_days} days / {rule.inactive_days} 天未跟进"
    if rule.unconverted_days and lead.HasField("assigned_at") and \
            now - dt(lead.assigned_at) >= timedelta(days=rule.unconverted_days):
        return f"not converted within {rule.unconverted_days} days / {rule.unconverted_days} 天未转化"
    return None


def stale_before(rule: PoolRule, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The cut-offs a store query uses to find candidates: (last follow-up before, held since before)."""
    return ((now - timedelta(days=rule.inactive_days)) if rule.inactive_days else None,
            (now - timedelta(days=rule.unconverted_days)) if rule.unconverted_days else None)


def check_claim_limit(held: int, rule: PoolRule, team: str) -> None:
    if rule.claim_limit and held >= rule.claim_limit:
        raise FailedPrecondition(
            f"claim limit reached: you hold {held} open leads and team '{team or '(default)'}' allows "
            f"{rule.claim_limit} / 已达领取上限 {rule.claim_limit}; release one first", field="claim_limit",
            claim_limit=rule.claim_limit, held=held)


def check_cooldown(lost_at: datetime | None, rule: PoolRule, now: datetime) -> None:
    """A rep may not reclaim a lead they released or lost to the pool within the cool-down."""
    if lost_at is None or not rule.cooldown_days:
        return
    until = lost_at + timedelta(days=rule.cooldown_days)
    if now < until:
        raise FailedPrecondition(
            f"cool-down: you gave this lead up on {lost_at.date().isoformat()}; you may claim it again from "
            f"{until.isoformat(timespec='minutes')} ({rule.cooldown_days} days) / 冷却期内不可重新领取",
            field="cooldown_days", cooldown_days=rule.cooldown_days)


def check_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidArgument("say why the lead goes back to the pool", field="reason")
    if len(text) > MAX_REASON:
        raise InvalidArgument(f"at most {MAX_REASON} characters", field="reason", maximum=MAX_REASON)
    return text


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
    """Out of the pool (someone holds it again); the history stays in the pool moves."""
    lead.in_pool = False
    lead.pool_reason = ""
    lead.ClearField("pooled_at")


def touch(lead: Lead, at: datetime) -> None:
    """A follow-up on the lead: restarts the pool's inactivity clock."""
    if not lead.HasField("last_follow_up_at") or dt(lead.last_follow_up_at) < at:
        lead.last_follow_up_at.FromDatetime(at)
