"""Support's event types, read from its contract (`EventType` in crm/support/v1/events.proto),
and the emitter that writes them to the unit of work's outbox."""
from __future__ import annotations

from crm.support.v1 import events_pb2
from crmkit.events import Emitter, EventTypes

SUPPORT = EventTypes(events_pb2.EventType)
emit = Emitter("support", SUPPORT)
