"""The event types a subscription may name: every event the producing services declare in their
contracts (`EventType` of each events.proto), named without the `crm.<service>.` prefix:
`opportunity.won` is `crm.sales.opportunity.won`. Read from the contracts, so a new event type
is subscribable as soon as its producer declares it."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crm.contacts.v1 import events_pb2 as contacts_events
from crm.marketing.v1 import events_pb2 as marketing_events
from crm.sales.v1 import events_pb2 as sales_events
from crm.support.v1 import events_pb2 as support_events
from crmkit.errors import InvalidArgument
from crmkit.events import EventTypes

PRODUCERS = ("contacts", "sales", "marketing", "support")
MAX_TYPES = 100


@dataclass(frozen=True)
class EventType:
    name: str
    subject: str
    producer: str


def _build() -> dict[str, EventType]:
    found: dict[str, EventType] = {}
    for module in (contacts_events, sales_events, marketing_events, support_events):
        for subject in sorted(EventTypes(module.EventType).all):
            _, producer, rest = subject.split(".", 2)
            if rest in found:  # two producers with one short name: both keep their full subject
                raise RuntimeError(f"event type {rest} is declared by {found[rest].producer} and {producer}")
            found[rest] = EventType(rest, subject, producer)
    return found


CATALOGUE = _build()
BY_SUBJECT = {t.subject: t for t in CATALOGUE.values()}


def name_of(subject: str) -> str | None:
    known = BY_SUBJECT.get(subject)
    return known.name if known else None


def check_types(names: Iterable[str], field: str = "event_types") -> list[str]:
    """The subscription's types, each known (the short name, or the full subject), no repeats."""
    chosen: list[str] = []
    for i, raw in enumerate(names):
        name = raw.strip()
        known = CATALOGUE.get(name) or BY_SUBJECT.get(name)
        if known is None:
            raise InvalidArgument(f"unknown event type {raw!r}; GET /api/v1/webhooks/event-types lists them",
                                  field=f"{field}[{i}]")
        if known.name not in chosen:
            chosen.append(known.name)
    if not chosen:
        raise InvalidArgument("name at least one event type", field=field)
    if len(chosen) > MAX_TYPES:
        raise InvalidArgument(f"at most {MAX_TYPES} event types", field=field)
    return chosen
