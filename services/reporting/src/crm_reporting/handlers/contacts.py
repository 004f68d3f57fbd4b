"""Contact events → the customer read model (one row per contact at its newest version, plus
its tags). Every contact event carries the full snapshot after the change. Account events keep
whether each account waits in its team's public pool (公海), and each pool move is counted once."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1 import events_pb2 as contact_events
from crm.contacts.v1.contacts_pb2 import Account, Contact
from crm_reporting.handlers.sales import apply_pool_move
from crm_reporting.store import rollups, upsert_newest
from crm_reporting.tables import account_pool, customer_tags, customers
from crmkit.events import EventTypes, unpack_payload

CONTACTS = EventTypes(contact_events.EventType)

# Statements are built once and executed with parameters: building them per event (coercing every
# value, computing a cache key) cost more than the SQL they run. Not store.upsert_newest: a new
# customer also gets first_seen_at, and a changed one its tags replaced.
_VERSION_OF = select(customers.c.version).where(customers.c.contact_id == bindparam("cid"))
_INSERT_CUSTOMER = insert(customers)
UPDATE_CUSTOMER = update(customers).where(customers.c.contact_id == bindparam("cid"))
DELETE_TAGS = delete(customer_tags).where(customer_tags.c.contact_id == bindparam("cid"))
_INSERT_TAGS = insert(customer_tags)


def snapshot_of(env: EventEnvelope) -> Contact:
    payload = unpack_payload(env)
    # unpack_payload is typed Message; every contact event's payload has `contact` (merged: `survivor`)
    merged = env.event_type == CONTACTS.CONTACT_MERGED
    return payload.survivor if merged else payload.contact  # type: ignore[attr-defined,no-any-return]


def contact_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_snapshot(session, snapshot_of(env), now=now)


def customer_values(contact: Contact) -> dict[str, Any]:
    """The customer row's columns a snapshot sets (besides its id and first_seen_at)."""
    return {
        "version": contact.version,
        "owner_id": contact.owner_id,
        "team": contact.team,
        "region": contact.region,
        "source": contact.source or "unknown",
        "level": contact.level or "unknown",
        "created_day": contact.created_at.ToDatetime().date().isoformat(),
        "live": not contact.deleted,
    }


def apply_snapshot(session: Session, contact: Contact, *, now: datetime) -> bool:
    """Upsert the snapshot unless we already hold the same or a newer version. `now` is kept as
    first_seen_at when the read model first holds the customer: event lag = it - the write's ack."""
    current = session.execute(_VERSION_OF, {"cid": contact.id}).scalar_one_or_none()
    if current is not None and current >= contact.version:
        return False
    before = rollups.customer_row(session, contact.id) if current is not None else None
    values = customer_values(contact)
    if current is None:
        session.execute(_INSERT_CUSTOMER, {"contact_id": contact.id, "first_seen_at": now, **values})
        # no tags to clear: they are only written here, after their customer row, which is never deleted
    else:
        session.execute(UPDATE_CUSTOMER, {"cid": contact.id, **values})
        session.execute(DELETE_TAGS, {"cid": contact.id})
    if contact.tags and not contact.deleted:
        session.execute(_INSERT_TAGS, [{"contact_id": contact.id, "tag": t} for t in contact.tags])
    after = {"contact_id": contact.id, **values, "tags": [] if contact.deleted else list(contact.tags)}
    for rollup in ROLLUPS:
        rollups.apply(session, rollup, before, after)
    return True


ROLLUPS = (rollups.CUSTOMERS, rollups.CUSTOMER_TAGS, rollups.TAGGED_CUSTOMERS)


POOL_MOVES = frozenset({CONTACTS.ACCOUNT_POOL_RETURNED, CONTACTS.ACCOUNT_POOL_RELEASED,
                        CONTACTS.ACCOUNT_POOL_CLAIMED, CONTACTS.ACCOUNT_POOL_ASSIGNED})


def account_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    payload = unpack_payload(env)
    account: Account = payload.account  # type: ignore[attr-defined]  # every account event carries it
    upsert_newest(session, account_pool, account_pool.c.account_id, account.id, account.version, {
        "team": account.team, "region": account.region, "in_pool": account.in_pool and not account.deleted})
    if env.event_type in POOL_MOVES:
        apply_pool_move(session, env.event_id, payload.move, team=account.team,  # type: ignore[attr-defined]
                        region=account.region)


# Every contact event is a snapshot (created, updated, tagged, deleted, merged); interactions are
# not customers to count; accounts only for the pool.
# contact_changed reads none of a snapshot's personal fields (name, phones, emails, ...: crmkit.
# shredding.PERSONAL): these events reach reporting sealed, without a key fetch and a decryption each.
SEALED_UNREAD = frozenset(CONTACTS.of_aggregate("contact"))

APPLIES: dict[str, Callable[[Session, EventEnvelope, datetime], None]] = {
    **dict.fromkeys(CONTACTS.of_aggregate("contact"), contact_changed),
    **dict.fromkeys(CONTACTS.of_aggregate("account"), account_changed),
}
