"""The support database. Like sales, each record is its protobuf snapshot (`data`) plus the
columns we filter, sort and schedule on."""
from __future__ import annotations

from sqlalchemy import (
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
)

from crmkit.runtime_tables import SeqInt, Ts

metadata = MetaData()

tickets = Table(
    "tickets", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("number", String(20), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("priority", String(20), nullable=False),
    Column("type", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("contact_id", String(36), nullable=False, default=""),
    Column("account_id", String(36), nullable=False, default=""),
    Column("requester_email", String(320), nullable=False, default=""),
    Column("assignee_id", String(100), nullable=False, default=""),
    Column("group_name", String(100), nullable=False, default=""),
    Column("created_by", String(100), nullable=False, default=""),
    Column("external_ref", String(200), nullable=False, default=""),
    Column("sla_next_at", Ts, nullable=True),       # when the SLA scheduler must look again
    Column("solved_at", Ts, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("updated_at", Ts, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_tickets_status", "status", "seq"),
    Index("ix_tickets_assignee", "assignee_id", "status"),
    Index("ix_tickets_contact", "contact_id", "seq"),
    Index("ix_tickets_sla_next", "sla_next_at"),
    Index("ix_tickets_external", "channel", "external_ref"),
    Index("ix_tickets_created", "created_at"),
)

comments = Table(
    "ticket_comments", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("ticket_id", String(36), nullable=False),
    Column("public", Boolean, nullable=False),
    Column("author_kind", String(20), nullable=False),
    Column("message_id", String(300), nullable=True, unique=True),
    Column("created_at", Ts, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_ticket_comments_ticket", "ticket_id", "seq"),
)

csat_surveys = Table(
    "csat_surveys", metadata,
    Column("ticket_id", String(36), primary_key=True),   # one survey, one answer per ticket
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Ts, nullable=False),
    Column("answered_at", Ts, nullable=True),
    Column("rating", Integer, nullable=True),
    Column("comment", Text, nullable=True),
)

kb_categories = Table(
    "kb_categories", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

kb_articles = Table(
    "kb_articles", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("category_id", String(36), nullable=False, default=""),
    Column("version", Integer, nullable=False),
    Column("updated_at", Ts, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_kb_articles_status", "status", "seq"),
)

kb_feedback = Table(
    "kb_feedback", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("article_id", String(36), nullable=False, index=True),
    Column("helpful", Boolean, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("at", Ts, nullable=False),
)

# Web-form submissions, for the abuse limits (per address and per email per hour).
web_submissions = Table(
    "web_submissions", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("client_ip", String(64), nullable=False),
    Column("email", String(320), nullable=False),
    Column("at", Ts, nullable=False),
    Index("ix_web_submissions_ip", "client_ip", "at"),
    Index("ix_web_submissions_email", "email", "at"),
)

counters = Table(
    "counters", metadata,
    Column("name", String(50), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

routing_cursors = Table(
    "routing_cursors", metadata,
    Column("rule_id", String(64), primary_key=True),
    Column("last_agent", String(100), nullable=False),
)

settings = Table(
    "settings", metadata,
    Column("key", String(50), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)
