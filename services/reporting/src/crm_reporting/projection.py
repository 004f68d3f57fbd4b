"""Applies contact events to the customer read model, and hands sales and support events to their
own projections. Runs inside the consumer's unit of work, so the inbox row and the effect commit
together."""
from __future__ import annotations

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1 import events_pb2 as contact_events
from crm.contacts.v1.contacts_pb2 import Contact
from crm_reporting import projection_sales, projection_support
from crm_reporting.tables import customer_tags, customers
from crmkit.db import UnitOfWork
from crmkit.events import unpack_payload, utcnow

CONTACT_SNAPSHOT_EVENTS = {
    "crm.contacts.contact.created",
    "crm.contacts.contact.updated",
    "crm.contacts.contact.tagged",
    "crm.contacts.contact.deleted",
    "crm.contacts.contact.merged",
}
_ = contact_events  # imported so the payload types are registered for unpacking

# Statements are built once and executed with parameters: building them per event (coercing every
# value, computing a cache key) cost more than the SQL they run.
_VERSION_OF = select(customers.c.version).where(customers.c.contact_id == bindparam("cid"))
_INSERT_CUSTOMER = insert(customers)
_UPDATE_CUSTOMER = update(customers).where(customers.c.contact_id == bindparam("cid"))
_DELETE_TAGS = delete(customer_tags).where(customer_tags.c.contact_id == bindparam("cid"))
_INSERT_TAGS = insert(customer_tags)


def handle(uow: UnitOfWork, env: EventEnvelope) -> None:
    """Dispatches by producer: contacts here, sales and support in their own modules."""
    if env.event_type.startswith("crm.sales."):
        projection_sales.handle(uow.session, env)
        return
    if env.event_type.startswith("crm.support."):
        projection_support.handle(uow.session, env)
        return
    if env.event_type not in CONTACT_SNAPSHOT_EVENTS:
        return  # not ours to count (interactions, accounts, other services' events)
    payload = unpack_payload(env)
    contact: Contact = payload.survivor if env.event_type.endswith(".merged") else payload.contact  # type: ignore[attr-defined]
    apply_snapshot(uow.session, contact)


def apply_snapshot(session: Session, contact: Contact) -> bool:
    """Upsert the snapshot unless we already hold the same or a newer version."""
    current = session.execute(_VERSION_OF, {"cid": contact.id}).scalar_one_or_none()
    if current is not None and current >= contact.version:
        return False
    values = {
        "version": contact.version,
        "owner_id": contact.owner_id,
        "team": contact.team,
        "region": contact.region,
        "source": contact.source or "unknown",
        "level": contact.level or "unknown",
        "created_day": contact.created_at.ToDatetime().date().isoformat(),
        "live": not contact.deleted,
    }
    if current is None:
        session.execute(_INSERT_CUSTOMER, {"contact_id": contact.id, "first_seen_at": utcnow(), **values})
        # no tags to clear: they are only written here, after their customer row, which is never deleted
    else:
        session.execute(_UPDATE_CUSTOMER, {"cid": contact.id, **values})
        session.execute(_DELETE_TAGS, {"cid": contact.id})
    if contact.tags and not contact.deleted:
        session.execute(_INSERT_TAGS, [{"contact_id": contact.id, "tag": t} for t in contact.tags])
    return True
