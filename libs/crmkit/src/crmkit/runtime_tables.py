"""Tables every service database has: outbox, inbox, dead letters, idempotency keys, the audit log
and the subject keys of crypto-shredding.
Service migrations create them with `create_runtime_tables`."""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

runtime_metadata = MetaData()
# Column types every service's tables share: a sequence that is BIGINT on PostgreSQL and SQLite's
# INTEGER (only that one autoincrements there), and timestamps that keep their time zone.
SeqInt = BigInteger().with_variant(Integer, "sqlite")
Ts = DateTime(timezone=True)

# Integer rather than BigInteger for the key so SQLite makes it a rowid alias (autoincrement).
outbox_row = Table(
    "crm_outbox",
    runtime_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("subject", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Index(
        "ix_crm_outbox_pending", "id",
        sqlite_where=Column("published_at").is_(None),
        postgresql_where=Column("published_at").is_(None),
    ),
)

inbox_row = Table(
    "crm_inbox",
    runtime_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("event_type", String(200), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

dead_letter_row = Table(
    "crm_dead_letters",
    runtime_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(36), nullable=True),
    Column("subject", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("reason", Text, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
)

idempotency_row = Table(
    "crm_idempotency_keys",
    runtime_metadata,
    Column("principal", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("method", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


# The audit log (crmkit.audit): append-only, one hash chain per service database. `seq` is given by
# the appender (the head's seq + 1), never by the database, so the chain has no gaps by design.
audit_row = Table(
    "crm_audit_log",
    runtime_metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=False),
    Column("at", Ts, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("record_type", String(60), nullable=False),
    Column("record_id", String(100), nullable=False),
    Column("fields", Text, nullable=False),          # JSON array of field names
    Column("request_id", String(100), nullable=False),
    Column("client_addr", String(100), nullable=False),
    Column("method", String(200), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("details", Text, nullable=False),         # JSON object, no personal data values
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_crm_audit_record", "record_type", "record_id", "seq"),
    Index("ix_crm_audit_actor", "actor", "seq"),
    Index("ix_crm_audit_at", "at"),
)

# One row (id 1): the chain's last seq and hash, locked FOR UPDATE by every append so concurrent
# writers never fork the chain; `anchor_*` is where the kept chain starts after retention pruned
# the rows before it.
audit_head_row = Table(
    "crm_audit_head",
    runtime_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", SeqInt, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("anchor_seq", SeqInt, nullable=False),
    Column("anchor_hash", String(64), nullable=False),
)


# Crypto-shredding (crmkit.shredding): one data key per personal record whose events carry sealed
# personal fields, written in the transaction that writes the event's outbox row; deleted when the
# record is erased. `key` is the raw 32 bytes, or nonce + AES-GCM under SUBJECT_KEYS_KEK (`wrapped`).
subject_key_row = Table(
    "crm_subject_keys",
    runtime_metadata,
    Column("key_id", String(200), primary_key=True),     # <producer>/<record type>/<record id>
    Column("record_id", String(100), nullable=False),    # what erasure matches on
    Column("key", LargeBinary, nullable=False),
    Column("wrapped", Integer, nullable=False, default=0),
    Column("created_at", Ts, nullable=False),
    Index("ix_crm_subject_keys_record", "record_id"),
    sqlite_with_rowid=False,  # the key id is the table's b-tree: one page fewer per new key
)


def create_runtime_tables(bind: Engine | Connection) -> None:
    """For Alembic's op.get_bind() or any connection: idempotent."""
    runtime_metadata.create_all(bind)
