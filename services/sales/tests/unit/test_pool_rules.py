"""The public pool's pure rules: when a held lead goes back and why, the team's rule and its
defaults, the claim limit and the cool-down, and what an admin may save."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.common.v1.pool_pb2 import PoolRule
from crm.sales.v1.sales_pb2 import Lead
from crm_sales.rules import pool
from crmkit.errors import FailedPrecondition, InvalidArgument

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def held(*, assigned_days_ago: float, followed_days_ago: float | None = None, status: str = "working") -> Lead:
    lead = Lead(id="l-1", owner_id="rep.north.1", team="north-sales", status=status)
    lead.assigned_at.FromDatetime(NOW - timedelta(days=assigned_days_ago))
    if followed_days_ago is not None:
        lead.last_follow_up_at.FromDatetime(NOW - timedelta(days=followed_days_ago))
    return lead


def test_the_default_rule_is_30_days_without_follow_up_90_unconverted_50_leads_7_days_cool_down() -> None:
    rule = pool.rule_for("any-team", [])
    assert (rule.inactive_days, rule.unconverted_days, rule.claim_limit, rule.cooldown_days) == (30, 90, 50, 7)


def test_a_team_rule_wins_over_the_saved_default_which_wins_over_the_built_in_one() -> None:
    saved = [PoolRule(team="", inactive_days=20), PoolRule(team="south-sales", inactive_days=10)]
    assert pool.rule_for("south-sales", saved).inactive_days == 10
    assert pool.rule_for("north-sales", saved).inactive_days == 20


def test_a_lead_without_follow_up_for_the_rule_s_days_goes_back_with_the_reason() -> None:
    rule = pool.DEFAULT_RULE
    assert pool.stale_reason(held(assigned_days_ago=40, followed_days_ago=29), rule, NOW) is None
    reason = pool.stale_reason(held(assigned_days_ago=40, followed_days_ago=30), rule, NOW)
    assert reason is not None and "no follow-up for 30 days" in reason


def test_a_recent_assignment_restarts_the_inactivity_clock() -> None:
    assert pool.stale_reason(held(assigned_days_ago=3, followed_days_ago=60), pool.DEFAULT_RULE, NOW) is None


def test_a_lead_held_past_the_conversion_window_goes_back_even_when_followed_up() -> None:
    reason = pool.stale_reason(held(assigned_days_ago=90, followed_days_ago=1), pool.DEFAULT_RULE, NOW)
    assert reason is not None and "not converted within 90 days" in reason


def test_zero_days_turns_a_clock_off_and_closed_or_pooled_leads_never_return() -> None:
    off = PoolRule(inactive_days=0, unconverted_days=0)
    assert pool.stale_reason(held(assigned_days_ago=400, followed_days_ago=400), off, NOW) is None
    for status in ("converted", "disqualified", "nurturing"):
        assert pool.stale_reason(held(assigned_days_ago=400, status=status), pool.DEFAULT_RULE, NOW) is None
    pooled = held(assigned_days_ago=400)
    pooled.in_pool = True
    assert pool.stale_reason(pooled, pool.DEFAULT_RULE, NOW) is None


def test_the_claim_limit_names_itself_and_the_numbers() -> None:
    pool.check_claim_limit(49, pool.DEFAULT_RULE, "north-sales")
    with pytest.raises(FailedPrecondition) as refused:
        pool.check_claim_limit(50, pool.DEFAULT_RULE, "north-sales")
    assert refused.value.field == "claim_limit" and "50" in refused.value.message
    assert refused.value.details == {"claim_limit": 50, "held": 50}
    pool.check_claim_limit(10_000, PoolRule(claim_limit=0), "north-sales")  # 0: no limit


def test_the_cool_down_refuses_a_reclaim_until_its_days_passed() -> None:
    lost = NOW - timedelta(days=6, hours=23)
    with pytest.raises(FailedPrecondition) as refused:
        pool.check_cooldown(lost, pool.DEFAULT_RULE, NOW)
    assert refused.value.field == "cooldown_days" and "2026-06-01T10:00" in refused.value.message
    pool.check_cooldown(NOW - timedelta(days=7), pool.DEFAULT_RULE, NOW)
    pool.check_cooldown(None, pool.DEFAULT_RULE, NOW)


@pytest.mark.parametrize(("rule", "field"), [
    (PoolRule(inactive_days=-1), "pool_rules[0].inactive_days"),
    (PoolRule(cooldown_days=4000), "pool_rules[0].cooldown_days"),
    (PoolRule(claim_limit=-5), "pool_rules[0].claim_limit"),
])
def test_a_bad_rule_is_refused_naming_its_field(rule: PoolRule, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        pool.validate_rules([rule])
    assert refused.value.field == field


def test_two_rules_for_one_team_are_refused() -> None:
    with pytest.raises(InvalidArgument) as refused:
        pool.validate_rules([PoolRule(team="north-sales"), PoolRule(team="north-sales")])
    assert refused.value.field == "pool_rules[1].team"


def test_a_release_needs_a_reason() -> None:
    with pytest.raises(InvalidArgument) as refused:
        pool.check_reason("   ")
    assert refused.value.field == "reason"
    assert pool.check_reason(" 客户暂无预算 ") == "客户暂无预算"
