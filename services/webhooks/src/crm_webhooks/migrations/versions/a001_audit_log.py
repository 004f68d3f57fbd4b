"""the audit log: hash-chained, append-only

Revision ID: a001
Revises: 0001 (a branch of its own: it needs only the runtime tables; crmkit.migrations applies every head)
Create Date: 2026-12-01 17:00:00

`crm_audit_log` and its head row (crmkit.audit), and on PostgreSQL the trigger that refuses
UPDATE, DELETE and TRUNCATE on it (retention's pruning of the oldest rows excepted).
"""
from alembic import op

from crmkit.audit import schema

revision = 'a001'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema.install(op.get_bind())


def downgrade() -> None:
    schema.uninstall(op.get_bind())
