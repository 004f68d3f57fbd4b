"""The webhooks database: subscriptions (one row each, the event types they take in a side table
the event handler looks up), and the delivery queue and log in one table: a row per (event,
subscription), its body fixed when the event arrived, its state, attempts and next try."""
from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

from crmkit.runtime_tables import SeqInt, Ts

metadata = MetaData()

subscriptions = Table(
    "webhook_subscriptions", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("owner_id", String(100), nullable=False),
    Column("status", String(10), nullable=False),      # active | paused
    Column("target_url", Text, nullable=False),
    Column("secret", Text, nullable=False),            # sealed (rules/sealing.py): a Fernet token
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),       # crm.webhooks.v1.Subscription, without the secret
    Index("ix_webhook_subscriptions_owner", "owner_id", "seq"),
)

subscription_types = Table(
    "webhook_subscription_types", metadata,
    Column("event_type", String(120), primary_key=True),   # the full subject, crm.sales.opportunity.won
    Column("subscription_id", String(36), primary_key=True),
)

# status: pending (queued or retrying: next_attempt_at says when) | delivered | parked.
# A worker claims a due row by moving next_attempt_at past its lease, in its own transaction.
deliveries = Table(
    "webhook_deliveries", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("subscription_id", String(36), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(120), nullable=False),      # the short name, opportunity.won
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_status_code", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("next_attempt_at", Ts, nullable=True),
    Column("retry_until", Ts, nullable=False),
    Column("last_attempt_at", Ts, nullable=True),
    Column("delivered_at", Ts, nullable=True),
    Column("body", LargeBinary, nullable=False),
    Index("ix_webhook_deliveries_due", "next_attempt_at"),
    Index("ix_webhook_deliveries_log", "subscription_id", "seq"),
    Index("ix_webhook_deliveries_created", "created_at"),
)

# Whom a delivery is about: one row per contact id, email (lower-cased) or phone its payload names
# (the other two columns empty), taken before the body was masked. A data-subject request finds
# the person's deliveries here, whatever the subscriber was allowed to see.
delivery_subjects = Table(
    "webhook_delivery_subjects", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("delivery_id", String(36), nullable=False),
    Column("contact_id", String(100), nullable=False),
    Column("email", String(320), nullable=False),
    Column("phone", String(40), nullable=False),
    Index("ix_webhook_delivery_subjects_delivery", "delivery_id"),
    Index("ix_webhook_delivery_subjects_contact", "contact_id"),
    Index("ix_webhook_delivery_subjects_email", "email"),
    Index("ix_webhook_delivery_subjects_phone", "phone"),
)

# The people erased here (keyed hashes of their contact ids, emails and phones, crmkit.privacy's
# suppression_hash): an event about one of them still in a stream when the erasure ran makes no
# delivery.
erased_subjects = Table(
    "webhook_erased_subjects", metadata,
    Column("hash", String(64), primary_key=True),
    Column("erased_at", Ts, nullable=False),
)
