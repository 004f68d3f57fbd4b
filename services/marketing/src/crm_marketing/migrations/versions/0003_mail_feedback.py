"""mail feedback: recipients found by Message-ID

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:05:00

A bounce the relay reports names our Message-ID; `ix_recipients_message_id` finds its mail.
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_recipients_message_id', 'recipients', ['message_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_recipients_message_id', table_name='recipients')
