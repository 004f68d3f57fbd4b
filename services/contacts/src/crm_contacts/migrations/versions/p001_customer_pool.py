"""the public pool (公海) of customers

Revision ID: p001
Revises: 0003_delegations (a branch of its own; crmkit.migrations applies every head)
Create Date: 2026-12-01 16:40:00

Accounts get `in_pool` and `assigned_at` (the upgrade's time: the scan finds no account before a
rule's days have passed since the upgrade, so no rep loses their customers the day the pool
arrives), `account_pool_moves` keeps every move into or out of a pool, and `pool_rules` the team
rules sales publishes.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = 'p001'
down_revision = '0003_delegations'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('in_pool', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_accounts_pool', ['in_pool', 'team', 'seq'], unique=False)
    accounts = sa.table('accounts', sa.column('assigned_at', sa.DateTime(timezone=True)))
    op.get_bind().execute(accounts.update().values(assigned_at=datetime.now(UTC)))
    op.create_table(
        'account_pool_moves',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('team', sa.String(length=100), nullable=False),
        sa.Column('user_id', sa.String(length=100), nullable=False),
        sa.Column('actor_id', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('seq'),
    )
    with op.batch_alter_table('account_pool_moves', schema=None) as batch_op:
        batch_op.create_index('ix_account_pool_moves_account', ['account_id', 'seq'], unique=False)
        batch_op.create_index('ix_account_pool_moves_user', ['user_id', 'account_id', 'at'], unique=False)
    op.create_table(
        'pool_rules',
        sa.Column('key', sa.String(length=20), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('pool_rules')
    with op.batch_alter_table('account_pool_moves', schema=None) as batch_op:
        batch_op.drop_index('ix_account_pool_moves_user')
        batch_op.drop_index('ix_account_pool_moves_account')
    op.drop_table('account_pool_moves')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_pool')
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('in_pool')
