"""Persistence for contacts and accounts: snapshots plus filter columns, tags, identities and
matchable custom field values kept in step on every save; the timeline, merges, custom field
definitions and the audit log. Plain functions over a SQLAlchemy session; hot statements are
built once. Segments, consents and spend have their modules beside this one."""
from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Select, Table, and_, bindparam, delete, exists, insert, or_, select, text, update
from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import Account, Contact, CustomFieldDefinition, ListFilter, TimelineEntry
from crm_contacts.rules.records import identity_values
from crm_contacts.rules.segments import custom_field_rows
from crm_contacts.rules.visibility import VISIBILITY
from crm_contacts.tables import (
    accounts,
    contacts,
    custom_field_values,
    custom_fields,
    identities,
    merges,
    tags,
    timeline,
)
from crmkit import audit as crm_audit
from crmkit.auth import Principal
from crmkit.paging import bad_token, decode_cursor, encode_cursor, page_size, parse_seq
from crmkit.records import aware, dt

Record = Contact | Account
R = TypeVar("R", bound=Contact | Account)
# The two kinds of record by the name events, tables and the audit log use for them.
KINDS: dict[str, type[Record]] = {"contact": Contact, "account": Account}


def entity_name(kind: type[R]) -> str:
    return "contact" if kind is Contact else "account"


def entity_of(record: Record) -> str:
    return "contact" if isinstance(record, Contact) else "account"


def table_for(entity: str) -> Table:
    return contacts if entity == "contact" else accounts


# The last time _columns converted, by (seconds, nanos): an import batch's records share one `now`,
# then converted once, and to one datetime object that crmkit.imports.bulk processes once.
_last_time: tuple[tuple[int, int], datetime] = ((0, -1), datetime.min)


def _time(stamp: Timestamp) -> datetime:
    global _last_time
    key, last = (stamp.seconds, stamp.nanos), _last_time  # read once: requests run on many threads
    if key != last[0]:
        last = _last_time = (key, dt(stamp))
    return last[1]


def _columns(entity: str, record: Record) -> dict[str, object]:
    created = _time(record.created_at)  # a new record's updated_at is the same time: converted once
    values: dict[str, object] = {
        "id": record.id,
        "name": record.name,
        "owner_id": record.owner_id,
        "team": record.team,
        "region": record.region,
        "level": record.level,
        "source": record.source,
        "version": record.version,
        "deleted": record.deleted,
        "created_at": created,
        "updated_at": created if record.updated_at == record.created_at else dt(record.updated_at),
        "data": record.SerializeToString(),
    }
    if isinstance(record, Contact):
        place = next((a for a in record.addresses if a.province or a.city), None)
        values.update(account_id=record.account_id, company_name=record.company_name,
                      merged_into_id=record.merged_into_id, industry=record.industry,
                      lifecycle_stage=record.lifecycle_stage, province=place.province if place else "",
                      city=place.city if place else "")
    else:
        values.update(parent_account_id=record.parent_account_id, in_pool=record.in_pool,
                      assigned_at=dt(record.assigned_at) if record.HasField("assigned_at") else None)
    return values


# Statements are built once and executed with parameters: building `insert(...).values(...)` per
# call (coercing every value, computing a cache key) cost more than the SQL it runs. The hot ones
# run on the session's connection (its transaction): the ORM's execute path added ~3.5 µs to
# each, a sixth of a point read, for features (autoflush, ORM entities) these tables never use.
_INSERT = {"contact": insert(contacts), "account": insert(accounts)}
_UPDATE = {e: update(t).where(t.c.id == bindparam("record_id")) for e, t in (("contact", contacts), ("account", accounts))}
_DELETE_TAGS = delete(tags).where(tags.c.entity == bindparam("e"), tags.c.entity_id == bindparam("i"))
_DELETE_IDENTITIES = delete(identities).where(identities.c.entity == bindparam("e"), identities.c.entity_id == bindparam("i"))
_DELETE_VALUES = delete(custom_field_values).where(custom_field_values.c.entity == bindparam("e"),
                                                   custom_field_values.c.entity_id == bindparam("i"))
