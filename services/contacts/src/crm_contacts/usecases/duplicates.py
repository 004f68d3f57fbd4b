"""Duplicate contacts: found by a normalized phone or email, and merged into one survivor."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import Contact, TimelineEntry
from crm_contacts import store
from crm_contacts.rules import records as rules
from crm_contacts.rules.visibility import VISIBILITY, masked
from crm_contacts.store import consents as consent_store
from crm_contacts.store.picklists import PICKLISTS
from crm_contacts.usecases.records import record_changed, visible
from crm_contacts.usecases.spend import move_spend
from crmkit import limits
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound
from crmkit.records import bump, new_id


def find_duplicates(session: Session, *, principal: Principal, candidate: Contact) -> list[Contact]:
    candidate.name = candidate.name or "candidate"  # only phones and emails matter here
    for field in rules.CONTACT_PICKLISTS:  # nor a picklist value: a retired one must not refuse the lookup
        candidate.ClearField(field)
    rules.check_limits(candidate)
    rules.normalize_contact(candidate, PICKLISTS.current(session))
    found: list[Contact] = []
    matches = store.find_duplicates(session, candidate, exclude=[candidate.id])
    for record_id in matches[:limits.MAX_DUPLICATE_MATCHES]:
        record = store.load(session, Contact, record_id)
        if record is not None and VISIBILITY.can_read(principal, record.owner_id, record.team,
                                                               record.region):
            found.append(masked(principal, record))
    return found


def merge_contacts(uow: UnitOfWork, *, principal: Principal, now: datetime, survivor_id: str,
                   merged_ids: Sequence[str]) -> Contact:
    """Everything of the merged contacts moves onto the survivor; they are retired with a pointer
    to it, and who merged what is recorded."""
    if not merged_ids:
        raise InvalidArgument("name at least one contact to merge", field="merged_ids")
    limits.check_count("merged_ids", merged_ids, limits.MAX_MERGE)
    if survivor_id in merged_ids or len(set(merged_ids)) != len(merged_ids):
        raise InvalidArgument("merged_ids must be distinct and exclude the survivor", field="merged_ids")
    survivor = visible(uow.session, principal=principal, kind=Contact, record_id=survivor_id, write=True)
    consents_changed = False
    for i, other_id in enumerate(merged_ids):
        try:
            other = visible(uow.session, principal=principal, kind=Contact, record_id=other_id, write=True)
        except NotFound as exc:
            raise NotFound(exc.message, field=f"merged_ids[{i}]") from None
        consents_changed |= "consents" in rules.merge_into(survivor, other)
        store.record_merge(uow.session, survivor, other, by=principal.user_id, at=now)
        store.move_timeline(uow.session, other.id, survivor.id)
        move_spend(uow, from_contact=other.id, to_contact=survivor.id)
        other.deleted = True
        other.merged_into_id = survivor.id
        bump(other, now)
        store.update_record(uow.session, other)
        record_changed(uow, principal=principal, now=now, action="deleted", record=other,
                       detail=f"merged into {survivor.id}")
    bump(survivor, now)
    store.update_record(uow.session, survivor)
    if consents_changed:  # the later decision per purpose of all the records (history stays where it was)
        consent_store.replace_current(uow.session, survivor.id, survivor.consents)
    entry = TimelineEntry(
        id=new_id(), contact_id=survivor.id, kind="merged", author_id=principal.user_id,
        summary=f"merged {len(merged_ids)} duplicate record(s): {', '.join(merged_ids)}",
        source_service="contacts",
    )
    entry.occurred_at.FromDatetime(now)
    store.add_timeline_entry(uow.session, entry)
    record_changed(uow, principal=principal, now=now, action="merged", record=survivor,
                   payload=ev.ContactsMerged(survivor=survivor, merged_ids=list(merged_ids),
                                             merged_by=principal.user_id),
                   detail=",".join(merged_ids))
    return survivor
