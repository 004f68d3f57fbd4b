"""The contacts database. Each record is stored as its protobuf snapshot (`data`) plus the
columns we filter, sort and check visibility on; tags, identities (normalized phones and emails)
and matchable custom field values live in side tables for filtering and duplicate detection.
Segments filter over these and over the timeline, consents and won-deal spend."""
from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)

from crmkit.runtime_tables import SeqInt

metadata = MetaData()


def _record_table(name: str, *extra: Column[Any] | Index) -> Table:
    return Table(
        name,
        metadata,
        Column("seq", SeqInt, primary_key=True, autoincrement=True),
        Column("id", String(36), nullable=False, unique=True),
        Column("name", String(300), nullable=False),
        Column("owner_id", String(100), nullable=False),
        Column("team", String(100), nullable=False, default=""),
        Column("region", String(100), nullable=False, default=""),
        Column("level", String(20), nullable=False, default=""),
        Column("source", String(30), nullable=False, default=""),
        Column("version", Integer, nullable=False),
        Column("deleted", Boolean, nullable=False, default=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("data", LargeBinary, nullable=False),
        *extra,
        Index(f"ix_{name}_owner", "owner_id", "seq"),
        Index(f"ix_{name}_region", "region", "seq"),
        Index(f"ix_{name}_updated", "updated_at"),
    )


contacts = _record_table(
    "contacts",
    Column("account_id", String(36), nullable=False, default=""),
    Column("company_name", String(300), nullable=False, default=""),
    Column("merged_into_id", String(36), nullable=False, default=""),
    # Segment criteria (the province and city of the first address naming one).
    Column("industry", String(100), nullable=False, default="", server_default=""),
    Column("lifecycle_stage", String(20), nullable=False, default="", server_default=""),
    Column("province", String(100), nullable=False, default="", server_default=""),
    Column("city", String(100), nullable=False, default="", server_default=""),
    # (column, seq): an equality criterion pages its members in seq order straight off the index
    Index("ix_contacts_level", "level", "seq"),
    Index("ix_contacts_source", "source", "seq"),
    Index("ix_contacts_industry", "industry", "seq"),
    Index("ix_contacts_lifecycle", "lifecycle_stage", "seq"),
    Index("ix_contacts_province", "province", "seq"),
    Index("ix_contacts_city", "city", "seq"),
    Index("ix_contacts_account", "account_id"),
)
accounts = _record_table(
    "accounts",
    Column("parent_account_id", String(36), nullable=False, default=""),
    # The public pool (公海) of customers (usecases/pool.py): in it, or since when its owner holds it.
    Column("in_pool", Boolean, nullable=False, default=False, server_default=false()),
    Column("assigned_at", DateTime(timezone=True), nullable=True),
    Index("ix_accounts_pool", "in_pool", "team", "seq"),
)
# Every move of an account into or out of its team's pool: its pool history and the cool-down.
account_pool_moves = Table(
    "account_pool_moves",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("account_id", String(36), nullable=False),
    Column("kind", String(20), nullable=False),          # returned | released | claimed | assigned
    Column("team", String(100), nullable=False, default=""),
    Column("user_id", String(100), nullable=False, default=""),
    Column("actor_id", String(100), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_account_pool_moves_account", "account_id", "seq"),
    Index("ix_account_pool_moves_user", "user_id", "account_id", "at"),
)
# The pool rules an admin saved in sales (crm.sales.settings.pool_rules_changed), newest wins.
pool_rules = Table(
    "pool_rules",
    metadata,
    Column("key", String(20), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),         # a crm.sales.v1.PoolRulesChanged
)
# The service's settings documents (crmkit.settings_store): "picklists", the vocabulary contacts
# owns for every service (crmkit.picklists).
settings = Table(
    "contacts_settings",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

tags = Table(
    "entity_tags",
    metadata,
    Column("entity", String(10), primary_key=True),
    Column("entity_id", String(36), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Index("ix_entity_tags_tag", "entity", "tag"),
)

# Normalized phones and emails of live records, for duplicate detection on create.
identities = Table(
    "entity_identities",
    metadata,
    Column("entity", String(10), primary_key=True),
    Column("entity_id", String(36), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("value", String(320), primary_key=True),
    Index("ix_entity_identities_value", "entity", "kind", "value"),
)

timeline = Table(
    "timeline_entries",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("contact_id", String(36), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_timeline_contact", "contact_id", "occurred_at", "seq"),
)

custom_fields = Table(
    "custom_field_definitions",
    metadata,
    Column("entity", String(10), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("label", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("choices", JSON, nullable=False),
    Column("required", Boolean, nullable=False, default=False),
)

merges = Table(
    "contact_merges",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("survivor_id", String(36), nullable=False, index=True),
    Column("merged_id", String(36), nullable=False, index=True),
    Column("merged_by", String(100), nullable=False),
    Column("merged_at", DateTime(timezone=True), nullable=False),
    Column("merged_snapshot", LargeBinary, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("entity_id", String(36), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_audit_entity", "entity", "entity_id"),
)

# Custom field values a segment can match (scalars of at most rules.segments.MAX_MATCHABLE
# characters, as text: numbers canonical, booleans true/false), kept in step on every save.
custom_field_values = Table(
    "custom_field_values",
    metadata,
    Column("entity", String(10), primary_key=True),
    Column("entity_id", String(36), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
    Index("ix_custom_field_values_value", "entity", "key", "value"),
)

# -- segments
segments = Table(
    "segments",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False, default=""),
    Column("region", String(100), nullable=False, default=""),
    Column("version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_segments_owner", "owner_id", "seq"),
)

# -- consent: every decision (append-only), and the current one per purpose for filtering
consent_history = Table(
    "consent_history",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("contact_id", String(36), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_consent_history_contact", "contact_id", "seq"),
)
contact_consents = Table(
    "contact_consents",
    metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("purpose", String(40), primary_key=True),
    Column("granted", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_contact_consents_purpose", "purpose", "granted", "contact_id"),
)

# -- spend: sales' won deals (one row per opportunity at its newest version), and their sum per
# customer, calendar year and currency
won_deals = Table(
    "won_deals",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("won", Boolean, nullable=False),
    Column("contact_id", String(36), nullable=False, default=""),
    Column("account_id", String(36), nullable=False, default=""),
    Column("year", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Index("ix_won_deals_contact", "contact_id"),
    Index("ix_won_deals_account", "account_id"),
)
customer_spend = Table(
    "customer_spend",
    metadata,
    Column("entity", String(10), primary_key=True),
    Column("entity_id", String(36), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("amount_cents", BigInteger, nullable=False),
    Index("ix_customer_spend_band", "entity", "year", "currency", "amount_cents"),
)
# Sales' delegations (crm.sales.delegation.created / .ended), kept so a delegate sees and works the
# delegator's customers while the delegation lasts (0003_delegations).
delegations = Table(
    "delegations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("from_user_id", String(100), nullable=False),
    Column("to_user_id", String(100), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_delegations_to", "to_user_id", "ends_at"),
)

# -- customer imports (usecases/imports.py): the job (its ImportJob snapshot; `rows_done` is the
# checkpoint, written in the transaction of the rows it counts), the uploaded file in chunks (a
# restart reads it again from here), the rejected rows, and the mapping remembered per source.
import_jobs = Table(
    "import_jobs",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("content_key", String(64), nullable=False),  # sha256 of the file and the options
    Column("owner_id", String(100), nullable=False),
    Column("principal", JSON, nullable=False),  # who started it: the job writes as them
    Column("status", String(20), nullable=False),
    Column("rows_done", BigInteger, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_import_jobs_key", "content_key", "owner_id"),
    Index("ix_import_jobs_status", "status", "seq"),
)
import_chunks = Table(
    "import_chunks",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("offset", BigInteger, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
# The report's rows: rejected ones and, `kept`, rows written with remarks (migration i002); `data`
# is {"problems": [[field, column, message, value]], "values": [...]} (+ "kept": true, as `kept`
# says). The index finds a job's first rejected rows in row order (a progress poll shows them).
import_rejects = Table(
    "import_rejects",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("row", BigInteger, primary_key=True),
    Column("data", JSON, nullable=False),
    Column("kept", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_import_rejects_kept", "job_id", "kept", "row"),
)
import_mappings = Table(
    "import_mappings",
    metadata,
    Column("entity", String(10), primary_key=True),
    Column("source_name", String(200), primary_key=True),
    Column("data", LargeBinary, nullable=False),  # ColumnMapping
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
