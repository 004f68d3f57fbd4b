"""Use cases of the contacts service: the rules of each command, run inside one unit of work.
Accounts and contacts share most rules, so most functions take the entity name."""
from __future__ import annotations

import uuid
from collections.abc import Sequence

from google.protobuf.message import Message
from sqlalchemy import insert
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import Actor
from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import (
    Account,
    Contact,
    CustomFieldDefinition,
    Interaction,
    TimelineEntry,
)
from crm_contacts import rules, store
from crm_contacts.tables import audit_log, merges
from crm_contacts.visibility import can_read, can_write, check_assignable
from crmkit import logs
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PermissionDenied
from crmkit.events import new_event, utcnow

Record = Contact | Account
SERVER_OWNED = {"id", "version", "created_at", "updated_at", "deleted", "merged_into_id"}
_EVENTS: dict[tuple[str, str], type[Message]] = {
    ("contact", "created"): ev.ContactCreated,
    ("contact", "updated"): ev.ContactUpdated,
    ("contact", "deleted"): ev.ContactDeleted,
    ("contact", "tagged"): ev.ContactTagged,
    ("account", "created"): ev.AccountCreated,
    ("account", "updated"): ev.AccountUpdated,
    ("account", "deleted"): ev.AccountDeleted,
}


_AUDIT = insert(audit_log)


def actor_of(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, roles=list(principal.roles), team=principal.team,
                 region=principal.region)


def _emit(uow: UnitOfWork, principal: Principal, entity: str, action: str, record: Record,
          payload: Message | None = None, detail: str = "") -> None:
    if payload is None:
        payload = _EVENTS[(entity, action)](**{entity: record})
    uow.emit(new_event(
        producer="contacts", event_type=f"crm.contacts.{entity}.{action}", aggregate_type=entity,
        aggregate_id=record.id, aggregate_version=record.version, payload=payload,
        actor=actor_of(principal), correlation_id=logs.request_id_var.get(),
    ))
    uow.session.execute(_AUDIT, {
        "at": utcnow(), "actor": principal.user_id, "action": action, "entity": entity, "entity_id": record.id,
        "detail": detail[:2000],
    })


def _normalize(entity: str, record: Record) -> None:
    if entity == "contact":
        rules.normalize_contact(record)  # type: ignore[arg-type]
    else:
        rules.normalize_account(record)  # type: ignore[arg-type]


def _visible(session: Session, principal: Principal, entity: str, record_id: str, *, write: bool = False) -> Record:
    """The live record, or NOT_FOUND when it is missing, deleted or not visible (no leak)."""
    if not record_id:
        raise InvalidArgument("id is required", field="id")
    record = store.load(session, entity, record_id, for_update=write)  # writers queue, none reads stale
    if record is None or record.deleted or not can_read(principal, record.owner_id, record.team, record.region):
        raise NotFound(f"{entity} {record_id} not found", field="id")
    if write and not can_write(principal, record.owner_id, record.team, record.region):
        raise PermissionDenied(f"you may read but not change this {entity}")
    return record


def get_record(session: Session, principal: Principal, entity: str, record_id: str) -> Record:
    return _visible(session, principal, entity, record_id)


def create_record(uow: UnitOfWork, principal: Principal, entity: str, record: Record, *, allow_duplicate: bool) -> Record:
    if not principal.has_role("rep", "manager", "marketing"):
        raise PermissionDenied(f"your role cannot create a {entity}")
    _normalize(entity, record)
    record.owner_id = record.owner_id or principal.user_id
    record.team = record.team or principal.team
    record.region = record.region or principal.region
    check_assignable(principal, record.owner_id)
    rules.check_custom_fields(record.custom_fields, store.definitions(uow.session, entity), creating=True)
    if not allow_duplicate:
        store.lock_identities(uow.session, entity, record)  # racing creates of one phone queue here
        existing = store.find_duplicates(uow.session, entity, record)
        if existing:
            raise AlreadyExists(
                f"a {entity} with the same phone or email exists: {existing[0]}"
                " (set allow_duplicate to create anyway)",
                field="phones" if record.phones else "emails", existing_id=existing[0],
            )
    now = utcnow()
    record.id = str(uuid.uuid4())
    record.version = 1
    record.created_at.FromDatetime(now)
    record.updated_at.FromDatetime(now)
    store.insert_record(uow.session, entity, record)
    _emit(uow, principal, entity, "created", record)
    return record


def _check_version(record: Record, expected: int) -> None:
    if expected and expected != record.version:
        raise Conflict(
            f"version {expected} is stale, the record is at version {record.version}",
            field="If-Match", current_version=record.version,
        )


def _bump(record: Record) -> None:
    record.version += 1
    record.updated_at.FromDatetime(utcnow())


