"""analytics: the days, weeks and quarters of opportunities, leads, tickets and CSAT answers, a
deal's probability and cycle, tickets' team, region, type, channel and tags; sales targets, saved
queries and dashboards

Revision ID: 0005
Revises: 0004
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GRAINS = ("day", "week", "quarter")


def _text(name: str, length: int = 10) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length), nullable=False, server_default="")


def _definitions(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("sharing", sa.String(10), nullable=False),
        sa.Column("owner_id", sa.String(100), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def upgrade() -> None:
    # Rows already held keep "" until their next event (a fresh durable rebuilds everything).
    with op.batch_alter_table("opportunity_facts") as batch:
        for when in ("created", "closed", "expected"):
            for grain in _GRAINS:
                batch.add_column(_text(f"{when}_{grain}"))
        batch.add_column(sa.Column("probability", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("cycle_days", sa.Integer, nullable=True))
        batch.create_index("ix_opportunity_facts_owner", ["owner_id"])
        batch.create_index("ix_opportunity_facts_team", ["team"])     # a manager's visibility
        batch.create_index("ix_opportunity_facts_region", ["region"])
    with op.batch_alter_table("lead_facts") as batch:
        for grain in _GRAINS:
            batch.add_column(_text(f"created_{grain}"))
    with op.batch_alter_table("ticket_facts") as batch:
        batch.add_column(_text("team", 100))
        batch.add_column(_text("region", 100))
        batch.add_column(_text("type", 20))
        batch.add_column(_text("channel", 20))
        for when in ("created", "solved"):
            for grain in _GRAINS:
                batch.add_column(_text(f"{when}_{grain}"))
    with op.batch_alter_table("csat_facts") as batch:
        batch.add_column(_text("answered_week"))
        batch.add_column(_text("answered_quarter"))
    op.create_table(
        "ticket_tags",
        sa.Column("ticket_id", sa.String(36), primary_key=True),
        sa.Column("tag", sa.String(100), primary_key=True),
    )
    op.create_index("ix_ticket_tags_tag", "ticket_tags", ["tag"])
    op.create_table(
        "sales_targets",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("team", sa.String(100), primary_key=True),
        sa.Column("rep_id", sa.String(100), primary_key=True),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("amount_units", sa.BigInteger, nullable=False),
        sa.Column("set_by", sa.String(100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    _definitions("saved_queries")
    _definitions("dashboards")


def downgrade() -> None:
    for name in ("dashboards", "saved_queries", "sales_targets"):
        op.drop_table(name)
    op.drop_index("ix_ticket_tags_tag", table_name="ticket_tags")
    op.drop_table("ticket_tags")
    with op.batch_alter_table("csat_facts") as batch:
        batch.drop_column("answered_quarter")
        batch.drop_column("answered_week")
    with op.batch_alter_table("ticket_facts") as batch:
        for name in ("team", "region", "type", "channel",
                     *(f"{w}_{g}" for w in ("created", "solved") for g in _GRAINS)):
            batch.drop_column(name)
    with op.batch_alter_table("lead_facts") as batch:
        for grain in _GRAINS:
            batch.drop_column(f"created_{grain}")
    with op.batch_alter_table("opportunity_facts") as batch:
        for index in ("owner", "team", "region"):
            batch.drop_index(f"ix_opportunity_facts_{index}")
        for name in ("probability", "cycle_days",
                     *(f"{w}_{g}" for w in ("created", "closed", "expected") for g in _GRAINS)):
            batch.drop_column(name)
