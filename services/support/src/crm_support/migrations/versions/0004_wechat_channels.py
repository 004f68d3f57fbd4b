"""WeChat and WeCom channels: callback messages taken once, and the replies' outbox

Revision ID: 0004_wechat_channels
Revises: 0003_ticket_scope
Create Date: 2026-12-01 16:40:00

`channel_messages` holds each callback message once (unique account + MsgId, or FromUserName +
CreateTime for events) until the channel worker has made its ticket; `channel_outbox` the agents'
replies on wechat / wecom tickets until the platform's send API took them.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from crmkit.runtime_tables import SeqInt, Ts

revision: str = '0004_wechat_channels'
down_revision: Union[str, Sequence[str], None] = '0003_ticket_scope'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'channel_messages',
        sa.Column('seq', SeqInt, autoincrement=True, nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('dedup_key', sa.String(length=200), nullable=False),
        sa.Column('platform', sa.String(length=10), nullable=False),
        sa.Column('from_user', sa.String(length=128), nullable=False),
        sa.Column('msg_type', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', Ts, nullable=False),
        sa.Column('received_at', Ts, nullable=False),
        sa.Column('ticket_id', sa.String(length=36), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('seq'),
        sa.UniqueConstraint('account', 'dedup_key', name='uq_channel_messages_dedup'),
    )
    op.create_index('ix_channel_messages_due', 'channel_messages', ['status', 'next_attempt_at'], unique=False)
    op.create_table(
        'channel_outbox',
        sa.Column('seq', SeqInt, autoincrement=True, nullable=False),
        sa.Column('comment_id', sa.String(length=36), nullable=False),
        sa.Column('ticket_id', sa.String(length=36), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('to_user', sa.String(length=128), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', Ts, nullable=False),
        sa.Column('created_at', Ts, nullable=False),
        sa.Column('sent_at', Ts, nullable=True),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('seq'),
        sa.UniqueConstraint('comment_id'),
    )
    op.create_index('ix_channel_outbox_due', 'channel_outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_channel_outbox_ticket', 'channel_outbox', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_channel_outbox_ticket', table_name='channel_outbox')
    op.drop_index('ix_channel_outbox_due', table_name='channel_outbox')
    op.drop_table('channel_outbox')
    op.drop_index('ix_channel_messages_due', table_name='channel_messages')
    op.drop_table('channel_messages')
