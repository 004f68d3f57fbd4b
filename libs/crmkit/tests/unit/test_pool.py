"""crmkit.pool, the rules every public pool (公海) shares: the clocks a service hands in decide
whether a held record goes back, and a converted one never goes back for not converting."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm.common.v1.pool_pb2 import PoolRule
from crmkit import pool

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_the_inactivity_clock_runs_from_the_later_of_the_follow_up_and_the_assignment() -> None:
    rule = pool.DEFAULT_RULE
    followed = pool.max_time(NOW - timedelta(days=40), NOW - timedelta(days=10))
    assert pool.stale_reason(rule, NOW, followed_up=followed, held_since=NOW - timedelta(days=40)) is None
    reason = pool.stale_reason(rule, NOW, followed_up=NOW - timedelta(days=30), held_since=NOW - timedelta(days=30))
    assert reason is not None and reason.startswith("no follow-up for 30 days")
    assert pool.max_time(None, None) is None


def test_a_converted_record_is_only_held_to_the_inactivity_clock() -> None:
    rule = PoolRule(inactive_days=0, unconverted_days=90)
    long_ago = NOW - timedelta(days=120)
    assert pool.stale_reason(rule, NOW, followed_up=NOW, held_since=long_ago, converted=True) is None
    assert "90" in (pool.stale_reason(rule, NOW, followed_up=NOW, held_since=long_ago) or "")


def test_cut_offs_match_the_rule_and_a_zero_turns_a_clock_off() -> None:
    assert pool.cut_offs(PoolRule(inactive_days=30, unconverted_days=0), NOW) == (NOW - timedelta(days=30), None)
    assert pool.cut_offs(PoolRule(), NOW) == (None, None)