def update_record(uow: UnitOfWork, principal: Principal, entity: str, patch: Record,
                  mask: Sequence[str], expected_version: int) -> Record:
    record = _visible(uow.session, principal, entity, patch.id, write=True)
    _check_version(record, expected_version)
    fields = {f.name for f in record.DESCRIPTOR.fields}
    paths = [p.split(".")[0] for p in mask]
    if not paths:
        raise InvalidArgument("nothing to update: the update mask is empty", field="update_mask")
    for path in paths:
        if path not in fields:
            raise InvalidArgument(f"unknown field '{path}'", field=path)
        if path in SERVER_OWNED:
            raise InvalidArgument(f"'{path}' is set by the server", field=path)
    before = record.SerializeToString(deterministic=True)
    for path in paths:
        record.ClearField(path)
        descriptor = record.DESCRIPTOR.fields_by_name[path]
        value = getattr(patch, path)
        if descriptor.message_type is not None and not descriptor.is_repeated:
            getattr(record, path).CopyFrom(value)
        elif descriptor.is_repeated:
            container = getattr(record, path)
            if descriptor.message_type is not None and descriptor.message_type.GetOptions().map_entry:
                container.update(value)
            else:
                container.extend(value)
        else:
            setattr(record, path, value)
    _normalize(entity, record)
    if "owner_id" in paths:
        check_assignable(principal, record.owner_id)
    rules.check_custom_fields(record.custom_fields, store.definitions(uow.session, entity), creating=False)
    if record.SerializeToString(deterministic=True) == before:
        return record  # nothing changed: no new version, no event
    _bump(record)
    store.update_record(uow.session, entity, record)
    payload = _EVENTS[(entity, "updated")](**{entity: record}, changed_fields=sorted(set(paths)))
    _emit(uow, principal, entity, "updated", record, payload, detail=",".join(sorted(set(paths))))
    return record


def delete_record(uow: UnitOfWork, principal: Principal, entity: str, record_id: str, expected_version: int) -> None:
    record = _visible(uow.session, principal, entity, record_id, write=True)
    _check_version(record, expected_version)
    record.deleted = True
    _bump(record)
    store.update_record(uow.session, entity, record)
    _emit(uow, principal, entity, "deleted", record)


def list_records(session: Session, principal: Principal, entity: str, flt, page_size: int, page_token: str):  # noqa: ANN001, ANN201
    return store.list_records(session, entity, principal, flt, page_size, page_token)


def tag_contact(uow: UnitOfWork, principal: Principal, contact_id: str, add: Sequence[str], remove: Sequence[str]) -> Contact:
    contact: Contact = _visible(uow.session, principal, "contact", contact_id, write=True)  # type: ignore[assignment]
    added = [t for t in rules.normalize_tags(add, "add") if t not in contact.tags]
    removing = set(rules.normalize_tags(remove, "remove"))
    removed = [t for t in contact.tags if t in removing]
    if not added and not removed:
        return contact
    kept = [t for t in contact.tags if t not in removing]
    del contact.tags[:]
    contact.tags.extend(rules.normalize_tags([*kept, *added]))
    _bump(contact)
    store.update_record(uow.session, "contact", contact)
    _emit(uow, principal, "contact", "tagged", contact,
          ev.ContactTagged(contact=contact, added=added, removed=removed))
    return contact


def merge_contacts(uow: UnitOfWork, principal: Principal, survivor_id: str, merged_ids: Sequence[str]) -> Contact:
    """Everything of the merged contacts moves onto the survivor; they are retired with a pointer
    to it, and who merged what is recorded."""
    if not merged_ids:
        raise InvalidArgument("name at least one contact to merge", field="merged_ids")
    if survivor_id in merged_ids or len(set(merged_ids)) != len(merged_ids):
        raise InvalidArgument("merged_ids must be distinct and exclude the survivor", field="merged_ids")
    survivor: Contact = _visible(uow.session, principal, "contact", survivor_id, write=True)  # type: ignore[assignment]
    now = utcnow()
    for i, other_id in enumerate(merged_ids):
        try:
            other: Contact = _visible(uow.session, principal, "contact", other_id, write=True)  # type: ignore[assignment]
        except NotFound as exc:
            raise NotFound(exc.message, field=f"merged_ids[{i}]") from None
        rules.merge_into(survivor, other)
        uow.session.execute(insert(merges).values(
            survivor_id=survivor.id, merged_id=other.id, merged_by=principal.user_id, merged_at=now,
            merged_snapshot=other.SerializeToString(),
        ))
        store.move_timeline(uow.session, other.id, survivor.id)
        other.deleted = True
        other.merged_into_id = survivor.id
        _bump(other)
        store.update_record(uow.session, "contact", other)
        _emit(uow, principal, "contact", "deleted", other, detail=f"merged into {survivor.id}")
    _bump(survivor)
    store.update_record(uow.session, "contact", survivor)
    entry = TimelineEntry(
        id=str(uuid.uuid4()), contact_id=survivor.id, kind="merged", author_id=principal.user_id,
        summary=f"merged {len(merged_ids)} duplicate record(s): {', '.join(merged_ids)}",
        source_service="contacts",
    )
    entry.occurred_at.FromDatetime(now)
    store.add_timeline_entry(uow.session, entry)
    _emit(uow, principal, "contact", "merged", survivor,
          ev.ContactsMerged(survivor=survivor, merged_ids=list(merged_ids), merged_by=principal.user_id),
          detail=",".join(merged_ids))
    return survivor


