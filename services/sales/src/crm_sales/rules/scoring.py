"""Lead scoring: declarative rules evaluated over a lead's fields and activity counters. Pure:
the score and its breakdown ("why 65") come from the lead, the rules and the time."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from crm.sales.v1.sales_pb2 import Lead, ScoreItem, ScoringRule
from crmkit.errors import InvalidArgument

KINDS = ("field_equals", "field_present", "per_activity", "inactive_days")
LEAD_FIELDS = ("industry", "source", "province", "city", "region", "company_size", "title", "budget",
               "email", "phone", "company", "campaign_id")
ACTIVITIES = ("inbound_email", "outbound_email", "call", "meeting", "web_visit", "form_submit")
# Counted as the lead showing interest: resets the inactivity clock.
ENGAGING = ("inbound_email", "call", "meeting", "web_visit", "form_submit")

DEFAULT_RULES: tuple[ScoringRule, ...] = (
    ScoringRule(id="industry_manufacturing", kind="field_equals", field="industry",
                values=["manufacturing", "制造业"], points=20, description="industry is manufacturing"),
    ScoringRule(id="stated_budget", kind="field_present", field="budget", points=15,
                description="has a stated budget"),
    ScoringRule(id="large_company", kind="field_equals", field="company_size", values=["201-1000", "1000+"],
                points=10, description="company has more than 200 employees"),
    ScoringRule(id="referral", kind="field_equals", field="source", values=["referral"], points=10,
                description="came through a referral"),
    ScoringRule(id="reachable_by_phone", kind="field_present", field="phone", points=5,
                description="has a phone number"),
    ScoringRule(id="inbound_email", kind="per_activity", activity="inbound_email", points=10, max_points=50,
                description="inbound email"),
    ScoringRule(id="form_submit", kind="per_activity", activity="form_submit", points=5, max_points=20,
                description="form submitted"),
    ScoringRule(id="web_visit", kind="per_activity", activity="web_visit", points=1, max_points=10,
                description="web visit"),
    ScoringRule(id="inactive_30_days", kind="inactive_days", days=30, points=-15,
                description="no activity for more than 30 days"),
)


def validate_rules(rules: Sequence[ScoringRule]) -> None:
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        where = f"scoring_rules[{i}]"
        if not rule.id or rule.id in seen:
            raise InvalidArgument("each rule needs a unique id", field=f"{where}.id")
        seen.add(rule.id)
        if rule.kind not in KINDS:
            raise InvalidArgument(f"must be one of {', '.join(KINDS)}", field=f"{where}.kind")
        if rule.kind in ("field_equals", "field_present") and rule.field not in LEAD_FIELDS:
            raise InvalidArgument(f"must be one of {', '.join(LEAD_FIELDS)}", field=f"{where}.field")
        if rule.kind == "field_equals" and not rule.values:
            raise InvalidArgument("field_equals needs values", field=f"{where}.values")
        if rule.kind == "per_activity" and rule.activity not in ACTIVITIES:
            raise InvalidArgument(f"must be one of {', '.join(ACTIVITIES)}", field=f"{where}.activity")
        if rule.kind == "inactive_days" and rule.days <= 0:
            raise InvalidArgument("days must be positive", field=f"{where}.days")
        if rule.points == 0:
            raise InvalidArgument("a rule must give or take points", field=f"{where}.points")


def _label(rule: ScoringRule) -> str:
    return rule.description or rule.id


def last_activity(lead: Lead) -> datetime:
    ts = lead.last_activity_at if lead.HasField("last_activity_at") else lead.created_at
    return ts.ToDatetime(tzinfo=UTC)


def evaluate(lead: Lead, rules: Sequence[ScoringRule], now: datetime) -> tuple[int, list[ScoreItem]]:
    """The score and one ScoreItem per rule that contributed. Scores are not clamped: a negative
    score is information too."""
    items: list[ScoreItem] = []
    for rule in rules:
        points = 0
        reason = _label(rule)
        if rule.kind == "field_equals":
            value = str(getattr(lead, rule.field, "")).strip().casefold()
            if value and value in {v.strip().casefold() for v in rule.values}:
                points = rule.points
        elif rule.kind == "field_present":
            if str(getattr(lead, rule.field, "")).strip():
                points = rule.points
        elif rule.kind == "per_activity":
            count = lead.activity.get(rule.activity, 0)
            if count:
                points = rule.points * count
                if rule.max_points:
                    points = max(min(points, rule.max_points), -abs(rule.max_points))
                reason = f"{count} × {_label(rule)}"
        elif rule.kind == "inactive_days" and now - last_activity(lead) > timedelta(days=rule.days):
            points = rule.points
        if points:
            items.append(ScoreItem(rule_id=rule.id, reason=reason, points=points))
    return sum(i.points for i in items), items


def apply(lead: Lead, rules: Sequence[ScoringRule], now: datetime) -> bool:
    """Recompute in place; True when the score or its breakdown changed."""
    score, items = evaluate(lead, rules, now)
    if score == lead.score and list(lead.score_breakdown) == items:
        return False
    lead.score = score
    del lead.score_breakdown[:]
    lead.score_breakdown.extend(items)
    return True


def next_decay_at(lead: Lead, rules: Sequence[ScoringRule]) -> datetime | None:
    """When an inactivity rule will next change this lead's score (the scheduler rescores then)."""
    days = sorted(r.days for r in rules if r.kind == "inactive_days")
    return last_activity(lead) + timedelta(days=days[0], seconds=1) if days else None


def activity_for(kind: str, direction: str) -> str | None:
    """The lead activity an interaction logged in contacts counts as; None when it does not count
    (notes, unknown kinds or directions)."""
    if kind == "email":
        return {"inbound": "inbound_email", "outbound": "outbound_email"}.get(direction)
    if kind in ("call", "meeting"):
        return kind
    return None
