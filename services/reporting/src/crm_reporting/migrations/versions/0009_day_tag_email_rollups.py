"""rollups of opportunities per day, of tagged customers, of email per wave and day, of campaign revenue

Revision ID: 0009
Revises: 0008

The new rollups are filled from the detail tables here (crm_reporting.store.rollups.rebuild,
revision 0009), then kept by the handlers with the detail rows.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sa.String


def _measures(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.BigInteger(), nullable=False) for n in names]


def upgrade() -> None:
    op.create_table(
        "opportunity_day_rollup",
        sa.Column("time_field", _S(length=10), nullable=False),
        sa.Column("day", _S(length=10), nullable=False),
        sa.Column("owner_id", _S(length=100), nullable=False),
        sa.Column("team", _S(length=100), nullable=False),
        sa.Column("region", _S(length=100), nullable=False),
        sa.Column("stage", _S(length=50), nullable=False),
        sa.Column("status", _S(length=10), nullable=False),
        sa.Column("currency_code", _S(length=3), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("week", _S(length=10), nullable=False),
        sa.Column("quarter", _S(length=10), nullable=False),
        *_measures("n", "amount_units", "weighted_units", "probability_sum", "cycle_days_sum", "cycle_n"),
        sa.PrimaryKeyConstraint("time_field", "day", "owner_id", "team", "region", "stage", "status", "currency_code",
                                "probability"),
    )
    op.create_index("ix_opportunity_day_rollup_day", "opportunity_day_rollup", ["time_field", "day"])
    op.create_table(
        "tagged_customer_rollup",
        sa.Column("tag", _S(length=100), nullable=False),
        sa.Column("grain", _S(length=5), nullable=False),
        sa.Column("owner_id", _S(length=100), nullable=False),
        sa.Column("team", _S(length=100), nullable=False),
        sa.Column("region", _S(length=100), nullable=False),
        sa.Column("source", _S(length=30), nullable=False),
        sa.Column("level", _S(length=20), nullable=False),
        sa.Column("created_day", _S(length=10), nullable=False),
        sa.Column("other_tag", _S(length=100), nullable=False),
        *_measures("n"),
        sa.PrimaryKeyConstraint("tag", "grain", "owner_id", "team", "region", "source", "level", "created_day",
                                "other_tag"),
    )
    op.create_table(
        "email_rollup",
        sa.Column("wave_id", _S(length=36), nullable=False),
        sa.Column("campaign_id", _S(length=36), nullable=False),
        sa.Column("day", _S(length=10), nullable=False),
        sa.Column("week", _S(length=10), nullable=False),
        *_measures("n", "delivered", "opened_delivered", "clicked_delivered", "unsubscribed_delivered", "opened",
                   "clicked", "unsubscribed"),
        sa.PrimaryKeyConstraint("wave_id", "campaign_id", "day"),
    )
    op.create_index("ix_email_rollup_campaign", "email_rollup", ["campaign_id", "day"])
    op.create_table(
        "campaign_revenue_rollup",
        sa.Column("campaign_id", _S(length=36), nullable=False),
        sa.Column("touch", _S(length=5), nullable=False),
        sa.Column("currency_code", _S(length=3), nullable=False),
        *_measures("n", "amount_units"),
        sa.PrimaryKeyConstraint("campaign_id", "touch", "currency_code"),
    )
    from crm_reporting.store.rollups import rebuild
    rebuild(op.get_bind(), revisions=("0009",))


def downgrade() -> None:
    op.drop_index("ix_email_rollup_campaign", table_name="email_rollup")
    op.drop_index("ix_opportunity_day_rollup_day", table_name="opportunity_day_rollup")
    for name in ("campaign_revenue_rollup", "email_rollup", "tagged_customer_rollup", "opportunity_day_rollup"):
        op.drop_table(name)
