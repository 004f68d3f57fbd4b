"""The import tables every importing service has (contacts declares the same ones in its own
tables.py since before this module). `ImportTables(metadata)` for a service's tables module,
`create()` inside an Alembic migration.

`import_rejects.kept` (a row kept with remarks, not rejected) and its index came later, with each
service's own revision (sales and support m002, contacts i002), which calls `add_kept()`:
`create()` builds the tables as they were first migrated (FIRST_SHAPE), so an earlier migration
never changes. Both write their columns out rather than read ImportTables, for the same reason."""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Index, LargeBinary, MetaData, String, Table, false

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
        # the report's rows: rejected ones and, `kept`, rows written with remarks; `data` is
        # {"problems": [[field, column, message, value]], "values": [...]} (+ "kept": true, as `kept`
        # says). The index finds a job's first rejected rows in row order (a progress poll shows them).
        self.rejects = Table(
            "import_rejects", metadata,
            Column("job_id", String(ID), primary_key=True),
            Column("row", BigInteger, primary_key=True),
            Column("data", JSON, nullable=False),
            Column("kept", Boolean, nullable=False, default=False, server_default=false()),
            Index("ix_import_rejects_kept", "job_id", "kept", "row"),
        )
        self.mappings = Table(
            "import_mappings", metadata,
            Column("entity", String(10), primary_key=True),
            Column("source_name", String(200), primary_key=True),
            Column("data", LargeBinary, nullable=False),  # ColumnMapping
            Column("updated_at", DateTime(timezone=True), nullable=False),
        )


# What create() builds, frozen: each table's columns and indexes as the first imports migration
# made them. What ImportTables declares beyond this, a later revision of the service adds.
FIRST_SHAPE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "import_jobs": (("seq", "id", "content_key", "owner_id", "principal", "status", "rows_done", "created_at",
                     "updated_at", "data"), ("ix_import_jobs_key", "ix_import_jobs_status")),
    "import_chunks": (("job_id", "offset", "data"), ()),
    "import_rejects": (("job_id", "row", "data"), ()),
    "import_mappings": (("entity", "source_name", "data", "updated_at"), ()),
}


def create() -> None:
    """In a migration's upgrade(): the four tables in their first shape (FIRST_SHAPE)."""
    from alembic import op

    declared = ImportTables(MetaData())
    for table in (declared.jobs, declared.chunks, declared.rejects, declared.mappings):
        columns, indexes = FIRST_SHAPE[table.name]
        op.create_table(table.name, *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
                                             unique=c.unique, autoincrement=c.autoincrement)
                                      for c in table.columns if c.name in columns])
        for index in table.indexes:
            if index.name in indexes:
                op.create_index(index.name, table.name, [c.name for c in index.columns])


def drop() -> None:
    from alembic import op

    for name in ("import_mappings", "import_rejects", "import_chunks", "import_jobs"):
        op.drop_table(name)


KEPT_BATCH = 1000  # report rows read per statement while add_kept() backfills the column
_rejects = sa.table("import_rejects", sa.column("job_id", sa.String), sa.column("row", sa.BigInteger),
                    sa.column("data", sa.JSON), sa.column("kept", sa.Boolean))


def add_kept() -> None:
    """In a migration's upgrade(): `import_rejects.kept` and its index (job_id, kept, row), which
    finds a job's first rejected rows in row order; with "kept" only in the JSON a progress poll
    parsed every kept row before them. Existing rows get the column from their JSON, a batch at a
    time in key order; the JSON keeps its "kept" key, so drop_kept() loses nothing."""
    from alembic import op

    with op.batch_alter_table("import_rejects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kept", sa.Boolean(), nullable=False, server_default=sa.false()))
    _backfill_kept(op.get_bind())
    op.create_index("ix_import_rejects_kept", "import_rejects", ["job_id", "kept", "row"], unique=False)


def drop_kept() -> None:
    """In a migration's downgrade(): undoes add_kept()."""
    from alembic import op

    op.drop_index("ix_import_rejects_kept", table_name="import_rejects")
    with op.batch_alter_table("import_rejects", schema=None) as batch_op:
        batch_op.drop_column("kept")


def _backfill_kept(bind: sa.Connection) -> None:
    # Only rows whose JSON text names "kept" come back (the same test on SQLite and PostgreSQL);
    # the parsed JSON decides, as a cell's value may be the word too.
    named = sa.cast(_rejects.c.data, sa.Text).like('%"kept"%')
    mark = _rejects.update().where(_rejects.c.job_id == sa.bindparam("b_job_id"),
                                   _rejects.c.row == sa.bindparam("b_row")).values(kept=True)
    after: tuple[str, int] | None = None
    while True:
        stmt = sa.select(_rejects.c.job_id, _rejects.c.row, _rejects.c.data).where(named)
        if after is not None:
            stmt = stmt.where(sa.or_(_rejects.c.job_id > after[0],
                                     sa.and_(_rejects.c.job_id == after[0], _rejects.c.row > after[1])))
        rows = bind.execute(stmt.order_by(_rejects.c.job_id, _rejects.c.row).limit(KEPT_BATCH)).all()
        if not rows:
            return
        kept = [{"b_job_id": job_id, "b_row": row} for job_id, row, data in rows
                if (data if isinstance(data, dict) else json.loads(data)).get("kept") is True]
        if kept:
            bind.execute(mark, kept)
        after = rows[-1].job_id, int(rows[-1].row)
