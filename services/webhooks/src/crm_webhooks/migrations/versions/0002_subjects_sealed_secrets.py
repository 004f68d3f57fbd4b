"""the people each delivery is about (for data-subject export and erasure), and room for sealed secrets

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 17:45:00

`webhook_delivery_subjects`: one row per contact id, email or phone a delivery's payload names,
taken from the payload before it is masked (an integration user's body holds only masked
addresses, so the body alone cannot say whom it is about). `webhook_subscriptions.secret` holds a
Fernet token now (crm_webhooks.rules.sealing), longer than 100 characters.
`webhook_erased_subjects`: keyed hashes of the people erased here, whose later events make no delivery.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from crmkit.runtime_tables import SeqInt, Ts

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'webhook_delivery_subjects',
        sa.Column('seq', SeqInt, primary_key=True, autoincrement=True),
        sa.Column('delivery_id', sa.String(36), nullable=False),
        sa.Column('contact_id', sa.String(100), nullable=False),
        sa.Column('email', sa.String(320), nullable=False),
        sa.Column('phone', sa.String(40), nullable=False),
    )
    op.create_index('ix_webhook_delivery_subjects_delivery', 'webhook_delivery_subjects', ['delivery_id'])
    op.create_index('ix_webhook_delivery_subjects_contact', 'webhook_delivery_subjects', ['contact_id'])
    op.create_index('ix_webhook_delivery_subjects_email', 'webhook_delivery_subjects', ['email'])
    op.create_index('ix_webhook_delivery_subjects_phone', 'webhook_delivery_subjects', ['phone'])
    op.create_table(
        'webhook_erased_subjects',
        sa.Column('hash', sa.String(64), primary_key=True),
        sa.Column('erased_at', Ts, nullable=False),
    )
    with op.batch_alter_table('webhook_subscriptions') as batch:
        batch.alter_column('secret', type_=sa.Text(), existing_type=sa.String(100), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_subscriptions') as batch:
        batch.alter_column('secret', type_=sa.String(100), existing_type=sa.Text(), existing_nullable=False)
    op.drop_table('webhook_erased_subjects')
    for index in ('phone', 'email', 'contact', 'delivery'):
        op.drop_index(f'ix_webhook_delivery_subjects_{index}', 'webhook_delivery_subjects')
    op.drop_table('webhook_delivery_subjects')
