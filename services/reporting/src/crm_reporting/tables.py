"""Reporting's read model: one row per customer as last seen in the contact events, kept at the
newest aggregate version, so redelivered or reordered events converge to the same numbers."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, String, Table

metadata = MetaData()

customers = Table(
    "customer_facts",
    metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("source", String(30), nullable=False),
    Column("level", String(20), nullable=False),
    Column("created_day", String(10), nullable=False),
    Column("live", Boolean, nullable=False),
    # When this read model first held the customer: event lag = first_seen_at - the write's ack.
    Column("first_seen_at", DateTime(timezone=True), nullable=True),
    Index("ix_customer_facts_live_region", "live", "region"),
)

customer_tags = Table(
    "customer_tags",
    metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Index("ix_customer_tags_tag", "tag"),
)