_INSERT_TAGS = insert(tags)
_INSERT_IDENTITIES = insert(identities)
_INSERT_VALUES = insert(custom_field_values)
_DUPLICATES = (
    select(identities.c.entity_id)
    .where(identities.c.entity == bindparam("e"), identities.c.value.in_(bindparam("values", expanding=True)))
    .distinct()
)
_DEFINITIONS = select(custom_fields).where(custom_fields.c.entity == bindparam("e"))
_NAMED_BY_ACCOUNT = select(contacts.c.id).where(
    contacts.c.account_id == bindparam("account_id"), contacts.c.company_name == "", contacts.c.deleted.is_(False)
)


def insert_record(session: Session, record: Record) -> None:
    entity = entity_of(record)
    session.connection().execute(_INSERT[entity], _columns(entity, record))
    _sync_side_tables(session, entity, record, fresh=True)


def update_record(session: Session, record: Record) -> None:
    entity = entity_of(record)
    session.connection().execute(_UPDATE[entity], {**_columns(entity, record), "record_id": record.id})
    _sync_side_tables(session, entity, record)


def update_snapshot(session: Session, record: Record) -> None:
    """A change that leaves tags, identities and custom fields alone (a consent): the row only."""
    entity = entity_of(record)
    session.connection().execute(_UPDATE[entity], {**_columns(entity, record), "record_id": record.id})


def _sync_side_tables(session: Session, entity: str, record: Record, *, fresh: bool = False) -> None:
    if not fresh:  # a record inserted just now has no tag or identity rows to replace
        key = {"e": entity, "i": record.id}
        session.connection().execute(_DELETE_TAGS, key)
        session.connection().execute(_DELETE_IDENTITIES, key)
        if entity == "contact":
            session.connection().execute(_DELETE_VALUES, key)
    if record.deleted:
        return  # deleted or merged-away records are neither filtered by tag nor duplicates
    if record.tags:
        session.connection().execute(_INSERT_TAGS, [{"entity": entity, "entity_id": record.id, "tag": t} for t in record.tags])
    pairs = identity_values(record)
    if pairs:
        session.connection().execute(
            _INSERT_IDENTITIES,
            [{"entity": entity, "entity_id": record.id, "kind": k, "value": v} for k, v in pairs],
        )
    # contacts only: segments are over contacts; a record without custom fields costs nothing here
    values = custom_field_rows(record.custom_fields.items()) if entity == "contact" and record.custom_fields else []
    if values:
        session.connection().execute(
            _INSERT_VALUES, [{"entity": entity, "entity_id": record.id, "key": k, "value": v} for k, v in values])


# Built once: compiling a statement per call costs more than the indexed read it performs.
_LOAD = {entity: select(table_for(entity).c.data).where(table_for(entity).c.id == bindparam("record_id"))
         for entity in KINDS}
_LOAD_FOR_UPDATE = {entity: stmt.with_for_update() for entity, stmt in _LOAD.items()}


def load(session: Session, kind: type[R], record_id: str, *, for_update: bool = False) -> R | None:
    stmt = (_LOAD_FOR_UPDATE if for_update else _LOAD)[entity_name(kind)]
    data = session.connection().execute(stmt, {"record_id": record_id}).scalar_one_or_none()
    if data is None:
        return None
    record = kind()
    record.ParseFromString(data)
    return record


_LOAD_MANY = {entity: select(table_for(entity).c.id, table_for(entity).c.data)
              .where(table_for(entity).c.id.in_(bindparam("record_ids", expanding=True))) for entity in KINDS}
LOAD_MANY_CHUNK = 500  # ids per statement: under every database's bound-parameter limit


def load_many(session: Session, kind: type[R], record_ids: Sequence[str]) -> dict[str, R]:
    """The records of these ids that exist, by id: one statement per chunk rather than one per id
    (the search index re-reads a relay batch of a bulk import's records)."""
    stmt = _LOAD_MANY[entity_name(kind)]
    found: dict[str, R] = {}
    for at in range(0, len(record_ids), LOAD_MANY_CHUNK):
        for record_id, data in session.connection().execute(stmt, {"record_ids": list(record_ids[at:at + LOAD_MANY_CHUNK])}):
            record = kind()
            record.ParseFromString(data)
            found[record_id] = record
    return found


