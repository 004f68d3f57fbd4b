"""initial: subscriptions, their event types, the delivery queue and log, and the runtime tables

Revision ID: 0001
Revises:
Create Date: 2026-12-01 17:00:00

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
        'webhook_subscriptions',
        sa.Column('seq', SeqInt, primary_key=True, autoincrement=True),
        sa.Column('id', sa.String(36), nullable=False, unique=True),
        sa.Column('owner_id', sa.String(100), nullable=False),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('target_url', sa.Text(), nullable=False),
        sa.Column('secret', sa.String(100), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
    )
    op.create_index('ix_webhook_subscriptions_owner', 'webhook_subscriptions', ['owner_id', 'seq'])
    op.create_table(
        'webhook_subscription_types',
        sa.Column('event_type', sa.String(120), primary_key=True),
        sa.Column('subscription_id', sa.String(36), primary_key=True),
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('seq', SeqInt, primary_key=True, autoincrement=True),
        sa.Column('id', sa.String(36), nullable=False, unique=True),
        sa.Column('subscription_id', sa.String(36), nullable=False),
        sa.Column('event_id', sa.String(36), nullable=False),
        sa.Column('event_type', sa.String(120), nullable=False),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_status_code', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('created_at', Ts, nullable=False),
        sa.Column('next_attempt_at', Ts, nullable=True),
        sa.Column('retry_until', Ts, nullable=False),
        sa.Column('last_attempt_at', Ts, nullable=True),
        sa.Column('delivered_at', Ts, nullable=True),
        sa.Column('body', sa.LargeBinary(), nullable=False),
    )
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['next_attempt_at'])
    op.create_index('ix_webhook_deliveries_log', 'webhook_deliveries', ['subscription_id', 'seq'])
    op.create_index('ix_webhook_deliveries_created', 'webhook_deliveries', ['created_at'])


def downgrade() -> None:
    for index, table in (('ix_webhook_deliveries_created', 'webhook_deliveries'),
                         ('ix_webhook_deliveries_log', 'webhook_deliveries'),
                         ('ix_webhook_deliveries_due', 'webhook_deliveries')):
        op.drop_index(index, table)
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_subscription_types')
    op.drop_index('ix_webhook_subscriptions_owner', 'webhook_subscriptions')
    op.drop_table('webhook_subscriptions')
