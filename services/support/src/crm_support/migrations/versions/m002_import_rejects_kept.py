"""import report rows: a `kept` column (a row kept with remarks, not rejected) and the index
(job_id, kept, row) that finds a job's first rejected rows in row order

Revision ID: m002
Revises: m001
Create Date: 2026-12-02 15:40:00

The column, its backfill from each row's JSON and the index are crmkit.imports.tables'
(add_kept / drop_kept), the same in every importing service; the JSON keeps its "kept" key, so
the downgrade loses nothing.
"""
from crmkit.imports import tables as import_tables

revision = 'm002'
down_revision = 'm001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    import_tables.add_kept()


def downgrade() -> None:
    import_tables.drop_kept()