def live_records(session: Session, entity: str, batch: int = 1000) -> Iterator[Record]:
    """Every live record, streamed in batches (a rebuild reads them all)."""
    table = table_for(entity)
    cls = Contact if entity == "contact" else Account
    stmt = select(table.c.data).where(table.c.deleted.is_(False)).order_by(table.c.seq)
    for data in session.execute(stmt.execution_options(yield_per=batch)).scalars():
        yield cls.FromString(data)


def live_account_names(session: Session) -> dict[str, str]:
    rows = session.execute(select(accounts.c.id, accounts.c.name).where(accounts.c.deleted.is_(False)))
    return {row.id: row.name for row in rows}


def any_live_record(session: Session) -> bool:
    return any(
        session.execute(select(table.c.id).where(table.c.deleted.is_(False)).limit(1)).first()
        for table in (contacts, accounts)
    )


def ids_updated_since(session: Session, entity: str, since: datetime) -> list[str]:
    """Records changed (deleted included) since `since`."""
    table = table_for(entity)
    return list(session.execute(select(table.c.id).where(table.c.updated_at >= since)).scalars())


def contacts_named_by_account(session: Session, account_id: str) -> list[str]:
    """Live contacts without a company name of their own: search shows their account's name."""
    return list(session.connection().execute(_NAMED_BY_ACCOUNT, {"account_id": account_id}).scalars())


def lock_identities(session: Session, record: Record) -> None:
    """PostgreSQL: transaction-scoped advisory locks on the record's phones and emails, taken in a
    fixed order, so two concurrent creates with the same phone cannot both pass the duplicate
    check. SQLite needs nothing: its writers are serialized (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    entity = entity_of(record)
    for kind, value in sorted(identity_values(record)):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": f"{entity}:{kind}:{value}"})


_BY_IDENTITY = (
    select(contacts.c.data)
    .where(contacts.c.id.in_(select(identities.c.entity_id).where(
        identities.c.entity == "contact", identities.c.kind == "social", identities.c.value == bindparam("key"))),
        contacts.c.deleted.is_(False))
    .order_by(contacts.c.seq)
    .limit(1)
)


def contact_by_identity(session: Session, key: str) -> Contact | None:
    """The oldest live contact holding this social identity key (rules.identities.key)."""
    data = session.connection().execute(_BY_IDENTITY, {"key": key}).scalar_one_or_none()
    return None if data is None else Contact.FromString(data)


def find_duplicates(session: Session, record: Record, exclude: Sequence[str] = ()) -> list[str]:
    """Ids of live records of the same kind sharing a phone or an email with `record`."""
    pairs = identity_values(record)
    if not pairs:
        return []
    # E.164 phones and email addresses never look alike, so the value alone identifies the pair
    found = session.connection().execute(_DUPLICATES, {"e": entity_of(record), "values": [v for _, v in pairs]}).scalars()
    return [row for row in found if row not in exclude]


def list_records(
    session: Session, kind: type[R], principal: Principal, flt: ListFilter, requested: int, page_token: str
) -> tuple[list[R], str]:
    entity = entity_name(kind)
    table = table_for(entity)
    size = page_size(requested)
    stmt: Select[Any] = select(table.c.seq, table.c.data).where(
        table.c.deleted.is_(False), VISIBILITY.clause(principal, table)
    )
    if page_token:
        stmt = stmt.where(table.c.seq > decode_cursor(page_token))
    for column in ("owner_id", "region", "level", "source"):
        if value := getattr(flt, column):
            stmt = stmt.where(table.c[column] == value)
    if flt.tag:
        stmt = stmt.where(
            exists().where(tags.c.entity == entity, tags.c.entity_id == table.c.id, tags.c.tag == flt.tag)
        )
    if flt.HasField("created_after"):
        stmt = stmt.where(table.c.created_at >= dt(flt.created_after))
    if flt.HasField("created_before"):
        stmt = stmt.where(table.c.created_at < dt(flt.created_before))
    if flt.HasField("updated_since"):
        stmt = stmt.where(table.c.updated_at >= dt(flt.updated_since))
    if flt.account_id and entity == "contact":
        stmt = stmt.where(table.c.account_id == flt.account_id)
    if flt.query:
        pattern = f"%{flt.query.strip()}%"
        name_match = table.c.name.ilike(pattern)
        stmt = stmt.where(name_match | table.c.company_name.ilike(pattern) if entity == "contact" else name_match)
    rows = session.execute(stmt.order_by(table.c.seq).limit(size + 1)).all()
    records = []
    for row in rows[:size]:
        record = kind()
        record.ParseFromString(row.data)
        records.append(record)
    next_token = encode_cursor(rows[size - 1].seq) if len(rows) > size else ""
    return records, next_token


_INSERT_ENTRY = insert(timeline)
_ENTRY_EXISTS = select(timeline.c.id).where(timeline.c.id == bindparam("entry_id"))


def add_timeline_entry(session: Session, entry: TimelineEntry) -> None:
    session.connection().execute(_INSERT_ENTRY, {
        "id": entry.id, "contact_id": entry.contact_id, "kind": entry.kind, "occurred_at": dt(entry.occurred_at),
        "data": entry.SerializeToString(),
    })


def timeline_entry_exists(session: Session, entry_id: str) -> bool:
    return session.connection().execute(_ENTRY_EXISTS, {"entry_id": entry_id}).first() is not None


def list_timeline(
    session: Session, contact_ids: Sequence[str], requested: int, page_token: str
) -> tuple[list[TimelineEntry], str]:
    """Newest first; the cursor is (occurred_at, seq) of the last entry returned."""
    size = page_size(requested)
    stmt = select(timeline.c.seq, timeline.c.occurred_at, timeline.c.data).where(
        timeline.c.contact_id.in_(contact_ids)
    )
    if page_token:
        at, seq = _decode_time_cursor(page_token)
        stmt = stmt.where(
            or_(timeline.c.occurred_at < at, and_(timeline.c.occurred_at == at, timeline.c.seq < seq))
        )
    order = (timeline.c.occurred_at.desc(), timeline.c.seq.desc())
    rows = session.execute(stmt.order_by(*order).limit(size + 1)).all()
    entries = [TimelineEntry.FromString(r.data) for r in rows[:size]]
    if len(rows) <= size:
        return entries, ""
    last = rows[size - 1]
    raw = f"t{aware(last.occurred_at).isoformat()}|{last.seq}"
    return entries, base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_time_cursor(token: str) -> tuple[datetime, int]:
    """The timeline's own cursor: its entries are ordered by time, not by the sequence alone that
    crmkit.paging's cursors carry."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        at, seq = raw[1:].split("|")
        if not raw.startswith("t"):
            raise ValueError(raw)
        return datetime.fromisoformat(at), parse_seq(seq)
    except (ValueError, UnicodeDecodeError):
        raise bad_token() from None


