"""The public pool (公海) rules every pool shares (sales' pool of leads, contacts' pool of
customers): one rule per team with the built-in default, when a held record's clocks say it goes
back and why, the claim limit, the cool-down and a release's reason. Pure: no database, no clock;
each service says what its records' clocks are."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from crm.common.v1.pool_pb2 import PoolRule
from crmkit.errors import FailedPrecondition, InvalidArgument

DEFAULT_RULE = PoolRule(team="", inactive_days=30, unconverted_days=90, claim_limit=50, cooldown_days=7)
MAX_DAYS = 3650
MAX_CLAIM_LIMIT = 100_000
MAX_REASON = 500

# PoolMove.kind
RETURNED, RELEASED, CLAIMED, ASSIGNED = "returned", "released", "claimed", "assigned"
# Moves that take a record away from a rep: each starts that rep's cool-down on it.
LOSSES = (RETURNED, RELEASED)


def validate_rules(rules: Sequence[PoolRule], where: str = "pool_rules") -> None:
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        at = f"{where}[{i}]"
        team = rule.team.strip()
        if team in seen:
            raise InvalidArgument(f"a second rule for team '{team or '(default)'}'", field=f"{at}.team")
        seen.add(team)
        for name in ("inactive_days", "unconverted_days", "cooldown_days"):
            value = getattr(rule, name)
            if not 0 <= value <= MAX_DAYS:
                raise InvalidArgument(f"{name} is 0 (never) to {MAX_DAYS}", field=f"{at}.{name}")
        if not 0 <= rule.claim_limit <= MAX_CLAIM_LIMIT:
            raise InvalidArgument(f"claim_limit is 0 (no limit) to {MAX_CLAIM_LIMIT}", field=f"{at}.claim_limit")


def rule_for(team: str, rules: Sequence[PoolRule]) -> PoolRule:
    """The team's own rule, else the saved default (team ""), else the built-in one."""
    by_team = {r.team.strip(): r for r in rules}
    return by_team.get(team) or by_team.get("") or DEFAULT_RULE


def stale_reason(rule: PoolRule, now: datetime, *, followed_up: datetime | None, held_since: datetime | None,
                 converted: bool = False) -> str | None:
    """Why the rule takes a held record back now: no follow-up since `followed_up` (the later of its
    last follow-up and its owner getting it), or held since `held_since` without converting; None
    while its owner may keep it."""
    if rule.inactive_days and followed_up is not None and now - followed_up >= timedelta(days=rule.inactive_days):
        return f"no follow-up for {rule.inactive_days} days / {rule.inactive_days} 天未跟进"
    if not converted and rule.unconverted_days and held_since is not None and \
            now - held_since >= timedelta(days=rule.unconverted_days):
        return f"not converted within {rule.unconverted_days} days / {rule.unconverted_days} 天未转化"
    return None


def cut_offs(rule: PoolRule, now: datetime) -> tuple[datetime | None, datetime | None]:
    """What a store query compares the clocks with: (followed up on or before, held since on or before)."""
    return ((now - timedelta(days=rule.inactive_days)) if rule.inactive_days else None,
            (now - timedelta(days=rule.unconverted_days)) if rule.unconverted_days else None)


def check_claim_limit(held: int, rule: PoolRule, team: str, what: str = "records") -> None:
    if rule.claim_limit and held >= rule.claim_limit:
        raise FailedPrecondition(
            f"claim limit reached: you hold {held} open {what} and team '{team or '(default)'}' allows "
            f"{rule.claim_limit} / 已达领取上限 {rule.claim_limit}; release one first", field="claim_limit",
            claim_limit=rule.claim_limit, held=held)


def check_cooldown(lost_at: datetime | None, rule: PoolRule, now: datetime) -> None:
    """A rep may not reclaim what they released or lost to the pool within the cool-down."""
    if lost_at is None or not rule.cooldown_days:
        return
    until = lost_at + timedelta(days=rule.cooldown_days)
    if now < until:
        raise FailedPrecondition(
            f"cool-down: you gave this up on {lost_at.date().isoformat()}; you may claim it again from "
            f"{until.isoformat(timespec='minutes')} ({rule.cooldown_days} days) / 冷却期内不可重新领取",
            field="cooldown_days", cooldown_days=rule.cooldown_days)


def check_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidArgument("say why it goes back to the pool", field="reason")
    if len(text) > MAX_REASON:
        raise InvalidArgument(f"at most {MAX_REASON} characters", field="reason", maximum=MAX_REASON)
    return text


def max_time(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return max(present) if present else None
