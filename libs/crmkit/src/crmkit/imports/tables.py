"""The import tables every importing service has (contacts declares the same ones in its own
tables.py since before this module). `define(metadata)` for a service's tables module,
`create()` inside an Alembic migration."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, LargeBinary, MetaData, String, Table

from crmkit.runtime_tables import SeqInt

ID = 64  # a service prefix ("sales-") and a UUID


class ImportTables:
    def __init__(self, metadata: MetaData) -> None:
        # the job: its ImportJob snapshot; `rows_done` is the checkpoint, written in the
        # transaction of the rows it counts
        self.jobs = Table(
            "import_jobs", metadata,
            Column("seq", SeqInt, primary_key=True, autoincrement=True),
            Column("id", String(ID), nullable=False, unique=True),
            Column("content_key", String(64), nullable=False),  # sha256 of the file and the options
            Column("owner_id", String(100), nullable=False),
            Column("principal", JSON, nullable=False),  # who started it: the job writes as them
            Column("status", String(20), nullable=False),
            Column("rows_done", BigInteger, nullable=False, default=0),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("data", LargeBinary, nullable=False),
            Index("ix_import_jobs_key", "content_key", "owner_id"),
            Index("ix_import_jobs_status", "status", "seq"),
        )
        # the uploaded file in chunks: a restart reads it again from here
        self.chunks = Table(
            "import_chunks", metadata,
            Column("job_id", String(ID), primary_key=True),
            Column("offset", BigInteger, primary_key=True),
            Column("data", LargeBinary, nullable=False),
        )
        self.rejects = Table(
            "import_rejects", metadata,
            Column("job_id", String(ID), primary_key=True),
            Column("row", BigInteger, primary_key=True),
            Column("data", JSON, nullable=False),  # {"problems": [[field, column, message, value]], "values": [...]}
        )
        self.mappings = Table(
            "import_mappings", metadata,
            Column("entity", String(10), primary_key=True),
            Column("source_name", String(200), primary_key=True),
            Column("data", LargeBinary, nullable=False),  # ColumnMapping
            Column("updated_at", DateTime(timezone=True), nullable=False),
        )


def create() -> None:
    """In a migration's upgrade(): the four tables, as ImportTables declares them."""
    from alembic import op

    declared = ImportTables(MetaData())
    for table in (declared.jobs, declared.chunks, declared.rejects, declared.mappings):
        op.create_table(table.name, *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
                                             unique=c.unique, autoincrement=c.autoincrement) for c in table.columns])
        for index in table.indexes:
            op.create_index(index.name, table.name, [c.name for c in index.columns])


def drop() -> None:
    from alembic import op

    for name in ("import_mappings", "import_rejects", "import_chunks", "import_jobs"):
        op.drop_table(name)
