"""rollups of opportunities, customers, leads and tickets; churn and next-purchase models; tickets' customer

Revision ID: 0008
Revises: 0007

The rollups are filled from the detail tables here (crm_reporting.store.rollups.rebuild), then kept
by the handlers. Tickets held before this get their customer with their next event.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sa.String
_B = sa.BigInteger


def _measures(*names: str) -> list[sa.Column]:
    return [sa.Column(n, _B(), nullable=False) for n in names]


def _timed_rollup(name: str, keys: list[tuple[str, int]], sums: list[str], flags: tuple[str, ...] = (),
                  tag: bool = False) -> None:
    head = [sa.Column("tag", _S(length=100), nullable=False)] if tag else []
    op.create_table(
        name,
        sa.Column("time_field", _S(length=10), nullable=False),
        sa.Column("month", _S(length=7), nullable=False),
        *head,
        *(sa.Column(k, _S(length=size), nullable=False) for k, size in keys),
        *(sa.Column(f, sa.Integer(), nullable=False) for f in flags),
        sa.Column("quarter", _S(length=10), nullable=False),
        *_measures(*sums),
        sa.PrimaryKeyConstraint("time_field", "month", *(["tag"] if tag else []), *(k for k, _ in keys), *flags),
    )


def upgrade() -> None:
    with op.batch_alter_table("ticket_facts") as batch_op:
        batch_op.add_column(sa.Column("contact_id", _S(length=36), nullable=False, server_default=""))
    op.create_index("ix_ticket_facts_contact", "ticket_facts", ["contact_id"])
    op.create_index("ix_opportunity_facts_first_campaign", "opportunity_facts", ["first_campaign_id", "status"])
    op.create_index("ix_opportunity_facts_last_campaign", "opportunity_facts", ["last_campaign_id", "status"])
    op.create_index("ix_opportunity_facts_won_month", "opportunity_facts",
                    ["status", "closed_month", "team", "owner_id", "currency_code", "amount_units"])
    op.create_table(
        "opportunity_rollup",
        sa.Column("time_field", _S(length=10), nullable=False),
        sa.Column("month", _S(length=7), nullable=False),
        sa.Column("owner_id", _S(length=100), nullable=False),
        sa.Column("team", _S(length=100), nullable=False),
        sa.Column("region", _S(length=100), nullable=False),
        sa.Column("stage", _S(length=50), nullable=False),
        sa.Column("status", _S(length=10), nullable=False),
        sa.Column("currency_code", _S(length=3), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("quarter", _S(length=10), nullable=False),
        *_measures("n", "amount_units", "weighted_units", "probability_sum", "cycle_days_sum", "cycle_n"),
        sa.PrimaryKeyConstraint("time_field", "month", "owner_id", "team", "region", "stage", "status",
                                "currency_code", "probability"),
    )
    op.create_table(
        "customer_rollup",
        sa.Column("grain", _S(length=5), nullable=False),
        sa.Column("owner_id", _S(length=100), nullable=False),
        sa.Column("team", _S(length=100), nullable=False),
        sa.Column("region", _S(length=100), nullable=False),
        sa.Column("source", _S(length=30), nullable=False),
        sa.Column("level", _S(length=20), nullable=False),
        sa.Column("created_day", _S(length=10), nullable=False),
        *_measures("n"),
        sa.PrimaryKeyConstraint("grain", "owner_id", "team", "region", "source", "level", "created_day"),
    )
    op.create_table(
        "customer_tag_rollup",
        sa.Column("tag", _S(length=100), nullable=False),
        sa.Column("owner_id", _S(length=100), nullable=False),
        sa.Column("team", _S(length=100), nullable=False),
        sa.Column("region", _S(length=100), nullable=False),
        *_measures("n"),
        sa.PrimaryKeyConstraint("tag", "owner_id", "team", "region"),
    )
    _timed_rollup("lead_rollup", [("owner_id", 100), ("team", 100), ("region", 100), ("source", 30),
                                   ("status", 20), ("campaign_id", 36)], ["n"])
    ticket_keys = [("status", 20), ("priority", 20), ("assignee_id", 100)]
    ticket_sums = ["n", "resolution_sum", "resolution_n", "first_response_sum", "first_response_n"]
    _timed_rollup("ticket_rollup", ticket_keys, ticket_sums, flags=("solved", "breached"))
    _timed_rollup("ticket_tag_rollup", ticket_keys, ticket_sums, flags=("solved", "breached"), tag=True)
    op.create_table(
        "prediction_models",
        sa.Column("kind", _S(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", _S(length=20), nullable=False),
        sa.Column("reason", _S(length=500), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("evaluation", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "version"),
    )
    op.create_table(
        "predictions",
        sa.Column("kind", _S(length=20), nullable=False),
        sa.Column("contact_id", _S(length=36), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("owner_id", _S(length=100), nullable=False),
        sa.Column("team", _S(length=100), nullable=False),
        sa.Column("region", _S(length=100), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "contact_id"),
    )
    op.create_index("ix_predictions_rank", "predictions", ["kind", "probability"])
    from crm_reporting.store.rollups import rebuild
    rebuild(op.get_bind(), revisions=("0008",))


def downgrade() -> None:
    op.drop_index("ix_predictions_rank", table_name="predictions")
    for name in ("predictions", "prediction_models", "ticket_tag_rollup", "ticket_rollup", "lead_rollup",
                 "customer_tag_rollup", "customer_rollup", "opportunity_rollup"):
        op.drop_table(name)
    for name in ("ix_opportunity_facts_won_month", "ix_opportunity_facts_last_campaign",
                 "ix_opportunity_facts_first_campaign"):
        op.drop_index(name, table_name="opportunity_facts")
    op.drop_index("ix_ticket_facts_contact", table_name="ticket_facts")
    with op.batch_alter_table("ticket_facts") as batch_op:
        batch_op.drop_column("contact_id")
