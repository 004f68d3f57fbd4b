"""Event-triggered rules, pure: which event types a rule may name (any service's contract event
type, read with crmkit.events.EventTypes, or web.visit), what a rule must hold, whether a
contact's touches fire it, and which contacts an event of another service is about."""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from crm.contacts.v1 import events_pb2 as ce
from crm.marketing.v1 import events_pb2 as me
from crm.marketing.v1.marketing_pb2 import AutomationRule, RuleEvent
from crm.sales.v1 import events_pb2 as se
from crm.support.v1 import events_pb2 as te
from crm_marketing.rules.eligibility import DEFAULT_PURPOSE
from crmkit.consent_purposes import check_purpose
from crmkit.errors import InvalidArgument
from crmkit.events import EventTypes

WEB_VISIT = "web.visit"
MARKETING = EventTypes(me.EventType)
# Marketing's own events about a contact, recorded as touches where they happen.
OWN = frozenset({MARKETING.EMAIL_OPENED, MARKETING.EMAIL_CLICKED, MARKETING.EMAIL_UNSUBSCRIBED,
                 MARKETING.FORM_SUBMITTED})
# Other services' events reach marketing on their streams (handlers.STREAMS).
OTHERS = EventTypes(ce.EventType).all | EventTypes(se.EventType).all | EventTypes(te.EventType).all
KNOWN = OTHERS | OWN | {WEB_VISIT}
WITH_URL = frozenset({WEB_VISIT, MARKETING.EMAIL_CLICKED})
STATUSES = ("active", "paused")
MAX_COUNT, MAX_DAYS, MAX_UNLESS = 100, 365, 5


def _check_event(event: RuleEvent, at: str) -> None:
    event.event_type = event.event_type.strip()
    if event.event_type not in KNOWN:
        raise InvalidArgument(f"{event.event_type or 'an empty type'} is no event type of a contract: name one like "
                              "crm.support.ticket.created, crm.marketing.email.clicked or web.visit",
                              field=f"{at}.event_type")
    event.url_pattern = event.url_pattern.strip()
    if event.url_pattern and event.event_type not in WITH_URL:
        raise InvalidArgument("a URL pattern is for web.visit and crm.marketing.email.clicked", field=f"{at}.url_pattern")
    if len(event.url_pattern) > 500:
        raise InvalidArgument("at most 500 characters", field=f"{at}.url_pattern")


def check(rule: AutomationRule) -> None:
    """Every client-given field of a rule about to be saved; normalizes in place."""
    rule.name = rule.name.strip()
    if not rule.name:
        raise InvalidArgument("a rule needs a name", field="name")
    _check_event(rule.trigger, "trigger")
    rule.count = rule.count or 1
    rule.within_days = rule.within_days or 7
    if not 1 <= rule.count <= MAX_COUNT:
        raise InvalidArgument(f"count is between 1 and {MAX_COUNT}", field="count")
    if not 1 <= rule.within_days <= MAX_DAYS:
        raise InvalidArgument(f"within_days is between 1 and {MAX_DAYS}", field="within_days")
    if len(rule.unless) > MAX_UNLESS:
        raise InvalidArgument(f"at most {MAX_UNLESS} events in unless", field="unless")
    for i, event in enumerate(rule.unless):
        _check_event(event, f"unless[{i}]")
    rule.template_id, rule.sequence_id = rule.template_id.strip(), rule.sequence_id.strip()
    if bool(rule.template_id) == bool(rule.sequence_id):
        raise InvalidArgument("a rule does one thing: send a template_id or enrol in a sequence_id", field="template_id")
    rule.status = rule.status or "active"
    if rule.status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", field="status")
    rule.purpose = check_purpose(rule.purpose, "purpose", DEFAULT_PURPOSE)


def kinds_of(rule: AutomationRule) -> set[str]:
    return {rule.trigger.event_type, *(e.event_type for e in rule.unless)}


def matches(event: RuleEvent, kind: str, url: str) -> bool:
    """A touch of this kind and URL is one the rule counts: the pattern is a glob on the URL's
    path when it starts with /, else on the whole URL."""
    if kind != event.event_type:
        return False
    if not event.url_pattern:
        return True
    target = (urlsplit(url).path or "/") if event.url_pattern.startswith("/") else url
    return fnmatch.fnmatchcase(target, event.url_pattern)


@dataclass(frozen=True)
class Seen:
    kind: str
    url: str
    at: datetime


def fires(rule: AutomationRule, touches: Iterable[Seen], at: datetime) -> bool:
    """`count` touches of the trigger within `within_days` up to `at`, and none of `unless`."""
    since = at - timedelta(days=rule.within_days)
    window = [t for t in touches if since <= t.at <= at]
    if any(matches(u, t.kind, t.url) for u in rule.unless for t in window):
        return False
    return sum(matches(rule.trigger, t.kind, t.url) for t in window) >= rule.count


def may_fire_again(last_fired: datetime | None, rule: AutomationRule, at: datetime) -> bool:
    """Once per contact per window: not again within `within_days` of its last firing."""
    return last_fired is None or at - last_fired >= timedelta(days=rule.within_days)


def about(payload: Message, depth: int = 3) -> tuple[list[str], list[str]]:
    """(contact ids, emails) an event's payload names: a contact snapshot's id, any contact_id
    field, and a lead's or a ticket requester's email, a few levels down."""
    ids: list[str] = []
    emails: list[str] = []

    def walk(message: Message, level: int) -> None:
        descriptor = message.DESCRIPTOR
        if descriptor.full_name == "crm.contacts.v1.Contact":
            contact_id = getattr(message, "id", "")
            if contact_id:
                ids.append(contact_id)
            return
        for field, value in message.ListFields():
            if field.type == FieldDescriptor.TYPE_STRING and not field.is_repeated:
                if field.name == "contact_id" and value:
                    ids.append(value)
                elif field.name in ("email", "requester_email") and value and descriptor.name in ("Lead", "Ticket"):
                    emails.append(value.strip().lower())
            elif field.type == FieldDescriptor.TYPE_MESSAGE and level < depth and not field.is_repeated:
                walk(value, level + 1)

    walk(payload, 0)
    return list(dict.fromkeys(ids)), list(dict.fromkeys(emails))


def referenced(rules: Sequence[AutomationRule]) -> frozenset[str]:
    return frozenset(k for r in rules for k in kinds_of(r))
