"""sms: waves by channel, recipients' phones and receipts, the projection's phone, replies

Revision ID: s001
Revises: 0003 (a branch of its own; crmkit.migrations applies every head)
Create Date: 2026-12-01 17:00:00

SMS as a campaign channel (issue 15): `send_waves.channel` (email | sms, so each sender takes its
own), the phone, provider id and delivery receipt of an SMS recipient, the phone of each
projected contact (found by an inbound reply), and every reply kept in `sms_replies`.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from crmkit.runtime_tables import SeqInt, Ts

revision: str = 's001'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('send_waves', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=10), nullable=False, server_default='email'))
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('provider_id', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('delivered_at', Ts, nullable=True))
    with op.batch_alter_table('audience_contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=False, server_default=''))
        batch_op.create_index('ix_audience_contacts_phone', ['phone'], unique=False)
    op.create_table(
        'sms_replies',
        sa.Column('seq', SeqInt, primary_key=True, autoincrement=True),
        sa.Column('phone', sa.String(length=32), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('opt_out', sa.Integer(), nullable=False),
        sa.Column('contact_ids', sa.Text(), nullable=False),
        sa.Column('sign_name', sa.String(length=100), nullable=False),
        sa.Column('sent_at', sa.String(length=40), nullable=False),
        sa.Column('received_at', Ts, nullable=False),
    )
    op.create_index('ix_sms_replies_phone', 'sms_replies', ['phone', 'seq'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sms_replies_phone', table_name='sms_replies')
    op.drop_table('sms_replies')
    with op.batch_alter_table('audience_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_audience_contacts_phone')
        batch_op.drop_column('phone')
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('provider_id')
        batch_op.drop_column('phone')
    with op.batch_alter_table('send_waves', schema=None) as batch_op:
        batch_op.drop_column('channel')
