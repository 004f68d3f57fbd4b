"""sms notices: the outbox of SMS to customers who chose SMS for ticket updates

Revision ID: s001_sms_outbox
Revises: 0003_ticket_scope (a branch of its own beside 0004; crmkit.migrations applies every head)
Create Date: 2026-12-01 17:10:00

A ticket's `notice_channel` / `notice_phone` live in its snapshot; this is the outbox their SMS
go through (issue 15).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from crmkit.runtime_tables import SeqInt, Ts

revision: str = 's001_sms_outbox'
down_revision: Union[str, Sequence[str], None] = '0003_ticket_scope'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'sms_outbox',
        sa.Column('seq', SeqInt, primary_key=True, autoincrement=True),
        sa.Column('key', sa.String(length=200), nullable=False, unique=True),
        sa.Column('ticket_id', sa.String(length=36), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=False),
        sa.Column('params', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', Ts, nullable=False),
        sa.Column('created_at', Ts, nullable=False),
        sa.Column('sent_at', Ts, nullable=True),
        sa.Column('provider_id', sa.String(length=64), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('delivered_at', Ts, nullable=True),
    )
    op.create_index('ix_sms_outbox_due', 'sms_outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_sms_outbox_ticket', 'sms_outbox', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sms_outbox_ticket', table_name='sms_outbox')
    op.drop_index('ix_sms_outbox_due', table_name='sms_outbox')
    op.drop_table('sms_outbox')
