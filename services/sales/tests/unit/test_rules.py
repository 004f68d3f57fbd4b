"""Pure rules, no I/O: scoring, assignment, quote totals, stage criteria, approval routing."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import AssignmentRule, Lead, Opportunity, Quote, QuoteLine, SalesRep
from crm_sales.rules import approval_policy, assignment, pipeline, quoting, scoring
from crmkit.auth import Principal
from crmkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def lead(**fields: object) -> Lead:
    item = Lead(**fields)
    item.created_at.FromDatetime(NOW)
    return item


def test_score_explains_each_rule_and_caps_activity() -> None:
    score, items = scoring.evaluate(lead(industry="制造业", activity={"inbound_email": 9}), scoring.DEFAULT_RULES, NOW)
    assert score == 20 + 50
    assert [(i.rule_id, i.points) for i in items] == [("industry_manufacturing", 20), ("inbound_email", 50)]


def test_thirty_days_without_activity_costs_fifteen_points() -> None:
    quiet = lead(industry="manufacturing")
    assert scoring.evaluate(quiet, scoring.DEFAULT_RULES, NOW + timedelta(days=30))[0] == 20
    assert scoring.evaluate(quiet, scoring.DEFAULT_RULES, NOW + timedelta(days=31))[0] == 5
    assert scoring.next_decay_at(quiet, scoring.DEFAULT_RULES) == NOW + timedelta(days=30, seconds=1)


def test_a_scoring_rule_on_an_unknown_field_is_refused() -> None:
    from crm.sales.v1.sales_pb2 import ScoringRule

    with pytest.raises(InvalidArgument) as err:
        scoring.validate_rules([ScoringRule(id="x", kind="field_present", field="salary", points=5)])
    assert err.value.field == "scoring_rules[0].field"


REPS = {u: SalesRep(user_id=u, team="north", active=u != "c") for u in ("a", "b", "c", "d")}


def test_round_robin_skips_inactive_reps_and_wraps() -> None:
    rule = AssignmentRule(id="r", strategy="round_robin", members=["a", "b", "c", "d"])
    picks, last = [], ""
    for _ in range(4):
        chosen = assignment.assign(Lead(), [rule], REPS, {}, {"r": last})
        assert chosen is not None
        picks.append(last := chosen.owner_id)
    assert picks == ["a", "b", "d", "a"]


def test_load_strategy_picks_the_rep_with_fewest_open_leads() -> None:
    rule = AssignmentRule(id="r", strategy="load", team="north")
    chosen = assignment.assign(Lead(), [rule], REPS, {"a": 5, "b": 2, "d": 3}, {})
    assert chosen is not None and chosen.owner_id == "b"


def test_territory_rules_match_by_province_before_falling_through() -> None:
    rules = [AssignmentRule(id="gd", priority=1, provinces=["广东"], strategy="round_robin", members=["d"]),
             AssignmentRule(id="any", priority=2, strategy="round_robin", members=["a"])]
    assert assignment.assign(Lead(province="广东"), rules, REPS, {}, {}).owner_id == "d"  # type: ignore[union-attr]
    assert assignment.assign(Lead(province="北京"), rules, REPS, {}, {}).owner_id == "a"  # type: ignore[union-attr]
    assert assignment.assign(Lead(), rules[:1], REPS, {}, {}) is None


def quote(*lines: tuple[str, str, str], discount: str = "", tax: str = "0.13") -> Quote:
    q = Quote(currency_code="CNY", discount_percent=discount, tax_rate=tax)
    for qty, price, pct in lines:
        q.lines.append(QuoteLine(name="x", quantity=qty, unit_price=Money(currency_code="CNY", amount=price),
                                 discount_percent=pct))
    quoting.compute_totals(q)
    return q


def test_totals_are_exact_to_the_cent_half_up() -> None:
    q = quote(("3", "19999.99", "10"), ("1.5", "333.33", ""), discount="5")
    assert [line.net.amount for line in q.lines] == ["53999.97", "500.00"]   # 499.995 rounds up
    assert (q.subtotal.amount, q.discount_total.amount, q.tax_total.amount, q.total.amount) == (
        "60499.97", "8725.00", "6730.75", "58505.72")
    assert q.effective_discount_percent == "14.42"


def test_float_traps_do_not_leak_into_totals() -> None:
    q = quote(*[("1", "0.10", "")] * 3, tax="0")
    assert q.total.amount == "0.30"   # 0.1 + 0.1 + 0.1 as floats is 0.30000000000000004


def test_a_quote_line_in_another_currency_is_refused() -> None:
    q = Quote(currency_code="CNY", lines=[QuoteLine(name="x", quantity="1",
                                                    unit_price=Money(currency_code="USD", amount="1"))])
    with pytest.raises(InvalidArgument) as err:
        quoting.compute_totals(q)
    assert err.value.field == "lines[0].unit_price.currency_code"


def test_numbers_are_zero_padded_per_year() -> None:
    assert quoting.quote_number(2026, 123) == "Q-2026-000123"


def opp(stage: str, **fields: object) -> Opportunity:
    return Opportunity(stage=stage, **fields)


def test_a_demo_without_budget_is_refused_naming_the_field() -> None:
    with pytest.raises(FailedPrecondition) as err:
        pipeline.check_change(opp("needs_confirmed"), pipeline.DEFAULT_PIPELINE, "solution_demo", pipeline.Facts())
    assert err.value.field == "budget" and "方案演示" in err.value.message
    budget = Money(currency_code="CNY", amount="1000.00")
    stage = pipeline.check_change(opp("needs_confirmed", budget=budget), pipeline.DEFAULT_PIPELINE,
                                  "solution_demo", pipeline.Facts())
    assert stage.probability == 40


def test_quote_stage_needs_an_approved_quote_and_lost_needs_a_reason() -> None:
    with pytest.raises(FailedPrecondition, match="approved"):
        pipeline.check_change(opp("solution_demo"), pipeline.DEFAULT_PIPELINE, "quote_submitted", pipeline.Facts())
    pipeline.check_change(opp("solution_demo"), pipeline.DEFAULT_PIPELINE, "quote_submitted",
                          pipeline.Facts(has_approved_quote=True))
    with pytest.raises(FailedPrecondition) as err:
        pipeline.check_change(opp("solution_demo"), pipeline.DEFAULT_PIPELINE, "closed_lost", pipeline.Facts())
    assert err.value.field == "loss_reason"


def test_time_in_stage_is_recorded_when_leaving_it() -> None:
    o = opp("")
    pipeline.enter_stage(o, pipeline.DEFAULT_PIPELINE.stages[0], NOW, "u")
    spent = pipeline.enter_stage(o, pipeline.DEFAULT_PIPELINE.stages[1], NOW + timedelta(days=3), "u")
    assert spent == 3 * 86400 and o.stage_history[0].seconds == spent
    assert (o.probability, o.forecast_category) == (20, "pipeline")


def test_approval_route_follows_the_policies_in_order() -> None:
    q = quote(("1", "1000", "20"))
    q.special_terms = "net 90"
    steps = approval_policy.required_steps(q, approval_policy.DEFAULT_POLICIES)
    assert [(s.approver_role, s.status) for s in steps] == [("manager", "pending"), ("legal", "waiting"),
                                                            ("finance", "waiting")]
    assert approval_policy.required_steps(quote(("1", "1000", "10")), approval_policy.DEFAULT_POLICIES) == []


def test_a_rejection_ends_the_request_and_needs_a_comment() -> None:
    from crm.sales.v1.sales_pb2 import ApprovalRequest

    request = ApprovalRequest(id="a", requested_by="rep", team="north", status="pending",
                              steps=approval_policy.required_steps(quote(("1", "1000", "20")), approval_policy.DEFAULT_POLICIES))
    manager = Principal("m", ("manager",), "north", "north")
    with pytest.raises(InvalidArgument):
        approval_policy.decide(request, manager, False, "", NOW)
    with pytest.raises(PermissionDenied):
        approval_policy.decide(request, Principal("f", ("finance",)), True, "", NOW)
    approval_policy.decide(request, manager, False, "折扣太高", NOW)
    assert request.status == "rejected" and [s.status for s in request.steps] == ["rejected", "skipped"]


def test_a_withdrawn_request_still_holding_a_pending_step_takes_no_decision() -> None:
    # As requests withdrawn before their steps were closed are stored.
    from crm.sales.v1.sales_pb2 import ApprovalRequest

    request = ApprovalRequest(id="a", requested_by="rep", team="north", status="withdrawn",
                              steps=approval_policy.required_steps(quote(("1", "1000", "20")), approval_policy.DEFAULT_POLICIES))
    with pytest.raises(FailedPrecondition) as refused:
        approval_policy.decide(request, Principal("m", ("manager",), "north", "north"), True, "", NOW)
    assert refused.value.field == "id" and "withdrawn" in refused.value.message
    assert request.status == "withdrawn" and request.steps[0].status == "pending"