def move_timeline(session: Session, from_contact: str, to_contact: str) -> None:
    session.execute(update(timeline).where(timeline.c.contact_id == from_contact).values(contact_id=to_contact))


def definitions(session: Session, entity: str) -> dict[str, CustomFieldDefinition]:
    rows = session.connection().execute(_DEFINITIONS, {"e": entity}).all()
    return {
        r.key: CustomFieldDefinition(entity=r.entity, key=r.key, label=r.label, type=r.type,
                                     choices=list(r.choices), required=r.required)
        for r in rows
    }


def save_definition(session: Session, d: CustomFieldDefinition) -> None:
    session.execute(delete(custom_fields).where(custom_fields.c.entity == d.entity, custom_fields.c.key == d.key))
    session.execute(
        insert(custom_fields).values(entity=d.entity, key=d.key, label=d.label or d.key, type=d.type,
                                     choices=list(d.choices), required=d.required)
    )


_INSERT_MERGE = insert(merges)


def record_merge(session: Session, survivor: Contact, merged: Contact, *, by: str, at: datetime) -> None:
    """Who merged what into which survivor, with the merged record as it was."""
    session.connection().execute(_INSERT_MERGE, {
        "survivor_id": survivor.id, "merged_id": merged.id, "merged_by": by, "merged_at": at,
        "merged_snapshot": merged.SerializeToString(),
    })


def audit(session: Session, *, at: datetime, actor: str, action: str, entity: str, entity_id: str,
          detail: str = "") -> None:
    """An entry in the service's audit log (crmkit.audit), appended when the transaction commits;
    the earlier `audit_log` table is kept only for the rows the migration copied."""
    crm_audit.record(session, actor, action, entity, entity_id, at=at,
                     details={"note": detail[:2000]} if detail else None)
