"""Marketing's event types, read from its contract (`EventType` in crm/marketing/v1/events.proto),
and the emitter that writes them to the unit of work's outbox."""
from __future__ import annotations

from crm.marketing.v1 import events_pb2
from crmkit.events import Emitter, EventTypes

MARKETING = EventTypes(events_pb2.EventType)
emit = Emitter("marketing", MARKETING)
