"""Status flow, routing rules and agent selection."""
from __future__ import annotations

import pytest

from crm.support.v1.support_pb2 import RoutingRule, Ticket
from crm_support.rules import routing
from crm_support.rules import tickets as rules
from crmkit.errors import FailedPrecondition, InvalidArgument


@pytest.mark.parametrize("old,new", [("new", "open"), ("open", "pending"), ("pending", "open"),
                                     ("open", "solved"), ("solved", "closed"), ("solved", "open")])
def test_allowed_transitions(old: str, new: str) -> None:
    rules.check_transition(old, new)


@pytest.mark.parametrize("old,new", [("closed", "open"), ("new", "closed"), ("pending", "pending")])
def test_refused_transitions(old: str, new: str) -> None:
    with pytest.raises(FailedPrecondition):
        rules.check_transition(old, new)


def test_unknown_status_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as info:
        rules.check_transition("open", "done")
    assert info.value.field == "status"


def test_new_ticket_defaults_and_language() -> None:
    ticket = Ticket(subject="  打印机无法连接  ")
    rules.normalize_new(ticket)
    assert (ticket.subject, ticket.type, ticket.priority, ticket.status, ticket.language) == (
        "打印机无法连接", "question", "normal", "new", "zh")


RULES = [
    RoutingRule(id="vip", customer_levels=["vip"], group="vip-desk", agents=["a1"]),
    RoutingRule(id="billing", keywords=["发票", "invoice"], group="billing", agents=["b1", "b2", "b3"],
                strategy="round_robin"),
    RoutingRule(id="en-urgent", languages=["en"], priorities=["urgent"], group="l2", agents=["c1", "c2"],
                strategy="least_loaded"),
]


def test_first_matching_rule_wins() -> None:
    assert routing.first_match(RULES, Ticket(subject="发票抬头错了", customer_level="vip")).id == "vip"
    assert routing.first_match(RULES, Ticket(subject="需要重开发票", customer_level="regular")).id == "billing"
    assert routing.first_match(RULES, Ticket(subject="Server down", language="en", priority="urgent")).id == "en-urgent"
    assert routing.first_match(RULES, Ticket(subject="Server down", language="en", priority="normal")) is None


def test_round_robin_and_least_loaded() -> None:
    billing, l2 = RULES[1], RULES[2]
    assert routing.pick_agent(billing, "", {}) == "b1"
    assert routing.pick_agent(billing, "b1", {}) == "b2"
    assert routing.pick_agent(billing, "b3", {}) == "b1"
    assert routing.pick_agent(l2, "", {"c1": 4, "c2": 1}) == "c2"
    assert routing.pick_agent(l2, "", {"c1": 1, "c2": 1}) == "c1"


@pytest.mark.parametrize("given,kept", [("zh-CN", "zh"), ("EN", "en"), ("en_US", "en"), ("zh", "zh")])
def test_a_new_tickets_language_is_zh_or_en(given: str, kept: str) -> None:
    ticket = Ticket(subject="printer", language=given)
    rules.normalize_new(ticket)
    assert ticket.language == kept


def test_a_new_ticket_in_an_unknown_language_is_refused_naming_it() -> None:
    # It was kept as typed: no routing rule's languages ever matched it.
    with pytest.raises(InvalidArgument) as info:
        rules.normalize_new(Ticket(subject="printer", language="klingon"))
    assert info.value.field == "language"


def test_a_blank_tag_is_refused_naming_it() -> None:
    with pytest.raises(InvalidArgument) as info:
        rules.normalize_new(Ticket(subject="printer", tags=["vip", " "]))
    assert info.value.field == "tags[1]"


@pytest.mark.parametrize("condition,field", [({"priorities": ["urgent", "urgnet"]}, "routing_rules[0].priorities[1]"),
                                             ({"languages": ["zh-CN"]}, "routing_rules[0].languages[0]"),
                                             ({"channels": ["wechatt"]}, "routing_rules[0].channels[0]"),
                                             ({"types": ["bug"]}, "routing_rules[0].types[0]")])
def test_a_routing_condition_outside_the_vocabulary_is_refused_naming_it(condition: dict[str, list[str]],
                                                                          field: str) -> None:
    # It was saved, and the rule never matched a ticket.
    with pytest.raises(InvalidArgument) as info:
        routing.check_rules([RoutingRule(id="r", group="desk", **condition)])
    assert info.value.field == field


def test_routing_conditions_in_the_vocabulary_are_kept() -> None:
    routing.check_rules([RoutingRule(id="r", group="desk", types=["incident"], priorities=["urgent"],
                                     channels=["wechat"], languages=["en"])])
