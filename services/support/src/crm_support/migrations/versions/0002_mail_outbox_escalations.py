"""mail outbox and the escalated_to column

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00

`mail_outbox` holds the mail support sends (CSAT surveys, SLA warnings, escalations), written in
the transaction of what caused it; tickets get an indexed `escalated_to` column (backfilled from
the stored snapshots) for the "my escalations" list.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from crm.support.v1.support_pb2 import Ticket

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_BATCH = 1000


def _backfill_escalated_to() -> None:
    """Keyset batches keep memory flat; only escalated tickets are written."""
    bind = op.get_bind()
    tickets = sa.table('tickets', sa.column('seq', sa.BigInteger), sa.column('id', sa.String),
                       sa.column('data', sa.LargeBinary), sa.column('escalated_to', sa.String))
    last = 0
    while True:
        rows = bind.execute(sa.select(tickets.c.seq, tickets.c.id, tickets.c.data)
                            .where(tickets.c.seq > last).order_by(tickets.c.seq).limit(_BATCH)).all()
        if not rows:
            return
        last = rows[-1].seq
        updates = [{'ticket_id': row.id, 'to': to} for row in rows if (to := Ticket.FromString(row.data).escalated_to)]
        if updates:
            bind.execute(tickets.update().where(tickets.c.id == sa.bindparam('ticket_id'))
                         .values(escalated_to=sa.bindparam('to')), updates)


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_to', sa.String(length=100), nullable=False, server_default=''))
        batch_op.create_index('ix_tickets_escalated', ['escalated_to', 'seq'], unique=False)
    _backfill_escalated_to()

    op.create_table(
        'mail_outbox',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('purpose', sa.String(length=30), nullable=False),
        sa.Column('ticket_id', sa.String(length=36), nullable=False),
        sa.Column('recipient_id', sa.String(length=100), nullable=False),
        sa.Column('recipient', sa.String(length=400), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('message_id', sa.String(length=300), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('params', sa.Text(), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('seq'),
        sa.UniqueConstraint('key'),
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_mail_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_mail_outbox_ticket', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_table('mail_outbox')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_escalated')
        batch_op.drop_column('escalated_to')
