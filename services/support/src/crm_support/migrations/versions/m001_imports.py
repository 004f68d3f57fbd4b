"""ticket imports as jobs (crmkit.imports.tables), and tickets found by their external id alone

Revision ID: m001
Revises: 0004_wechat_channels
Create Date: 2026-12-01 19:40:00
"""
from collections.abc import Sequence

from alembic import op

from crmkit.imports import tables as import_tables

revision: str = 'm001'
down_revision: str | Sequence[str] | None = '0004_wechat_channels'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    import_tables.create()
    op.create_index('ix_tickets_external_ref', 'tickets', ['external_ref'])


def downgrade() -> None:
    op.drop_index('ix_tickets_external_ref', 'tickets')
    import_tables.drop()
