"""The event types of this service's contract (`EventType` in crm/contacts/v1/events.proto), its
emitter, and the types of the sales and support events it consumes, all read from the contracts.
Importing the producers' `events_pb2` also registers their payload types for unpacking."""
from __future__ import annotations

from crm.contacts.v1 import events_pb2
from crm.sales.v1 import events_pb2 as sales_events
from crm.support.v1 import events_pb2 as support_events
from crmkit.events import Emitter, EventTypes

CONTACTS = EventTypes(events_pb2.EventType)
SALES = EventTypes(sales_events.EventType)
SUPPORT = EventTypes(support_events.EventType)

emit = Emitter("contacts", CONTACTS)
