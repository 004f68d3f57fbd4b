"""Persistence of customer imports: jobs (snapshot + checkpoint), uploaded chunks, rejected rows and
remembered mappings through crmkit.imports.store over contacts' tables, and the batched writes of
the imported records (one driver executemany per table per batch, crmkit.imports.bulk)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from crm_contacts.rules.records import identity_values
from crm_contacts.rules.segments import custom_field_rows
from crm_contacts.store import Record, _columns, entity_of
from crm_contacts.tables import (
    accounts,
    contacts,
    custom_field_values,
    identities,
    import_chunks,
    import_jobs,
    import_mappings,
    import_rejects,
    tags,
)
from crmkit.imports.bulk import insert_many
from crmkit.imports.store import RUNNABLE as STORE_RUNNABLE
from crmkit.imports.store import ImportStore

RUNNABLE = STORE_RUNNABLE  # queued | running


class _Tables:
    """contacts' import tables (tables.py, migration i001) in crmkit.imports.store's shape."""
    jobs, chunks, rejects, mappings = import_jobs, import_chunks, import_rejects, import_mappings


STORE = ImportStore(_Tables())
# the job machinery is crmkit.imports' (shared with sales and support); these names stay for contacts' callers
insert_job, save_job, load_job, job_by_key = STORE.insert_job, STORE.save_job, STORE.load_job, STORE.job_by_key
next_runnable, received, add_chunk, file_content = STORE.next_runnable, STORE.received, STORE.add_chunk, \
    STORE.file_content
add_rejects, rejects, mapping_for, remember_mapping = STORE.add_rejects, STORE.rejects, STORE.mapping_for, \
    STORE.remember_mapping


_SQLITE_CACHE_KIB = 65536


def widen_cache(session: Session) -> None:
    """SQLite: a 64 MB page cache on the connection writing an import batch, instead of the 2 MB
    default. A batch inserts thousands of rows at random places of the records' and side tables'
    indexes; past a few hundred thousand contacts those pages no longer fit the default cache and
    each insert reads them back (at 200,000 contacts 97 → 71 µs of CPU per record written). The
    setting stays with the pooled connection: a fixed 64 MB at most, not memory that grows."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")


def identity_owners(session: Session, entity: str, pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Live records of `entity` holding any of these (kind, value) identities: value → record id.
    One indexed lookup per kind and chunk of values: without statistics SQLite's planner prefers
    the primary key's `entity` prefix, a scan of every identity of the entity (0.2 s per batch at
    200,000 contacts, growing with the table), so SQLite is told which index to use."""
    by_kind: dict[str, set[str]] = {}
    for kind, value in pairs:
        by_kind.setdefault(kind, set()).add(value)
    conn = session.connection()
    stmt = _OWNERS_SQLITE if conn.dialect.name == "sqlite" else _OWNERS
    found: dict[str, str] = {}
    for kind, values in by_kind.items():
        ordered = sorted(values)
        for start in range(0, len(ordered), _IN_CHUNK):
            rows = conn.execute(stmt, {"entity": entity, "kind": kind, "values": ordered[start:start + _IN_CHUNK]})
            found.update((value, entity_id) for value, entity_id in rows)
    return found


_IN_CHUNK = 5000
_OWNERS = select(identities.c.value, identities.c.entity_id).where(
    identities.c.entity == bindparam("entity"), identities.c.kind == bindparam("kind"),
    identities.c.value.in_(bindparam("values", expanding=True)))
_OWNERS_SQLITE = text("SELECT value, entity_id FROM entity_identities INDEXED BY ix_entity_identities_value "
                      "WHERE entity = :entity AND kind = :kind AND value IN :values").bindparams(
    bindparam("values", expanding=True))


def insert_records(session: Session, records: Sequence[Record]) -> None:
    """New records with their side tables, one executemany per table (store.insert_record's rows)."""
    if not records:
        return
    entity = entity_of(records[0])
    conn = session.connection()
    insert_many(conn, contacts if entity == "contact" else accounts, [_columns(entity, r) for r in records])
    tag_rows = [{"entity": entity, "entity_id": r.id, "tag": t} for r in records for t in r.tags]
    identity_rows = [{"entity": entity, "entity_id": r.id, "kind": k, "value": v}
                     for r in records for k, v in identity_values(r)]
    value_rows = [{"entity": entity, "entity_id": r.id, "key": k, "value": v} for r in records
                  if entity == "contact" and r.custom_fields for k, v in custom_field_rows(r.custom_fields.items())]
    for table, rows in ((tags, tag_rows), (identities, identity_rows), (custom_field_values, value_rows)):
        insert_many(conn, table, rows)
