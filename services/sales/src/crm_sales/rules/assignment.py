"""Lead assignment: territory / source rules tried by priority, then round-robin or least-load
among the rule's active reps. Pure: the caller supplies reps, open-lead counts and cursors."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crm.sales.v1.sales_pb2 import AssignmentRule, Lead, SalesRep
from crmkit.errors import InvalidArgument

STRATEGIES = ("round_robin", "load")
DEFAULT_RESPONSE_HOURS = 24


@dataclass(frozen=True)
class Assignment:
    rule_id: str
    owner_id: str
    team: str
    response_hours: int


def validate_rules(rules: Sequence[AssignmentRule]) -> None:
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        where = f"assignment_rules[{i}]"
        if not rule.id or rule.id in seen:
            raise InvalidArgument("each rule needs a unique id", field=f"{where}.id")
        seen.add(rule.id)
        if rule.strategy not in STRATEGIES:
            raise InvalidArgument(f"must be one of {', '.join(STRATEGIES)}", field=f"{where}.strategy")
        if not rule.members and not rule.team:
            raise InvalidArgument("name members or a team", field=f"{where}.members")
        if rule.response_hours < 0:
            raise InvalidArgument("must not be negative", field=f"{where}.response_hours")


def matches(rule: AssignmentRule, lead: Lead) -> bool:
    return (
        (not rule.regions or lead.region in rule.regions)
        and (not rule.provinces or lead.province in rule.provinces)
        and (not rule.sources or lead.source in rule.sources)
    )


def candidates(rule: AssignmentRule, reps: Mapping[str, SalesRep], exclude: Sequence[str] = ()) -> list[SalesRep]:
    """The rule's active reps in a stable order (members as listed, else the team by user id)."""
    if rule.members:
        pool = [reps[m] for m in rule.members if m in reps]
    else:
        pool = sorted((r for r in reps.values() if r.team == rule.team), key=lambda r: r.user_id)
    return [r for r in pool if r.active and r.user_id not in exclude]


def pick(rule: AssignmentRule, pool: Sequence[SalesRep], open_leads: Mapping[str, int], last_user_id: str) -> SalesRep:
    if rule.strategy == "load":
        # Fewest open leads; ties go round-robin so equal loads still rotate.
        fewest = min(open_leads.get(r.user_id, 0) for r in pool)
        pool = [r for r in pool if open_leads.get(r.user_id, 0) == fewest]
    ids = [r.user_id for r in pool]
    if last_user_id in ids:
        return pool[(ids.index(last_user_id) + 1) % len(pool)]
    members = list(rule.members)
    if last_user_id in members:
        # The last one went inactive or has more load: continue after their place in the list.
        after = members[members.index(last_user_id) + 1:]
        for member in after:
            if member in ids:
                return pool[ids.index(member)]
    return pool[0]


def assign(
    lead: Lead,
    rules: Sequence[AssignmentRule],
    reps: Mapping[str, SalesRep],
    open_leads: Mapping[str, int],
    cursors: Mapping[str, str],
    exclude: Sequence[str] = (),
) -> Assignment | None:
    """The first matching rule with an active rep decides; None when no rule can place the lead."""
    for rule in sorted(rules, key=lambda r: (r.priority, r.id)):
        if not matches(rule, lead):
            continue
        pool = candidates(rule, reps, exclude)
        if not pool:
            continue  # everyone in this territory is away: the next rule may still place it
        rep = pick(rule, pool, open_leads, cursors.get(rule.id, ""))
        return Assignment(rule.id, rep.user_id, rep.team or rule.team,
                          rule.response_hours or DEFAULT_RESPONSE_HOURS)
    return None
