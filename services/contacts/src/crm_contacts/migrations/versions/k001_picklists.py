"""the picklist vocabulary contacts owns

Revision ID: k001
Revises: 0001 (a branch of its own; crmkit.migrations applies every head)
Create Date: 2026-12-01 19:40:00

`contacts_settings` holds settings documents (crmkit.settings_store); the first is "picklists",
the source / industry / level / lifecycle stage vocabulary an administrator edits. Absent, the
built-in values of proto/crm/common/v1/picklists.proto apply, so no row is written here.
"""
import sqlalchemy as sa
from alembic import op

revision = 'k001'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'contacts_settings',
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('contacts_settings')
