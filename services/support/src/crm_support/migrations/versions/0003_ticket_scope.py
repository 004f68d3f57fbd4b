"""tickets get the region and team their managers see them by

Revision ID: 0003_ticket_scope
Revises: 0002
Create Date: 2026-12-01 13:40:00

A manager works the tickets of their region and team (not every ticket): each ticket keeps the
region and team of its customer, else of its author, set when it opens. Tickets opened before
this revision have neither; they stay with support agents, their assignee and their author.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0003_ticket_scope'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('team', sa.String(length=100), nullable=False, server_default=''))
        batch_op.create_index('ix_tickets_region', ['region', 'seq'], unique=False)
        batch_op.create_index('ix_tickets_team', ['team', 'seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_team')
        batch_op.drop_index('ix_tickets_region')
        batch_op.drop_column('team')
        batch_op.drop_column('region')
