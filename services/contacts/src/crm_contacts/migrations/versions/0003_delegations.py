"""sales' delegations, so a delegate sees the delegator's customers

Revision ID: 0003_delegations
Revises: 0002
Create Date: 2026-12-01 13:45:00

Filled from the SALES stream (crm.sales.delegation.created / .ended) from now on; a delegation
made before this revision reaches contacts only if the stream still holds its event.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0003_delegations'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'delegations',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('from_user_id', sa.String(length=100), nullable=False),
        sa.Column('to_user_id', sa.String(length=100), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.create_index('ix_delegations_to', ['to_user_id', 'ends_at'], unique=False)


def downgrade() -> None:
    op.drop_table('delegations')
