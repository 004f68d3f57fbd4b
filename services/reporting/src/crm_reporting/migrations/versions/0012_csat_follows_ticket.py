"""CSAT answers counted under their ticket's assignee

Revision ID: 0012
Revises: 0011

An answer kept the assignee its event named when the customer answered; a ticket reassigned (or
offboarded) afterwards left its answer with the old assignee, who still counted it and drilled
down to a ticket they could no longer read. The handlers now move the answer with the ticket; this
gives the answers already held their ticket's assignee and rebuilds the CSAT rollup from them.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_answers = sa.table("csat_facts", sa.column("ticket_id"), sa.column("assignee_id"))
_tickets = sa.table("ticket_facts", sa.column("ticket_id"), sa.column("assignee_id"))


def upgrade() -> None:
    held = (sa.select(_tickets.c.assignee_id).where(_tickets.c.ticket_id == _answers.c.ticket_id)
            .scalar_subquery())
    moved = sa.exists().where(_tickets.c.ticket_id == _answers.c.ticket_id,
                              _tickets.c.assignee_id != _answers.c.assignee_id)
    bind = op.get_bind()
    bind.execute(sa.update(_answers).where(moved).values(assignee_id=held))
    from crm_reporting.store.rollups import rebuild_csat
    rebuild_csat(bind)


def downgrade() -> None:
    pass  # the assignees before were stale, not kept: nothing to restore
