"""The events sales publishes (stream SALES), as its contract declares them in
crm/sales/v1/events.proto: `emit(uow, principal, SALES.LEAD_CREATED, lead.id, lead.version,
ev.LeadCreated(lead=lead), now)` writes one to the unit of work's outbox."""
from __future__ import annotations

from crm.sales.v1 import events_pb2
from crmkit.events import Emitter, EventTypes

SALES = EventTypes(events_pb2.EventType)
emit = Emitter("sales", SALES)
