"""Routing rules, pure: the first rule (in order) whose conditions all hold picks the group and
an agent, round-robin after the last one it picked or the least loaded."""
from __future__ import annotations

from collections.abc import Mapping

from crm.support.v1.support_pb2 import RoutingRule, Ticket
from crm_support.rules.tickets import CHANNELS, LANGUAGES, PRIORITIES, TYPES
from crmkit.errors import InvalidArgument

STRATEGIES = ("round_robin", "least_loaded")
# A condition's values are compared with the ticket's as stored: a value outside the vocabulary
# ("urgnet", "zh-CN") would make the rule match nothing, silently.
_VOCABULARIES = {"types": TYPES, "priorities": PRIORITIES, "channels": CHANNELS, "languages": LANGUAGES}


def check_rules(rules: list[RoutingRule]) -> None:
    ids = [r.id for r in rules]
    for i, rule in enumerate(rules):
        if not rule.id or ids.count(rule.id) > 1:
            raise InvalidArgument("every rule needs a unique id", field=f"routing_rules[{i}].id")
        if rule.strategy and rule.strategy not in STRATEGIES:
            raise InvalidArgument(f"strategy must be one of {', '.join(STRATEGIES)}",
                                  field=f"routing_rules[{i}].strategy")
        if not rule.group and not rule.agents:
            raise InvalidArgument("a rule routes to a group, agents or both", field=f"routing_rules[{i}]")
        for name, allowed in _VOCABULARIES.items():
            for j, value in enumerate(getattr(rule, name)):
                if value not in allowed:
                    raise InvalidArgument(f"must be one of {', '.join(allowed)}",
                                          field=f"routing_rules[{i}].{name}[{j}]")


def matches(rule: RoutingRule, ticket: Ticket) -> bool:
    def within(values: object, value: str) -> bool:
        return not values or value in values  # type: ignore[operator]  # values is a repeated proto field, which supports `in`

    if not (within(rule.types, ticket.type) and within(rule.priorities, ticket.priority)
            and within(rule.customer_levels, ticket.customer_level) and within(rule.languages, ticket.language)
            and within(rule.channels, ticket.channel)):
        return False
    if rule.keywords:
        text = f"{ticket.subject}\n{ticket.description}".lower()
        return any(k.lower() in text for k in rule.keywords if k)
    return True


def first_match(rules: list[RoutingRule], ticket: Ticket) -> RoutingRule | None:
    return next((r for r in rules if matches(r, ticket)), None)


def pick_agent(rule: RoutingRule, last_agent: str, load: Mapping[str, int]) -> str:
    """The agent for the next ticket of this rule ("" when the rule names none)."""
    agents = list(rule.agents)
    if not agents:
        return ""
    if rule.strategy == "least_loaded":
        return min(agents, key=lambda a: (load.get(a, 0), agents.index(a)))
    if last_agent in agents:
        return agents[(agents.index(last_agent) + 1) % len(agents)]
    return agents[0]
