"""campaign reports: campaigns, send waves, email engagement, attributed leads, form submissions'
leads, touches, lead-contact links, and the opportunity's lead, contact, close time and first /
last touch campaigns

Revision ID: 0004
Revises: 0003
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPPORTUNITY_COLUMNS = ("lead_id", "contact_id", "first_campaign_id", "last_campaign_id")


def upgrade() -> None:
    # Opportunities and leads already held keep "" until their next event: reporting replays
    # nothing by itself (a new durable on the SALES stream rebuilds everything).
    with op.batch_alter_table("opportunity_facts") as batch:
        for name in _OPPORTUNITY_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(36), nullable=False, server_default=""))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_opportunity_facts_lead", ["lead_id"])
        batch.create_index("ix_opportunity_facts_contact", ["contact_id"])
    with op.batch_alter_table("lead_facts") as batch:
        batch.add_column(sa.Column("campaign_id", sa.String(36), nullable=False, server_default=""))

    op.create_table(
        "campaign_facts",
        sa.Column("campaign_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner_id", sa.String(100), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("start_date", sa.String(10), nullable=False),
        sa.Column("end_date", sa.String(10), nullable=False),
        sa.Column("budget_currency", sa.String(3), nullable=False),
        sa.Column("budget_units", sa.BigInteger, nullable=False),
        sa.Column("cost_currency", sa.String(3), nullable=False),
        sa.Column("cost_units", sa.BigInteger, nullable=False),
        sa.Column("live", sa.Boolean, nullable=False),
    )
    op.create_index("ix_campaign_facts_channel", "campaign_facts", ["channel"])
    op.create_table(
        "wave_facts",
        sa.Column("wave_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("recipients", sa.BigInteger, nullable=False),
        sa.Column("delivered", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("send_day", sa.String(10), nullable=False),
        sa.Column("send_week", sa.String(10), nullable=False),
    )
    op.create_index("ix_wave_facts_campaign", "wave_facts", ["campaign_id"])
    op.create_index("ix_wave_facts_send_day", "wave_facts", ["send_day"])
    op.create_table(
        "email_engagement_facts",
        sa.Column("wave_id", sa.String(36), primary_key=True),
        sa.Column("contact_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(15), primary_key=True),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("week", sa.String(10), nullable=False),
    )
    op.create_index("ix_email_engagement_facts_campaign", "email_engagement_facts", ["campaign_id", "kind"])
    op.create_index("ix_email_engagement_facts_kind_day", "email_engagement_facts", ["kind", "day"])
    op.create_table(
        "campaign_lead_facts",
        sa.Column("campaign_id", sa.String(36), primary_key=True),
        sa.Column("lead_key", sa.String(80), primary_key=True),
        sa.Column("source", sa.String(20), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_campaign_lead_facts_lead", "campaign_lead_facts", ["lead_id"])
    op.create_table(
        "campaign_touches",
        sa.Column("touch_id", sa.String(80), primary_key=True),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("contact_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaign_touches_lead", "campaign_touches", ["lead_id"])
    op.create_index("ix_campaign_touches_contact", "campaign_touches", ["contact_id"])
    op.create_table(
        "submission_lead_links",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "lead_contact_links",
        sa.Column("lead_id", sa.String(36), primary_key=True),
        sa.Column("contact_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_lead_contact_links_contact", "lead_contact_links", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_lead_contact_links_contact", table_name="lead_contact_links")
    op.drop_table("lead_contact_links")
    op.drop_table("submission_lead_links")
    op.drop_index("ix_campaign_touches_contact", table_name="campaign_touches")
    op.drop_index("ix_campaign_touches_lead", table_name="campaign_touches")
    op.drop_table("campaign_touches")
    op.drop_index("ix_campaign_lead_facts_lead", table_name="campaign_lead_facts")
    op.drop_table("campaign_lead_facts")
    op.drop_index("ix_email_engagement_facts_kind_day", table_name="email_engagement_facts")
    op.drop_index("ix_email_engagement_facts_campaign", table_name="email_engagement_facts")
    op.drop_table("email_engagement_facts")
    op.drop_index("ix_wave_facts_send_day", table_name="wave_facts")
    op.drop_index("ix_wave_facts_campaign", table_name="wave_facts")
    op.drop_table("wave_facts")
    op.drop_index("ix_campaign_facts_channel", table_name="campaign_facts")
    op.drop_table("campaign_facts")
    with op.batch_alter_table("lead_facts") as batch:
        batch.drop_column("campaign_id")
    with op.batch_alter_table("opportunity_facts") as batch:
        batch.drop_index("ix_opportunity_facts_contact")
        batch.drop_index("ix_opportunity_facts_lead")
        batch.drop_column("closed_at")
        for name in reversed(_OPPORTUNITY_COLUMNS):
            batch.drop_column(name)
