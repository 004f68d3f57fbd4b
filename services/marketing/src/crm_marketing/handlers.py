"""Events from the CONTACTS stream into marketing's projection (the consumer owns the transaction
and the inbox, so each event takes effect once). Every contact event carries the snapshot after
the change, consent changes included, so one rule serves them all: the newest version wins."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1 import events_pb2 as ce
from crm_marketing.usecases import projection
from crmkit.consumer import Handler
from crmkit.db import UnitOfWork
from crmkit.events import EventTypes, unpack_payload

CONTACTS = EventTypes(ce.EventType)  # importing the module also registers the payload types for unpacking
SNAPSHOTS = frozenset({CONTACTS.CONTACT_CREATED, CONTACTS.CONTACT_UPDATED, CONTACTS.CONTACT_TAGGED,
                       CONTACTS.CONTACT_DELETED, CONTACTS.CONSENT_CHANGED})
WANTED = SNAPSHOTS | {CONTACTS.CONTACT_MERGED}
_SNAPSHOT_PAYLOADS = (ce.ContactCreated, ce.ContactUpdated, ce.ContactTagged, ce.ContactDeleted, ce.ConsentChanged)


def handle(uow: UnitOfWork, env: EventEnvelope, *, now: datetime) -> None:
    kind = env.event_type
    if kind not in WANTED:
        return
    payload = unpack_payload(env)
    if isinstance(payload, ce.ContactsMerged):
        projection.apply_contact(uow.session, payload.survivor, now)
        projection.merged_away(uow.session, [i for i in payload.merged_ids if i != payload.survivor.id], now)
        return
    if not isinstance(payload, _SNAPSHOT_PAYLOADS):
        raise ValueError(f"{kind} carries a {type(payload).__name__}, not a contact snapshot")
    projection.apply_contact(uow.session, payload.contact, now, deleted=kind == CONTACTS.CONTACT_DELETED)


def wants(event_type: str) -> bool:
    """The contact events `handle` acts on; the consumer acks the others untouched."""
    return event_type in WANTED


def handler(clock: Callable[[], datetime]) -> Handler:
    return lambda uow, env: handle(uow, env, now=clock())
