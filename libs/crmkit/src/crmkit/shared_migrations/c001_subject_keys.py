"""the subject keys of crypto-shredding

Revision ID: c001
Revises: 0001 (a branch of its own: it needs only the runtime tables; crmkit.migrations applies every head)
Shared: every service's history has it (crmkit.migrations.SHARED_VERSIONS), so it is written once
Create Date: 2026-12-01 19:30:00

`crm_subject_keys` (crmkit.shredding): the data key of each personal record whose events carry
sealed personal fields; erasure deletes the record's key.
"""
from alembic import op

from crmkit.runtime_tables import subject_key_row

revision = 'c001'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    subject_key_row.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    subject_key_row.drop(op.get_bind(), checkfirst=True)
