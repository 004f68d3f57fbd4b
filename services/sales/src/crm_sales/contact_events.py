"""Consumes the contacts stream: keeps the contact → email projection, and turns interactions
logged on a contact into lead activity, so open leads with that contact's email are rescored.
Runs inside the consumer's unit of work with its inbox: each event takes effect once."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1 import events_pb2 as contact_events
from crm.contacts.v1.contacts_pb2 import Contact
from crm_devtools.users import DEMO_USERS
from crm_sales import leads, store
from crm_sales.common import Clock
from crm_sales.tables import contact_emails
from crm_sales.tables import leads as leads_table
from crmkit.config import ServiceSettings
from crmkit.consumer import Handler
from crmkit.db import Database, UnitOfWork
from crmkit.events import unpack_payload

SYSTEM = DEMO_USERS["system"]
OPEN_STATUSES = ("new", "working", "nurturing")
INTERACTION_LOGGED = "crm.contacts.interaction.logged"
CONTACT_SNAPSHOTS = {
    "crm.contacts.contact.created",
    "crm.contacts.contact.updated",
    "crm.contacts.contact.tagged",
    "crm.contacts.contact.deleted",
    "crm.contacts.contact.merged",
}
_ = contact_events  # imported so the payload types are registered for unpacking

# Statements are built once and executed with parameters: building them per event (coercing every
# value, computing a cache key) cost more than the SQL they run.
_DELETE_EMAILS = delete(contact_emails).where(contact_emails.c.contact_id == bindparam("cid"))
_INSERT_EMAILS = insert(contact_emails)
_EMAILS_OF = select(contact_emails.c.email).where(contact_emails.c.contact_id == bindparam("cid"))
_MATCHING_LEADS = (
    select(leads_table.c.id)
    .where(leads_table.c.email.in_(_EMAILS_OF), leads_table.c.email != "", leads_table.c.status.in_(OPEN_STATUSES))
    .order_by(leads_table.c.seq)
)


def activity_for(kind: str, direction: str) -> str | None:
    """The lead activity an interaction counts as; None when it does not count (notes, unknown)."""
    if kind == "email":
        return {"inbound": "inbound_email", "outbound": "outbound_email"}.get(direction)
    if kind in ("call", "meeting"):
        return kind
    return None


def apply_contact(session: Session, contact: Contact, deleted: bool = False) -> None:
    """Replace the contact's emails with the snapshot's (none when it was deleted)."""
    session.execute(_DELETE_EMAILS, {"cid": contact.id})
    if deleted or contact.deleted:
        return
    emails = sorted({e.address.strip().lower() for e in contact.emails if e.address.strip()})
    if emails:
        session.execute(_INSERT_EMAILS, [{"contact_id": contact.id, "email": e} for e in emails])


def matching_leads(session: Session, contact_id: str) -> list[str]:
    """Ids of the open leads whose email is one of the contact's. (A lead's converted_contact_id is
    only ever set together with status "converted", so it cannot match an open lead.)"""
    return list(session.execute(_MATCHING_LEADS, {"cid": contact_id}).scalars())


def handle(uow: UnitOfWork, env: EventEnvelope, clock: Clock) -> None:
    if env.event_type in CONTACT_SNAPSHOTS:
        payload = unpack_payload(env)
        if env.event_type.endswith(".merged"):
            apply_contact(uow.session, payload.survivor)  # type: ignore[attr-defined]
        else:
            apply_contact(uow.session, payload.contact,  # type: ignore[attr-defined]
                          deleted=env.event_type.endswith(".deleted"))
        return
    if env.event_type != INTERACTION_LOGGED:
        return  # accounts, timeline entries, other streams: not ours
    interaction = unpack_payload(env).interaction  # type: ignore[attr-defined]
    kind = activity_for(interaction.kind, interaction.direction)
    if kind is None or not interaction.contact_id:
        return
    occurred = store.dt(interaction.occurred_at) if interaction.HasField("occurred_at") else None
    now = clock()
    for lead_id in matching_leads(uow.session, interaction.contact_id):
        leads.record_activity(uow, SYSTEM, lead_id, kind, 1, occurred, now)


def wants(event_type: str) -> bool:
    """The contact events `handle` acts on; the consumer acks the others untouched."""
    return event_type in CONTACT_SNAPSHOTS or event_type == INTERACTION_LOGGED


def make_handler(clock: Clock) -> Callable[[Database, ServiceSettings], Handler]:
    def handler(db: Database, settings: ServiceSettings) -> Handler:
        return lambda uow, env: handle(uow, env, clock)
    return handler
