"""Persistence of import jobs: the job (snapshot + checkpoint), uploaded chunks, rejected rows and
remembered mappings, over a service's import tables (crmkit.imports.tables or the same columns)."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from crm.common.v1.imports_pb2 import ColumnMapping, ImportJob

RUNNABLE = ("queued", "running")
_SCAN = 200  # jobs read per statement while an entity filter (not a column) skips others


class Tables(Protocol):
    jobs: Table
    chunks: Table
    rejects: Table
    mappings: Table


class ImportStore:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def insert_job(self, session: Session, job: ImportJob, *, content_key: str, principal: dict[str, Any],
                   now: datetime) -> None:
        session.execute(insert(self.t.jobs).values(
            id=job.id, content_key=content_key, owner_id=job.owner_id, principal=principal, status=job.status,
            rows_done=job.rows_done, created_at=now, updated_at=now, data=job.SerializeToString()))

    def save_job(self, session: Session, job: ImportJob, now: datetime) -> None:
        jobs = self.t.jobs
        session.execute(update(jobs).where(jobs.c.id == job.id).values(
            status=job.status, rows_done=job.rows_done, updated_at=now, data=job.SerializeToString()))

    def load_job(self, session: Session, job_id: str, *,
                 for_update: bool = False) -> tuple[ImportJob, dict[str, Any]] | None:
        jobs = self.t.jobs
        stmt = select(jobs.c.data, jobs.c.principal).where(jobs.c.id == job_id)
        row = session.execute(stmt.with_for_update() if for_update else stmt).first()
        if row is None:
            return None
        job = ImportJob()
        job.ParseFromString(row.data)
        principal = row.principal if isinstance(row.principal, dict) else json.loads(row.principal)
        return job, principal

    def job_by_key(self, session: Session, content_key: str, owner_id: str) -> ImportJob | None:
        jobs = self.t.jobs
        data = session.execute(select(jobs.c.data).where(
            jobs.c.content_key == content_key, jobs.c.owner_id == owner_id,
            jobs.c.status != "failed").order_by(jobs.c.seq).limit(1)).scalar_one_or_none()
        if data is None:
            return None
        job = ImportJob()
        job.ParseFromString(data)
        return job

    def list_jobs(self, session: Session, *, owner_id: str | None, status: str, entity: str,
                  after: tuple[datetime, str] | None, limit: int) -> list[ImportJob]:
        """Up to `limit` jobs newest first (created_at, then id) after the cursor `after`; only
        `owner_id`'s (None: everyone's), only in `status` and of `entity` when given. The entity is
        inside the snapshot, not a column: with that filter the jobs are read _SCAN at a time and
        the others skipped (a service holds few jobs per user; a column would need a migration)."""
        jobs = self.t.jobs
        stmt = select(jobs.c.created_at, jobs.c.id, jobs.c.data)
        if owner_id is not None:
            stmt = stmt.where(jobs.c.owner_id == owner_id)
        if status:
            stmt = stmt.where(jobs.c.status == status)
        stmt = stmt.order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
        batch = max(limit, _SCAN) if entity else limit
        found: list[ImportJob] = []
        while True:
            page = stmt if after is None else stmt.where(or_(
                jobs.c.created_at < after[0], and_(jobs.c.created_at == after[0], jobs.c.id < after[1])))
            rows = session.execute(page.limit(batch)).all()
            for row in rows:
                after = row.created_at, row.id
                job = ImportJob.FromString(row.data)
                if not entity or job.entity == entity:
                    found.append(job)
                    if len(found) == limit:
                        return found
            if len(rows) < batch:
                return found

    def next_runnable(self, session: Session) -> str | None:
        jobs = self.t.jobs
        found: str | None = session.execute(select(jobs.c.id).where(jobs.c.status.in_(RUNNABLE))
                                            .order_by(jobs.c.seq).limit(1)).scalar_one_or_none()
        return found

    def uploads_started_before(self, session: Session, before: datetime) -> list[str]:
        """Jobs still `uploading` that were created before `before` (oldest first)."""
        jobs = self.t.jobs
        return list(session.execute(select(jobs.c.id).where(jobs.c.status == "uploading", jobs.c.created_at < before)
                                    .order_by(jobs.c.seq)).scalars())

    def drop_chunks(self, session: Session, job_id: str) -> None:
        chunks = self.t.chunks
        session.execute(delete(chunks).where(chunks.c.job_id == job_id))

    def received(self, session: Session, job_id: str) -> int:
        chunks = self.t.chunks
        size = session.execute(select(func.coalesce(func.sum(func.length(chunks.c.data)), 0))
                               .where(chunks.c.job_id == job_id)).scalar_one()
        return int(size)

    def add_chunk(self, session: Session, job_id: str, offset: int, data: bytes) -> None:
        session.execute(insert(self.t.chunks).values(job_id=job_id, offset=offset, data=data))

    def file_content(self, session: Session, job_id: str) -> bytes:
        chunks = self.t.chunks
        parts = session.execute(select(chunks.c.data).where(chunks.c.job_id == job_id)
                                .order_by(chunks.c.offset)).scalars()
        return b"".join(parts)

    def chunks(self, db: Any, job_id: str) -> Iterator[bytes]:
        """The uploaded file chunk by chunk, each read in its own short session (a run reads the
        file while it writes: no read transaction held open, no file held whole in memory)."""
        chunks = self.t.chunks
        offset = -1
        while True:
            with db.read() as session:
                row = session.execute(select(chunks.c.offset, chunks.c.data).where(
                    chunks.c.job_id == job_id, chunks.c.offset > offset).order_by(chunks.c.offset).limit(1)).first()
            if row is None:
                return
            offset = int(row.offset)
            yield bytes(row.data)

    def chunks_in(self, session: Session, job_id: str) -> Iterator[bytes]:
        """The uploaded file chunk by chunk inside this session (one chunk in memory at a time)."""
        chunks = self.t.chunks
        offsets = session.execute(select(chunks.c.offset).where(chunks.c.job_id == job_id)
                                  .order_by(chunks.c.offset)).scalars().all()
        for offset in offsets:
            yield bytes(session.execute(select(chunks.c.data).where(
                chunks.c.job_id == job_id, chunks.c.offset == offset)).scalar_one())

    def add_rejects(self, session: Session, job_id: str, rows: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """The report's rows; a doc with "kept": true is a row kept with remarks. The JSON keeps the
        key too: a replica still on the code before the `kept` column reads it, and a downgrade
        that drops the column loses nothing."""
        if rows:
            session.execute(insert(self.t.rejects), [
                {"job_id": job_id, "row": n, "kept": bool(d.get("kept")), "data": d} for n, d in rows])

    def rejects(self, session: Session, job_id: str, limit: int | None = None, *,
                kept: bool | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        """The report's rows in row order: {"problems", "values"} and, for a row kept with remarks
        (not rejected), "kept": true. `kept` False/True: only the rejected/kept ones, read through
        the index (job_id, kept, row): a poll showing the first rejected rows reads only those."""
        rejects = self.t.rejects
        stmt = select(rejects.c.row, rejects.c.kept, rejects.c.data).where(rejects.c.job_id == job_id)
        if kept is not None:
            stmt = stmt.where(rejects.c.kept == kept)
        stmt = stmt.order_by(rejects.c.row)
        for n, row_kept, data in session.execute(stmt.limit(limit) if limit else stmt):
            doc = dict(data) if isinstance(data, dict) else json.loads(data)
            doc.pop("kept", None)  # the column is what the filter read: the answer agrees with it
            if row_kept:
                doc["kept"] = True
            yield int(n), doc

    def mapping_for(self, session: Session, entity: str, source_name: str) -> ColumnMapping | None:
        mappings = self.t.mappings
        data = session.execute(select(mappings.c.data).where(
            mappings.c.entity == entity, mappings.c.source_name == source_name)).scalar_one_or_none()
        if data is None:
            return None
        mapping = ColumnMapping()
        mapping.ParseFromString(data)
        return mapping

    def remember_mapping(self, session: Session, entity: str, source_name: str, mapping: ColumnMapping,
                         now: datetime) -> None:
        mappings = self.t.mappings
        key = (mappings.c.entity == entity) & (mappings.c.source_name == source_name)
        data = mapping.SerializeToString(deterministic=True)
        if session.execute(select(mappings.c.entity).where(key)).first() is not None:
            session.execute(update(mappings).where(key).values(data=data, updated_at=now))
        else:
            session.execute(insert(mappings).values(entity=entity, source_name=source_name, data=data,
                                                    updated_at=now))
