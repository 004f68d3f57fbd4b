"""initial: jobs, their steps, the suppression list, and the runtime tables

Revision ID: 0001
Revises:
Create Date: 2026-12-01 13:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from crmkit.runtime_tables import SeqInt, Ts, create_runtime_tables

revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_runtime_tables(op.get_bind())
    op.create_table(
        'privacy_jobs',
        sa.Column('seq', SeqInt, primary_key=True, autoincrement=True),
        sa.Column('id', sa.String(36), nullable=False, unique=True),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('status', sa.String(12), nullable=False),
        sa.Column('requested_by', sa.String(100), nullable=False),
        sa.Column('created_at', Ts, nullable=False),
        sa.Column('next_attempt_at', Ts, nullable=True),
        sa.Column('completed_at', Ts, nullable=True),
        sa.Column('expires_at', Ts, nullable=True),
        sa.Column('subject', sa.LargeBinary(), nullable=False),
        sa.Column('resolved', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('result', sa.LargeBinary(), nullable=True),
        sa.Column('archive', sa.LargeBinary(), nullable=True),
    )
    op.create_index('ix_privacy_jobs_due', 'privacy_jobs', ['next_attempt_at'])
    op.create_table(
        'privacy_job_steps',
        sa.Column('job_id', sa.String(36), primary_key=True),
        sa.Column('service', sa.String(30), primary_key=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('done_at', Ts, nullable=True),
        sa.Column('answer', sa.LargeBinary(), nullable=True),
    )
    op.create_table(
        'suppressions',
        sa.Column('seq', SeqInt, primary_key=True, autoincrement=True),
        sa.Column('hash', sa.String(64), nullable=False, unique=True),
        sa.Column('erasure_id', sa.String(36), nullable=False),
        sa.Column('at', Ts, nullable=False),
    )


def downgrade() -> None:
    op.drop_table('suppressions')
    op.drop_table('privacy_job_steps')
    op.drop_index('ix_privacy_jobs_due', 'privacy_jobs')
    op.drop_table('privacy_jobs')
