"""lead email column and the contact_emails projection

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:00:00

Leads get an indexed, lower-cased `email` column (backfilled from the stored snapshots), and
`contact_emails` holds each contact's email addresses as seen on the contacts stream, so an
interaction logged on a contact can be matched to the open leads with the same email.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from crm.sales.v1.sales_pb2 import Lead

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_BATCH = 1000


def _backfill_lead_emails() -> None:
    """Only leads with an email are written; keyset batches keep memory flat on big tables."""
    bind = op.get_bind()
    leads = sa.table('leads', sa.column('seq', sa.BigInteger), sa.column('id', sa.String),
                     sa.column('data', sa.LargeBinary), sa.column('email', sa.String))
    last = 0
    while True:
        rows = bind.execute(sa.select(leads.c.seq, leads.c.id, leads.c.data)
                            .where(leads.c.seq > last).order_by(leads.c.seq).limit(_BATCH)).all()
        if not rows:
            return
        last = rows[-1].seq
        updates = [{'lead_id': row.id, 'new_email': email} for row in rows
                   if (email := Lead.FromString(row.data).email.strip().lower())]
        if updates:
            bind.execute(leads.update().where(leads.c.id == sa.bindparam('lead_id'))
                         .values(email=sa.bindparam('new_email')), updates)


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=320), nullable=False, server_default=''))
        batch_op.create_index('ix_leads_email', ['email'], unique=False)
    _backfill_lead_emails()

    op.create_table(
        'contact_emails',
        sa.Column('contact_id', sa.String(length=36), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint('contact_id', 'email'),
    )
    with op.batch_alter_table('contact_emails', schema=None) as batch_op:
        batch_op.create_index('ix_contact_emails_email', ['email'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contact_emails', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_emails_email')
    op.drop_table('contact_emails')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_email')
        batch_op.drop_column('email')
