"""Reporting's read models: customers (contact events), opportunities and leads (sales events),
tickets, SLA breaches and CSAT answers (support events). Snapshots are kept at the newest aggregate
version, so redelivered or reordered events converge to the same numbers."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table

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

# -- sales: one row per opportunity and per lead, kept at the newest aggregate version ----------

opportunities = Table(
    "opportunity_facts",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("stage", String(50), nullable=False),
    Column("status", String(10), nullable=False),          # open | won | lost
    Column("currency_code", String(3), nullable=False),
    Column("amount_units", BigInteger, nullable=False),     # amount * rules.AMOUNT_SCALE
    Column("closed_month", String(7), nullable=False),      # YYYY-MM once won or lost, else ""
    Index("ix_opportunity_facts_status", "status"),
)

leads = Table(
    "lead_facts",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("source", String(30), nullable=False),
    Column("status", String(20), nullable=False),
)

# -- support: one row per ticket at its newest version, each SLA breach once, one CSAT per ticket -

tickets = Table(
    "ticket_facts",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("assignee_id", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", String(20), nullable=False),
    Column("first_response_seconds", BigInteger, nullable=True),   # created -> first response
    Column("resolution_seconds", BigInteger, nullable=True),       # created -> solved
)

sla_breaches = Table(
    "sla_breach_facts",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("metric", String(30), primary_key=True),
)

csat_answers = Table(
    "csat_facts",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("assignee_id", String(100), nullable=False),
    Column("rating", Integer, nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=False),
    Column("answered_day", String(10), nullable=False),
    Index("ix_csat_facts_day", "answered_day"),
)
