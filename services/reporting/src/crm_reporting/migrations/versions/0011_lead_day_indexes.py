"""indexes of lead_facts for queries by created day (week and day grains, windows on any day)

Revision ID: 0011
Revises: 0010

Leads have no day rollup (per owner, source, status and campaign a day holds about one lead, so
it would be as long as the leads): a week or day grain reads lead_facts. These indexes let it read
only the window's rows: the analyst's from one index holding every catalogue column (nothing
else is read), a rep's by owner and a manager's by team or region.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_lead_facts_created": ["created_day", "created_week", "source", "status", "owner_id", "team", "region",
                              "campaign_id"],
    "ix_lead_facts_owner_created": ["owner_id", "created_day"],
    "ix_lead_facts_team_created": ["team", "created_day"],
    "ix_lead_facts_region_created": ["region", "created_day"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "lead_facts", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="lead_facts")
