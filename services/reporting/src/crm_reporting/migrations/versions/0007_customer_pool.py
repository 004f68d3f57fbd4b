"""the public pool (公海) of customers: pool_move_facts.record_type and account_pool_facts

Revision ID: 0007
Revises: 0006

Pool moves name the kind of record (lead, or account for contacts' pool of customers; the rows
before this are leads') and its id (`lead_id` becomes `record_id`), and each account's newest
snapshot says whether it waits in a pool.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pool_move_facts") as batch_op:
        batch_op.add_column(sa.Column("record_type", sa.String(length=20), nullable=False, server_default="lead"))
        batch_op.alter_column("lead_id", new_column_name="record_id", existing_type=sa.String(length=36),
                              existing_nullable=False)
    op.create_table(
        "account_pool_facts",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("in_pool", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_index("ix_account_pool_facts_team", "account_pool_facts", ["in_pool", "team"])


def downgrade() -> None:
    op.drop_index("ix_account_pool_facts_team", table_name="account_pool_facts")
    op.drop_table("account_pool_facts")
    with op.batch_alter_table("pool_move_facts") as batch_op:
        batch_op.alter_column("record_id", new_column_name="lead_id", existing_type=sa.String(length=36),
                              existing_nullable=False)
        batch_op.drop_column("record_type")
