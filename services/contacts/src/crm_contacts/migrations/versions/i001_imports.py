"""customer imports: jobs, their uploaded chunks, rejected rows, mappings per source

Revision ID: i001
Revises: 0001 (a branch of its own: it touches no earlier table; crmkit.migrations applies every head)
Create Date: 2026-12-01 14:40:00

Phones an import keeps unverified live in the record snapshots (Phone.unverified), so no column
of an existing table changes.
"""
import sqlalchemy as sa
from alembic import op

from crmkit.runtime_tables import SeqInt

revision = 'i001'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'import_jobs',
        sa.Column('seq', SeqInt, primary_key=True, autoincrement=True),
        sa.Column('id', sa.String(36), nullable=False, unique=True),
        sa.Column('content_key', sa.String(64), nullable=False),
        sa.Column('owner_id', sa.String(100), nullable=False),
        sa.Column('principal', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('rows_done', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
    )
    op.create_index('ix_import_jobs_key', 'import_jobs', ['content_key', 'owner_id'])
    op.create_index('ix_import_jobs_status', 'import_jobs', ['status', 'seq'])
    op.create_table(
        'import_chunks',
        sa.Column('job_id', sa.String(36), primary_key=True),
        sa.Column('offset', sa.BigInteger(), primary_key=True),
        sa.Column('data', sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        'import_rejects',
        sa.Column('job_id', sa.String(36), primary_key=True),
        sa.Column('row', sa.BigInteger(), primary_key=True),
        sa.Column('data', sa.JSON(), nullable=False),
    )
    op.create_table(
        'import_mappings',
        sa.Column('entity', sa.String(10), primary_key=True),
        sa.Column('source_name', sa.String(200), primary_key=True),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in ('import_mappings', 'import_rejects', 'import_chunks'):
        op.drop_table(name)
    op.drop_index('ix_import_jobs_status', 'import_jobs')
    op.drop_index('ix_import_jobs_key', 'import_jobs')
    op.drop_table('import_jobs')
