"""Events from the CONTACTS stream (the consumer owns the transaction and the inbox, so each event
takes effect once): the picklist vocabulary replaces sales' copy when it is newer, contact
snapshots keep the contact → email projection, and interactions
logged on a contact count as activity of the open leads with that contact's email (a note only as
a follow-up: it restarts the public pool's clock without scoring)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.common.v1.picklists_pb2 import Picklists
from crm.contacts.v1 import events_pb2 as ce
from crm.contacts.v1.contacts_pb2 import Contact
from crm_sales.rules.scoring import activity_for
from crm_sales.store import contact_emails
from crm_sales.store.picklists import PICKLISTS
from crm_sales.usecases import leads
from crmkit.auth import SYSTEM
from crmkit.db import UnitOfWork
from crmkit.event_runs import BatchHandler, Handler, in_runs
from crmkit.events import EventTypes, unpack_payload
from crmkit.records import dt

CONTACTS = EventTypes(ce.EventType)  # importing the module also registers the payload types for unpacking
SNAPSHOTS = frozenset({CONTACTS.CONTACT_CREATED, CONTACTS.CONTACT_UPDATED, CONTACTS.CONTACT_TAGGED,
                       CONTACTS.CONTACT_DELETED, CONTACTS.CONTACT_MERGED})
WANTED = SNAPSHOTS | {CONTACTS.INTERACTION_LOGGED, CONTACTS.PICKLIST_UPDATED}
_SNAPSHOT_PAYLOADS = (ce.ContactCreated, ce.ContactUpdated, ce.ContactTagged, ce.ContactDeleted)


def emails_of(contact: Contact, deleted: bool = False) -> list[str]:
    """A contact's emails as leads are matched on them (none once it is deleted)."""
    if deleted or contact.deleted:
        return []
    return [e.address.strip().lower() for e in contact.emails if e.address.strip()]


def _snapshot_of(env: EventEnvelope) -> Contact:
    payload = unpack_payload(env)
    if isinstance(payload, ce.ContactsMerged):
        return payload.survivor
    if isinstance(payload, _SNAPSHOT_PAYLOADS):
        return payload.contact
    raise ValueError(f"{env.event_type} carries a {type(payload).__name__}, not a contact snapshot")


def _emails_after(env: EventEnvelope) -> tuple[str, list[str]]:
    """The contact a snapshot event is about, and its emails as leads are matched on them."""
    contact = _snapshot_of(env)
    return contact.id, emails_of(contact, deleted=env.event_type == CONTACTS.CONTACT_DELETED)


def handle(uow: UnitOfWork, env: EventEnvelope, *, now: datetime) -> None:
    kind = env.event_type
    if kind == CONTACTS.PICKLIST_UPDATED:  # the vocabulary leads are checked against, newest wins
        vocabulary = unpack_payload(env)
        if not isinstance(vocabulary, Picklists):
            raise ValueError(f"{kind} carries a {type(vocabulary).__name__}, not a Picklists")
        PICKLISTS.apply(uow.session, vocabulary)
        return
    if kind in SNAPSHOTS:
        contact_emails.replace(uow.session, *_emails_after(env))
        return
    if kind != CONTACTS.INTERACTION_LOGGED:
        return  # accounts, timeline entries: not ours
    logged = unpack_payload(env)
    if not isinstance(logged, ce.InteractionLogged):
        raise ValueError(f"{kind} carries a {type(logged).__name__}, not an InteractionLogged")
    interaction = logged.interaction
    if not interaction.contact_id:
        return
    activity = activity_for(interaction.kind, interaction.direction)
    occurred = dt(interaction.occurred_at) if interaction.HasField("occurred_at") else None
    for lead_id in contact_emails.matching_leads(uow.session, interaction.contact_id):
        if activity is None:  # a note: no score, but a follow-up all the same (the pool's clock)
            leads.followed_up(uow, now=now, lead_id=lead_id, at=occurred or now)
            continue
        leads.record_activity(uow, principal=SYSTEM, now=now, lead_id=lead_id, kind=activity, count=1,
                              occurred_at=occurred)


def wants(event_type: str) -> bool:
    """The contact events `handle` acts on; the consumer acks the others untouched."""
    return event_type in WANTED


def handler(clock: Callable[[], datetime]) -> Handler:
    return lambda uow, env: handle(uow, env, now=clock())


def batch_handler(clock: Callable[[], datetime]) -> BatchHandler:
    """A consumer batch at once: runs of SNAPSHOTS (each contact once, crmkit.event_runs) as one
    replace of their emails, the other events one by one. A snapshot's only effect here is its
    contact's emails: leads are matched on them later, when an interaction is logged."""
    return in_runs(handler(clock), lambda uow, envs: contact_emails.replace_many(
        uow.session, [_emails_after(env) for env in envs]), SNAPSHOTS)
