"""the public pool (公海): lead_facts.in_pool and pool_move_facts

Revision ID: 0006
Revises: 0005

A lead's newest snapshot says whether it waits in its team's pool; each pool move event
(returned, released, claimed, assigned) is one row, keyed by its event id.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lead_facts") as batch_op:
        batch_op.add_column(sa.Column("in_pool", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "pool_move_facts",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("lead_id", sa.String(length=36), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_pool_move_facts_team", "pool_move_facts", ["team", "day"])


def downgrade() -> None:
    op.drop_index("ix_pool_move_facts_team", table_name="pool_move_facts")
    op.drop_table("pool_move_facts")
    with op.batch_alter_table("lead_facts") as batch_op:
        batch_op.drop_column("in_pool")
