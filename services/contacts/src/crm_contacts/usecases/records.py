"""Accounts and contacts: create, read, update, delete, list, and ownership transfers. The two
share their rules, so each function takes the record, or its kind (`Contact` or `Account`).
`visible` and `record_changed` are the access check and the event + audit row every record write
uses."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import Account, Contact, ListFilter
from crm_contacts import store
from crm_contacts.events import CONTACTS, emit
from crm_contacts.rules import pool as pool_rules
from crm_contacts.rules import records as rules
from crm_contacts.rules.visibility import VISIBILITY, masked
from crm_contacts.store import R, Record, entity_of
from crm_contacts.store.picklists import PICKLISTS
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from crmkit.records import bump, check_version, new_id, stamp_new
from crmkit.visibility import check_assignable, check_scope

CREATORS = ("rep", "manager", "marketing")
SERVICE_ROLE = "service"  # a service calling on its own behalf (crmkit.auth.SYSTEM), not a user
# (entity, action) → (event type, payload carrying the record after the change)
_EVENTS: dict[tuple[str, str], tuple[str, type[Message]]] = {
    ("contact", "created"): (CONTACTS.CONTACT_CREATED, ev.ContactCreated),
    ("contact", "updated"): (CONTACTS.CONTACT_UPDATED, ev.ContactUpdated),
    ("contact", "deleted"): (CONTACTS.CONTACT_DELETED, ev.ContactDeleted),
    ("contact", "tagged"): (CONTACTS.CONTACT_TAGGED, ev.ContactTagged),
    ("contact", "merged"): (CONTACTS.CONTACT_MERGED, ev.ContactsMerged),
    ("account", "created"): (CONTACTS.ACCOUNT_CREATED, ev.AccountCreated),
    ("account", "updated"): (CONTACTS.ACCOUNT_UPDATED, ev.AccountUpdated),
    ("account", "deleted"): (CONTACTS.ACCOUNT_DELETED, ev.AccountDeleted),
}


def record_changed(uow: UnitOfWork, *, principal: Principal, now: datetime, action: str, record: Record,
                   payload: Message | None = None, detail: str = "") -> None:
    """The event (the record's snapshot, unless `payload` says more) and the audit row of a change."""
    entity = entity_of(record)
    event_type, payload_type = _EVENTS[(entity, action)]
    emit(uow, principal, event_type, record.id, record.version,
         payload if payload is not None else payload_type(**{entity: record}), now)
    store.audit(uow.session, at=now, actor=principal.user_id, action=action, entity=entity,
                entity_id=record.id, detail=detail)


def visible(session: Session, *, principal: Principal, kind: type[R], record_id: str, write: bool = False) -> R:
    """The live record, or NOT_FOUND when it is missing, deleted or not visible (no leak)."""
    if not record_id:
        raise InvalidArgument("id is required", field="id")
    record = store.load(session, kind, record_id, for_update=write)  # writers queue, none reads stale
    if record is None or record.deleted or not VISIBILITY.can_read(principal, record.owner_id, record.team,
                                                                   record.region):
        raise NotFound(f"{store.entity_name(kind)} {record_id} not found", field="id")
    if write and not VISIBILITY.can_write(principal, record.owner_id, record.team, record.region):
        raise PermissionDenied(f"you may read but not change this {store.entity_name(kind)}")
    return record


def _readable(session: Session, principal: Principal, kind: type[Contact] | type[Account], record_id: str) -> bool:
    record = store.load(session, kind, record_id)
    return record is not None and not record.deleted and VISIBILITY.can_read(
        principal, record.owner_id, record.team, record.region)


def _check_account(session: Session, principal: Principal, record: Record) -> None:
    """A contact joins only an account its author may see: NOT_FOUND otherwise, as for a missing one."""
    account_id = getattr(record, "account_id", "")
    if account_id and not _readable(session, principal, Account, account_id):
        raise NotFound(f"account {account_id} not found", field="account_id")


def get_record(session: Session, *, principal: Principal, kind: type[R], record_id: str) -> R:
    return masked(principal, visible(session, principal=principal, kind=kind, record_id=record_id))


def list_records(session: Session, *, principal: Principal, kind: type[R], filter: ListFilter, page_size: int,
                 page_token: str) -> tuple[list[R], str]:
    vocabulary = PICKLISTS.current(session)  # a typo answers 400, a retired key still finds its records
    vocabulary.check_filter("source", filter.source, "source")
    vocabulary.check_filter("level", filter.level, "level")
    found, token = store.list_records(session, kind, principal, filter, page_size, page_token)
    return [masked(principal, r) for r in found], token


def create_record(uow: UnitOfWork, *, principal: Principal, now: datetime, record: R, allow_duplicate: bool) -> R:
    entity = entity_of(record)
    if not principal.has_role(*CREATORS):
        raise PermissionDenied(f"your role cannot create a {entity}")
    if isinstance(record, Contact) and record.consents:
        raise InvalidArgument("consents are recorded with RecordConsent, one decision at a time, "
                              "not on create", field="consents")
    rules.check_limits(record)
    vocabulary = PICKLISTS.current(uow.session)
    # A service's own create (role `service`: marketing's consent contact of a form, support's
    # contact of a new sender) names the value it means; one an administrator retired since is
    # settled here, never refused: the caller's record must not be lost. A user's is still a 400.
    kept = rules.settle_service_values(record, vocabulary) if SERVICE_ROLE in principal.roles else []
    rules.normalize(record, vocabulary)
    record.owner_id = record.owner_id or principal.user_id
    record.team = record.team or principal.team
    record.region = record.region or principal.region
    check_assignable(principal, record.owner_id)
    check_scope(principal, team=record.team, region=record.region)
    _check_account(uow.session, principal, record)
    rules.check_custom_fields(record.custom_fields, store.definitions(uow.session, entity), creating=True)
    if not allow_duplicate:
        store.lock_identities(uow.session, record)  # racing creates of one phone queue here
        existing = store.find_duplicates(uow.session, record)
        if existing:
            # Name the existing record only to someone who may see it (no existence leak of its id).
            kind: type[Contact] | type[Account] = Contact if isinstance(record, Contact) else Account
            seen = next((i for i in existing if _readable(uow.session, principal, kind, i)), "")
            raise AlreadyExists(
                f"{'an' if entity == 'account' else 'a'} {entity} with the same phone or email exists"
                + (f": {seen}" if seen else "")
                + " (set allow_duplicate to create anyway)",
                field="phones" if record.phones else "emails" if record.emails else "social_identities",
                **({"existing_id": seen} if seen else {}),
            )
    record.id = new_id()  # the id is the server's (OUTPUT_ONLY), whatever the caller sent
    stamp_new(record, now)
    if isinstance(record, Account):
        pool_rules.give(record, record.owner_id, now)  # the public pool's clock starts with its owner
    store.insert_record(uow.session, record)
    record_changed(uow, principal=principal, now=now, action="created", record=record,
                   detail=f"kept as sent (not an active value): {', '.join(kept)}" if kept else "")
    return record


def update_record(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: R, mask: Sequence[str],
                  expected_version: int) -> R:
    entity = entity_of(patch)
    record = visible(uow.session, principal=principal, kind=type(patch), record_id=patch.id, write=True)
    check_version(record.version, expected_version)
    paths = rules.update_paths(record, mask)
    rules.check_limits(patch, paths)
    before = record.SerializeToString(deterministic=True)
    stored = type(record).FromString(before)  # picklist values it already holds stay valid (retired ones too)
    before_team, before_region, before_account = record.team, record.region, getattr(record, "account_id", "")
    before_owner = record.owner_id
    rules.apply_patch(record, patch, paths)
    if isinstance(record, Account) and record.owner_id != before_owner:
        pool_rules.give(record, record.owner_id, now)  # a new owner: out of the pool, their clock starts
    rules.normalize(record, PICKLISTS.current(uow.session), stored)
    if "owner_id" in paths:
        check_assignable(principal, record.owner_id)
    check_scope(principal, team=record.team, region=record.region, before_team=before_team,
                before_region=before_region)
    if getattr(record, "account_id", "") != before_account:
        _check_account(uow.session, principal, record)
    rules.check_custom_fields(record.custom_fields, store.definitions(uow.session, entity), creating=False)
    if record.SerializeToString(deterministic=True) == before:
        return record  # nothing changed: no new version, no event
    bump(record, now)
    store.update_record(uow.session, record)
    changed = sorted(set(paths))
    payload = _EVENTS[(entity, "updated")][1](**{entity: record}, changed_fields=changed)
    record_changed(uow, principal=principal, now=now, action="updated", record=record, payload=payload,
                   detail=",".join(changed))
    return record


def delete_record(uow: UnitOfWork, *, principal: Principal, now: datetime, kind: type[Record], record_id: str,
                  expected_version: int) -> None:
    record = visible(uow.session, principal=principal, kind=kind, record_id=record_id, write=True)
    check_version(record.version, expected_version)
    record.deleted = True
    bump(record, now)
    store.update_record(uow.session, record)
    record_changed(uow, principal=principal, now=now, action="deleted", record=record)


def transfer_owner(uow: UnitOfWork, *, principal: Principal, now: datetime, kind: type[Record], record_id: str,
                   from_user: str, to_user: str, reason: str) -> bool:
    """Sales moved a leaving rep's work to another rep: the customers follow, as a normal update
    with a new version and an event. Only records the leaving rep still owns move (a customer
    reassigned since keeps its owner); a repeated transfer changes nothing."""
    record = store.load(uow.session, kind, record_id, for_update=True)
    if record is None or record.deleted or record.owner_id != from_user or not to_user:
        return False
    record.owner_id = to_user
    if isinstance(record, Account):
        pool_rules.give(record, to_user, now)
    bump(record, now)
    store.update_record(uow.session, record)
    entity = entity_of(record)
    payload = _EVENTS[(entity, "updated")][1](**{entity: record}, changed_fields=["owner_id"])
    record_changed(uow, principal=principal, now=now, action="updated", record=record, payload=payload,
                   detail=f"owner {from_user} -> {to_user}; {reason}")
    return True
