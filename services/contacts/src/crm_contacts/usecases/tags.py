"""Tags on a contact: added and removed in one change, normalized, with their own event."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import Contact
from crm_contacts import store
from crm_contacts.rules.records import normalize_tags
from crm_contacts.usecases.records import record_changed, visible
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.records import bump


def tag_contact(uow: UnitOfWork, *, principal: Principal, now: datetime, contact_id: str, add: Sequence[str],
                remove: Sequence[str]) -> Contact:
    contact = visible(uow.session, principal=principal, kind=Contact, record_id=contact_id, write=True)
    added = [t for t in normalize_tags(add, "add") if t not in contact.tags]
    removing = set(normalize_tags(remove, "remove"))
    removed = [t for t in contact.tags if t in removing]
    if not added and not removed:
        return contact  # nothing changes: no new version, no event
    kept = [t for t in contact.tags if t not in removing]
    del contact.tags[:]
    contact.tags.extend(normalize_tags([*kept, *added]))
    bump(contact, now)
    store.update_record(uow.session, contact)
    record_changed(uow, principal=principal, now=now, action="tagged", record=contact,
                   payload=ev.ContactTagged(contact=contact, added=added, removed=removed))
    return contact
