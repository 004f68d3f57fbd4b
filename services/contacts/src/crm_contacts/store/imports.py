"""Persistence of customer imports: jobs (snapshot + checkpoint), uploaded chunks, rejected rows and
remembered mappings through crmkit.imports.store over contacts' tables, and the batched writes of
the imported records (one executemany per table per batch rather than a statement per row)."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
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


def identity_owners(session: Session, entity: str, values: Sequence[str]) -> dict[str, str]:
    """Live records of `entity` holding any of these phones or emails: value → record id."""
    if not values:
        return {}
    rows = session.connection().execute(
        select(identities.c.value, identities.c.entity_id).where(identities.c.entity == entity,
                                                                 identities.c.value.in_(list(values))))
    return {value: entity_id for value, entity_id in rows}


def insert_records(session: Session, records: Sequence[Record]) -> None:
    """New records with their side tables, one executemany per table (store.insert_record's rows)."""
    if not records:
        return
    entity = entity_of(records[0])
    conn = session.connection()
    conn.execute(insert(contacts if entity == "contact" else accounts), [_columns(entity, r) for r in records])
    tag_rows = [{"entity": entity, "entity_id": r.id, "tag": t} for r in records for t in r.tags]
    identity_rows = [{"entity": entity, "entity_id": r.id, "kind": k, "value": v}
                     for r in records for k, v in identity_values(r)]
    value_rows = [{"entity": entity, "entity_id": r.id, "key": k, "value": v} for r in records
                  if entity == "contact" and r.custom_fields for k, v in custom_field_rows(r.custom_fields.items())]
    for table, rows in ((tags, tag_rows), (identities, identity_rows), (custom_field_values, value_rows)):
        if rows:
            conn.execute(insert(table), rows)
