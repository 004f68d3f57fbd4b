"""imports of leads and products as jobs; leads get a phone column (duplicates are found by it)

Revision ID: m001
Revises: 0003
Create Date: 2026-12-01 19:40:00

The import tables are crmkit.imports.tables'. Existing leads' phones are copied from their
snapshots into the new column.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm.sales.v1.sales_pb2 import Lead
from crmkit.imports import tables as import_tables

revision: str = 'm001'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    import_tables.create()
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(40), nullable=False, server_default=''))
        batch_op.create_index('ix_leads_phone', ['phone'], unique=False)
    leads = sa.table('leads', sa.column('id', sa.String), sa.column('phone', sa.String),
                     sa.column('data', sa.LargeBinary))
    bind = op.get_bind()
    for record_id, data in bind.execute(sa.select(leads.c.id, leads.c.data)).all():
        phone = Lead.FromString(data).phone
        if phone:
            bind.execute(leads.update().where(leads.c.id == record_id).values(phone=phone))


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_phone')
        batch_op.drop_column('phone')
    import_tables.drop()