def find_duplicates(session: Session, principal: Principal, candidate: Contact) -> list[Contact]:
    candidate.name = candidate.name or "candidate"  # only phones and emails matter here
    rules.normalize_contact(candidate)
    found = []
    for record_id in store.find_duplicates(session, "contact", candidate, exclude=[candidate.id]):
        record = store.load(session, "contact", record_id)
        if record and can_read(principal, record.owner_id, record.team, record.region):
            found.append(record)
    return found  # type: ignore[return-value]


def log_interaction(uow: UnitOfWork, principal: Principal, interaction: Interaction) -> Interaction:
    if interaction.kind not in rules.INTERACTION_KINDS:
        raise InvalidArgument(f"must be one of {', '.join(rules.INTERACTION_KINDS)}", field="kind")
    if not (interaction.content.strip() or interaction.subject.strip()):
        raise InvalidArgument("an interaction needs a subject or content", field="content")
    if len(interaction.content) > 20000:
        raise InvalidArgument("content is at most 20000 characters", field="content")
    contact: Contact = _visible(uow.session, principal, "contact", interaction.contact_id)  # type: ignore[assignment]
    if principal.has_role("finance") and not principal.is_admin:
        raise PermissionDenied("finance cannot record conversations")
    interaction.id = str(uuid.uuid4())
    interaction.author_id = principal.user_id
    interaction.account_id = interaction.account_id or contact.account_id
    if not interaction.HasField("occurred_at"):
        interaction.occurred_at.FromDatetime(utcnow())
    entry = TimelineEntry(
        id=interaction.id, contact_id=contact.id, kind=interaction.kind, occurred_at=interaction.occurred_at,
        author_id=principal.user_id, summary=interaction.subject or interaction.content[:140],
        source_service="contacts", reference_id=interaction.id, interaction=interaction,
    )
    store.add_timeline_entry(uow.session, entry)
    uow.emit(new_event(
        producer="contacts", event_type="crm.contacts.interaction.logged", aggregate_type="contact",
        aggregate_id=contact.id, aggregate_version=contact.version,
        payload=ev.InteractionLogged(interaction=interaction), actor=actor_of(principal),
        correlation_id=logs.request_id_var.get(),
    ))
    return interaction


def list_timeline(session: Session, principal: Principal, contact_id: str, page_size: int, page_token: str):  # noqa: ANN201
    contact = _visible(session, principal, "contact", contact_id)
    entries, token = store.list_timeline(session, [contact.id], page_size, page_token)
    if principal.has_role("finance") and not principal.is_admin:
        for entry in entries:  # finance sees that a conversation happened, not what was said
            entry.interaction.content = ""
    return entries, token


def transfer_owner(uow: UnitOfWork, principal: Principal, entity: str, record_id: str, from_user: str,
                   to_user: str, *, reason: str) -> bool:
    """Sales moved a leaving rep's work to another rep: the customers follow, as a normal update
    with a new version and an event. Only records the leaving rep still owns move (a customer
    reassigned since keeps its owner); a repeated transfer changes nothing."""
    record = store.load(uow.session, entity, record_id, for_update=True)
    if record is None or record.deleted or record.owner_id != from_user or not to_user:
        return False
    record.owner_id = to_user
    _bump(record)
    store.update_record(uow.session, entity, record)
    payload = _EVENTS[(entity, "updated")](**{entity: record}, changed_fields=["owner_id"])
    _emit(uow, principal, entity, "updated", record, payload, detail=f"owner {from_user} -> {to_user}; {reason}")
    return True


def add_foreign_timeline_entry(session: Session, entry: TimelineEntry) -> bool:
    """Put another service's entry on its contact's timeline (the survivor's, when the contact was
    merged away); once per entry id. False when the contact is not ours or is deleted."""
    contact = store.load(session, "contact", entry.contact_id)
    hops = 0
    while contact is not None and contact.deleted and contact.merged_into_id and hops < 10:
        contact = store.load(session, "contact", contact.merged_into_id)
        hops += 1
    if contact is None or contact.deleted or store.timeline_entry_exists(session, entry.id):
        return False
    entry.contact_id = contact.id
    store.add_timeline_entry(session, entry)
    return True


def define_custom_field(uow: UnitOfWork, principal: Principal, definition: CustomFieldDefinition) -> CustomFieldDefinition:
    if not principal.is_admin:
        raise PermissionDenied("only an admin can define custom fields")
    rules.check_definition(definition)
    store.save_definition(uow.session, definition)
    return definition
