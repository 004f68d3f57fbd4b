"""Persistence of customer imports: jobs (snapshot + checkpoint), uploaded chunks, rejected rows,
remembered mappings, and the batched writes of the imported records (one executemany per table
per batch rather than a statement per row)."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from crm.contacts.v1.imports_pb2 import ColumnMapping, ImportJob
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

RUNNABLE = ("queued", "running")


def insert_job(session: Session, job: ImportJob, *, content_key: str, principal: dict[str, Any],
               now: datetime) -> None:
    session.execute(insert(import_jobs).values(
        id=job.id, content_key=content_key, owner_id=job.owner_id, principal=principal, status=job.status,
        rows_done=job.rows_done, created_at=now, updated_at=now, data=job.SerializeToString()))


def save_job(session: Session, job: ImportJob, now: datetime) -> None:
    session.execute(update(import_jobs).where(import_jobs.c.id == job.id).values(
        status=job.status, rows_done=job.rows_done, updated_at=now, data=job.SerializeToString()))


def load_job(session: Session, job_id: str, *, for_update: bool = False) -> tuple[ImportJob, dict[str, Any]] | None:
    stmt = select(import_jobs.c.data, import_jobs.c.principal).where(import_jobs.c.id == job_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    if row is None:
        return None
    job = ImportJob()
    job.ParseFromString(row.data)
    principal = row.principal if isinstance(row.principal, dict) else json.loads(row.principal)
    return job, principal


def job_by_key(session: Session, content_key: str, owner_id: str) -> ImportJob | None:
    data = session.execute(select(import_jobs.c.data).where(
        import_jobs.c.content_key == content_key, import_jobs.c.owner_id == owner_id,
        import_jobs.c.status != "failed").order_by(import_jobs.c.seq).limit(1)).scalar_one_or_none()
    if data is None:
        return None
    job = ImportJob()
    job.ParseFromString(data)
    return job


def next_runnable(session: Session) -> str | None:
    found: str | None = session.execute(select(import_jobs.c.id).where(import_jobs.c.status.in_(RUNNABLE))
                                        .order_by(import_jobs.c.seq).limit(1)).scalar_one_or_none()
    return found


def received(session: Session, job_id: str) -> int:
    size = session.execute(select(func.coalesce(func.sum(func.length(import_chunks.c.data)), 0))
                           .where(import_chunks.c.job_id == job_id)).scalar_one()
    return int(size)


def add_chunk(session: Session, job_id: str, offset: int, data: bytes) -> None:
    session.execute(insert(import_chunks).values(job_id=job_id, offset=offset, data=data))


def file_content(session: Session, job_id: str) -> bytes:
    parts = session.execute(select(import_chunks.c.data).where(import_chunks.c.job_id == job_id)
                            .order_by(import_chunks.c.offset)).scalars()
    return b"".join(parts)


def add_rejects(session: Session, job_id: str, rows: Sequence[tuple[int, dict[str, Any]]]) -> None:
    if rows:
        session.execute(insert(import_rejects), [{"job_id": job_id, "row": n, "data": d} for n, d in rows])


def rejects(session: Session, job_id: str, limit: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    stmt = select(import_rejects.c.row, import_rejects.c.data).where(import_rejects.c.job_id == job_id) \
        .order_by(import_rejects.c.row)
    for n, data in session.execute(stmt.limit(limit) if limit else stmt):
        yield int(n), data if isinstance(data, dict) else json.loads(data)


def mapping_for(session: Session, entity: str, source_name: str) -> ColumnMapping | None:
    data = session.execute(select(import_mappings.c.data).where(
        import_mappings.c.entity == entity, import_mappings.c.source_name == source_name)).scalar_one_or_none()
    if data is None:
        return None
    mapping = ColumnMapping()
    mapping.ParseFromString(data)
    return mapping


def remember_mapping(session: Session, entity: str, source_name: str, mapping: ColumnMapping, now: datetime) -> None:
    key = (import_mappings.c.entity == entity) & (import_mappings.c.source_name == source_name)
    data = mapping.SerializeToString(deterministic=True)
    if session.execute(select(import_mappings.c.entity).where(key)).first() is not None:
        session.execute(update(import_mappings).where(key).values(data=data, updated_at=now))
    else:
        session.execute(insert(import_mappings).values(entity=entity, source_name=source_name, data=data,
                                                       updated_at=now))


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
