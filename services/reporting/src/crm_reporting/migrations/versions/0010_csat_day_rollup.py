"""rollups per day of CSAT answers (by assignee and rating) and of tickets

Revision ID: 0010
Revises: 0009

Filled from the answers and tickets already held (crm_reporting.store.rollups.rebuild,
revision 0010), then kept by the handlers in the transaction that writes the detail row.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sa.String


def _measures(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.BigInteger(), nullable=False) for n in names]


def _day_keys() -> list[sa.Column]:
    return [sa.Column("time_field", _S(length=10), nullable=False), sa.Column("day", _S(length=10), nullable=False)]


def _weeks() -> list[sa.Column]:
    return [sa.Column("week", _S(length=10), nullable=False), sa.Column("quarter", _S(length=10), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "csat_day_rollup",
        sa.Column("time_field", _S(length=10), nullable=False),
        sa.Column("day", _S(length=10), nullable=False),
        sa.Column("assignee_id", _S(length=100), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("week", _S(length=10), nullable=False),
        sa.Column("quarter", _S(length=10), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("rating_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("time_field", "day", "assignee_id", "rating"),
    )
    op.create_table(
        "ticket_day_rollup",
        *_day_keys(),
        sa.Column("status", _S(length=20), nullable=False),
        sa.Column("priority", _S(length=20), nullable=False),
        sa.Column("assignee_id", _S(length=100), nullable=False),
        sa.Column("solved", sa.Integer(), nullable=False),
        sa.Column("breached", sa.Integer(), nullable=False),
        *_weeks(),
        *_measures("n", "resolution_sum", "resolution_n", "first_response_sum", "first_response_n"),
        sa.PrimaryKeyConstraint("time_field", "day", "status", "priority", "assignee_id", "solved", "breached"),
    )
    from crm_reporting.store.rollups import rebuild
    rebuild(op.get_bind(), revisions=("0010",))


def downgrade() -> None:
    for name in ("ticket_day_rollup", "csat_day_rollup"):
        op.drop_table(name)
