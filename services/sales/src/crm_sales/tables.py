"""The sales database. Like contacts, each record is its protobuf snapshot (`data`) plus the
columns we filter, sort, aggregate and check visibility on. Amounts that are aggregated
(forecasts) are kept as integer cents so sums are exact on every database."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.schema import SchemaItem

from crmkit.imports.tables import ImportTables
from crmkit.runtime_tables import SeqInt, Ts

metadata = MetaData()


def _owned(name: str, *extra: SchemaItem) -> Table:
    """A record with an owner, visible by owner / team / region."""
    return Table(
        name,
        metadata,
        Column("seq", SeqInt, primary_key=True, autoincrement=True),
        Column("id", String(36), nullable=False, unique=True),
        Column("owner_id", String(100), nullable=False, default=""),
        Column("team", String(100), nullable=False, default=""),
        Column("region", String(100), nullable=False, default=""),
        Column("status", String(30), nullable=False),
        Column("version", Integer, nullable=False),
        Column("created_at", Ts, nullable=False),
        Column("updated_at", Ts, nullable=False),
        Column("data", LargeBinary, nullable=False),
        *extra,
        Index(f"ix_{name}_owner", "owner_id", "status"),
        Index(f"ix_{name}_team", "team", "seq"),
        Index(f"ix_{name}_region", "region", "seq"),
    )


leads = _owned(
    "leads",
    Column("name", String(300), nullable=False),
    Column("company", String(300), nullable=False, default=""),
    Column("source", String(30), nullable=False, default=""),
    Column("campaign_id", String(100), nullable=False, default=""),
    Column("score", Integer, nullable=False, default=0),
    Column("email", String(320), nullable=False, default="", server_default=""),   # lower-cased
    Index("ix_leads_email", "email"),
    # E.164, or an imported unverified phone's digits (m001): duplicates found by it
    Column("phone", String(40), nullable=False, default="", server_default=""),
    Index("ix_leads_phone", "phone"),
    # The public pool (公海): in it, or when its rep last followed it up and got it (rules.pool).
    Column("in_pool", Boolean, nullable=False, default=False, server_default=false()),
    Column("followed_up_at", Ts, nullable=True),
    Column("assigned_at", Ts, nullable=True),
    Index("ix_leads_pool", "in_pool", "team", "seq"),
    Index("ix_leads_followed_up", "team", "status", "followed_up_at"),
)

# Every move of a lead into or out of its team's pool: the lead's pool history, and the
# cool-down (a rep's last loss of a lead).
pool_moves = Table(
    "pool_moves",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False),
    Column("kind", String(20), nullable=False),          # returned | released | claimed | assigned
    Column("team", String(100), nullable=False, default=""),
    Column("user_id", String(100), nullable=False, default=""),
    Column("actor_id", String(100), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("at", Ts, nullable=False),
    Index("ix_pool_moves_lead", "lead_id", "seq"),
    Index("ix_pool_moves_user", "user_id", "lead_id", "at"),
)

opportunities = _owned(
    "opportunities",
    Column("name", String(300), nullable=False),
    Column("account_id", String(36), nullable=False, default=""),
    Column("pipeline_id", String(64), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("currency", String(3), nullable=False, default=""),
    Column("amount_cents", BigInteger, nullable=False, default=0),
    Column("probability", Integer, nullable=False, default=0),
    Column("forecast_category", String(20), nullable=False),
    Column("close_date", String(10), nullable=False, default=""),   # YYYY-MM-DD sorts as text
    Column("close_month", String(7), nullable=False, default=""),
    Column("closed_at", Ts, nullable=True),
    Index("ix_opportunities_close", "close_date", "status"),
    Index("ix_opportunities_account", "account_id"),
)

# One row per stage an opportunity entered: the funnel and the time-in-stage figures.
stage_visits = Table(
    "stage_visits",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("opportunity_id", String(36), nullable=False),
    Column("pipeline_id", String(64), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("entered_at", Ts, nullable=False),
    Column("exited_at", Ts, nullable=True),
    Index("ix_stage_visits_opp", "opportunity_id", "entered_at"),
    Index("ix_stage_visits_stage", "pipeline_id", "stage"),
)

quotes = _owned(
    "quotes",
    Column("number", String(30), nullable=False),
    Column("quote_version", Integer, nullable=False),
    Column("opportunity_id", String(36), nullable=False, default=""),
    Column("account_id", String(36), nullable=False, default=""),
    UniqueConstraint("number", "quote_version", name="uq_quotes_number_version"),
    Index("ix_quotes_opportunity", "opportunity_id", "status"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("quote_id", String(36), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("team", String(100), nullable=False, default=""),
    Column("region", String(100), nullable=False, default=""),
    Column("requested_at", Ts, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

contracts = _owned(
    "contracts",
    Column("number", String(30), nullable=False, unique=True),
    Column("quote_id", String(36), nullable=False),
    Column("opportunity_id", String(36), nullable=False, default=""),
)

tasks = _owned(
    "tasks",
    Column("due_at", Ts, nullable=True),
    Column("related_id", String(36), nullable=False, default=""),
    Index("ix_tasks_due", "status", "due_at"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("user_id", String(100), nullable=False),
    Column("remind_at", Ts, nullable=False),
    Column("fired_at", Ts, nullable=True),
    Column("data", LargeBinary, nullable=False),
    Index("ix_reminders_user", "user_id", "remind_at"),
)

# Due work for the scheduler. A job is claimed (pending → fired) in the same transaction as
# the task / reminder / reassignment it causes, so it takes effect exactly once.
scheduled_jobs = Table(
    "scheduled_jobs",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("due_at", Ts, nullable=False),
    Column("status", String(20), nullable=False),        # pending | fired | skipped
    Column("ref_id", String(36), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("fired_at", Ts, nullable=True),
    Index("ix_scheduled_jobs_due", "status", "due_at"),
)

# Projection of the contacts stream: which emails each contact has, to match interactions
# logged on a contact to the open leads with the same email.
contact_emails = Table(
    "contact_emails",
    metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("email", String(320), primary_key=True),
    Index("ix_contact_emails_email", "email"),
)

products = Table(
    "products",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("active", Boolean, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

price_books = Table(
    "price_books",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("tier", String(30), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

reps = Table(
    "sales_reps",
    metadata,
    Column("user_id", String(100), primary_key=True),
    Column("team", String(100), nullable=False, default=""),
    Column("region", String(100), nullable=False, default=""),
    Column("active", Boolean, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# Round-robin position per assignment rule: the last rep who got a lead from it.
assignment_cursors = Table(
    "assignment_cursors",
    metadata,
    Column("rule_id", String(64), primary_key=True),
    Column("last_user_id", String(100), nullable=False),
)

settings = Table(
    "sales_settings",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# Gap-free per-year numbering for quotes (Q-2026-000123) and contracts.
counters = Table(
    "number_counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

delegations = Table(
    "delegations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("from_user_id", String(100), nullable=False, index=True),
    Column("to_user_id", String(100), nullable=False, index=True),
    Column("starts_at", Ts, nullable=False),
    Column("ends_at", Ts, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("data", LargeBinary, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("at", Ts, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("entity_id", String(36), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_audit_entity", "entity", "entity_id"),
)

# -- imports of leads and products (crmkit.imports): jobs, uploaded chunks, rejected rows, mappings
imports = ImportTables(metadata)
