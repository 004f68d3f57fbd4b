"""the public pool (公海) of leads

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 16:40:00

Leads get `in_pool`, `followed_up_at` and `assigned_at` (what the pool's scheduler looks for).
Held leads get the upgrade's time in both: the scan finds none of them before a rule's days have
passed since the upgrade, so no rep loses their leads the day the pool arrives. `pool_moves`
keeps every move into or out of a pool.
"""
from datetime import UTC, datetime
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from crmkit.runtime_tables import SeqInt, Ts

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('in_pool', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('followed_up_at', Ts, nullable=True))
        batch_op.add_column(sa.Column('assigned_at', Ts, nullable=True))
        batch_op.create_index('ix_leads_pool', ['in_pool', 'team', 'seq'], unique=False)
        batch_op.create_index('ix_leads_followed_up', ['team', 'status', 'followed_up_at'], unique=False)
    leads = sa.table('leads', sa.column('owner_id', sa.String), sa.column('followed_up_at', Ts),
                     sa.column('assigned_at', Ts))
    upgraded = datetime.now(UTC)
    op.get_bind().execute(leads.update().where(leads.c.owner_id != '').values(
        followed_up_at=upgraded, assigned_at=upgraded))

    op.create_table(
        'pool_moves',
        sa.Column('seq', SeqInt, autoincrement=True, nullable=False),
        sa.Column('lead_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('team', sa.String(length=100), nullable=False),
        sa.Column('user_id', sa.String(length=100), nullable=False),
        sa.Column('actor_id', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('at', Ts, nullable=False),
        sa.PrimaryKeyConstraint('seq'),
    )
    with op.batch_alter_table('pool_moves', schema=None) as batch_op:
        batch_op.create_index('ix_pool_moves_lead', ['lead_id', 'seq'], unique=False)
        batch_op.create_index('ix_pool_moves_user', ['user_id', 'lead_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pool_moves', schema=None) as batch_op:
        batch_op.drop_index('ix_pool_moves_user')
        batch_op.drop_index('ix_pool_moves_lead')
    op.drop_table('pool_moves')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_followed_up')
        batch_op.drop_index('ix_leads_pool')
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('followed_up_at')
        batch_op.drop_column('in_pool')
