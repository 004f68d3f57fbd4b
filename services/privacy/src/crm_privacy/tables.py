"""The privacy database: export jobs and erasure sagas (a row each, its progress per service in
`steps`), and the suppression list of keyed hashes.

A job holds the person's identifiers only while it runs: an erasure keeps, once complete, the
contact ids and the receipt; an export keeps its document until it expires."""
from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

from crmkit.runtime_tables import SeqInt, Ts

metadata = MetaData()

# kind: export | erasure. `subject` the resolved crm.privacy.v1.Subject (while needed), `data` the
# ExportJob or Erasure snapshot, `result` the export's JSON document or the erasure's receipt.
jobs = Table(
    "privacy_jobs", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),
    Column("status", String(12), nullable=False),        # pending | running | completed | expired
    Column("requested_by", String(100), nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("next_attempt_at", Ts, nullable=True),        # when the worker looks again (null: done)
    Column("completed_at", Ts, nullable=True),
    Column("expires_at", Ts, nullable=True),             # exports: the document is dropped then
    Column("subject", LargeBinary, nullable=False),
    Column("resolved", Integer, nullable=False, default=0),
    Column("data", LargeBinary, nullable=False),
    Column("result", LargeBinary, nullable=True),
    Column("archive", LargeBinary, nullable=True),       # exports: the ZIP (document + attachments)
    Index("ix_privacy_jobs_due", "next_attempt_at"),
)

# One row per (job, service): its answer (a SubjectPart or an EraseSubjectResponse) once given.
steps = Table(
    "privacy_job_steps", metadata,
    Column("job_id", String(36), primary_key=True),
    Column("service", String(30), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("status", String(10), nullable=False),        # pending | retrying | done
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("records", Integer, nullable=False, default=0),
    Column("done_at", Ts, nullable=True),
    Column("answer", LargeBinary, nullable=True),
)

suppressions = Table(
    "suppressions", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("erasure_id", String(36), nullable=False),
    Column("at", Ts, nullable=False),
)
