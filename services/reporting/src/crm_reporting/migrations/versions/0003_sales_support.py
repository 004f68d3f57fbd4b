"""sales and support read models: opportunities, leads, tickets, SLA breaches, CSAT answers

Revision ID: 0003
Revises: 0002
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opportunity_facts",
        sa.Column("opportunity_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.String(100), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("stage", sa.String(50), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("amount_units", sa.BigInteger, nullable=False),
        sa.Column("closed_month", sa.String(7), nullable=False),
    )
    op.create_index("ix_opportunity_facts_status", "opportunity_facts", ["status"])
    op.create_table(
        "lead_facts",
        sa.Column("lead_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.String(100), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_table(
        "ticket_facts",
        sa.Column("ticket_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("assignee_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("first_response_seconds", sa.BigInteger, nullable=True),
        sa.Column("resolution_seconds", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "sla_breach_facts",
        sa.Column("ticket_id", sa.String(36), primary_key=True),
        sa.Column("metric", sa.String(30), primary_key=True),
    )
    op.create_table(
        "csat_facts",
        sa.Column("ticket_id", sa.String(36), primary_key=True),
        sa.Column("assignee_id", sa.String(100), nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_day", sa.String(10), nullable=False),
    )
    op.create_index("ix_csat_facts_day", "csat_facts", ["answered_day"])


def downgrade() -> None:
    op.drop_index("ix_csat_facts_day", table_name="csat_facts")
    op.drop_table("csat_facts")
    op.drop_table("sla_breach_facts")
    op.drop_table("ticket_facts")
    op.drop_table("lead_facts")
    op.drop_index("ix_opportunity_facts_status", table_name="opportunity_facts")
    op.drop_table("opportunity_facts")
