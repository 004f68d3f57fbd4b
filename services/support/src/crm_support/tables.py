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
    UniqueConstraint,
)

from crmkit.imports.tables import ImportTables
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
    Column("escalated_to", String(100), nullable=False, default=""),  # the supervisor, once escalated
    Column("group_name", String(100), nullable=False, default=""),
    Column("created_by", String(100), nullable=False, default=""),
    Column("external_ref", String(200), nullable=False, default=""),
    Column("region", String(100), nullable=False, default=""),   # whose managers see it (0003)
    Column("team", String(100), nullable=False, default=""),
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
    Index("ix_tickets_external_ref", "external_ref"),  # an import's duplicates (m001)
    Index("ix_tickets_created", "created_at"),
    Index("ix_tickets_escalated", "escalated_to", "seq"),
    Index("ix_tickets_region", "region", "seq"),
    Index("ix_tickets_team", "team", "seq"),
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

# Mail support sends (CSAT surveys, SLA warnings and escalations), written in the transaction of
# what caused it and sent by the mail worker: pending → sending (claimed, lease in
# next_attempt_at) → sent | failed | skipped. `key` makes each mail exist once; the Message-ID is
# fixed when the mail is first rendered, so a re-send after a crash carries the same one.
mail_outbox = Table(
    "mail_outbox", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),   # csat:<ticket id>, escalation:<ticket id> ...
    Column("purpose", String(30), nullable=False),             # csat_survey | sla_warning | escalation
    Column("ticket_id", String(36), nullable=False),
    Column("recipient_id", String(100), nullable=False, default=""),  # a staff user id ("" : the requester)
    Column("recipient", String(400), nullable=False, default=""),     # the address, once known
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Ts, nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("sent_at", Ts, nullable=True),
    Column("message_id", String(300), nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    Column("params", Text, nullable=False, default="{}"),      # JSON: what the mail is rendered from
    Column("message", Text, nullable=True),                    # JSON: the rendered mail, kept for re-sends
    Index("ix_mail_outbox_due", "status", "next_attempt_at"),
    Index("ix_mail_outbox_ticket", "ticket_id"),
)

# WeChat / WeCom callback messages, each taken once: (account, dedup_key) is unique, dedup_key
# being the MsgId (events: FromUserName:CreateTime), so a redelivery or a replay inserts nothing.
# The callback stores it (pending) and answers; the channel worker makes the ticket:
# pending → done | failed (contacts retried with backoff before the ticket opens without one).
channel_messages = Table(
    "channel_messages", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("account", String(64), nullable=False),
    Column("dedup_key", String(200), nullable=False),
    Column("platform", String(10), nullable=False),
    Column("from_user", String(128), nullable=False),
    Column("msg_type", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Ts, nullable=False),
    Column("received_at", Ts, nullable=False),
    Column("ticket_id", String(36), nullable=False, default=""),
    Column("last_error", Text, nullable=False, default=""),
    Column("message", Text, nullable=False),                   # JSON: the decrypted message's fields
    UniqueConstraint("account", "dedup_key", name="uq_channel_messages_dedup"),
    Index("ix_channel_messages_due", "status", "next_attempt_at"),
)

# Agents' replies on wechat / wecom tickets, written with the comment and sent by the channel
# worker through the platform's send API: pending → sending (lease) → sent | failed.
channel_outbox = Table(
    "channel_outbox", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("comment_id", String(36), nullable=False, unique=True),
    Column("ticket_id", String(36), nullable=False),
    Column("account", String(64), nullable=False),
    Column("to_user", String(128), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Ts, nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("sent_at", Ts, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    Index("ix_channel_outbox_due", "status", "next_attempt_at"),
    Index("ix_channel_outbox_ticket", "ticket_id"),
)

# SMS notices to a ticket's customer who chose SMS (notice_channel "sms"), written in the
# transaction of the change (a public reply, the solve), keyed so each is made once; the SMS
# worker claims ('sending', a lease), hands it to the provider and records it (s001).
sms_outbox = Table(
    "sms_outbox", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),   # sms:<kind>:<ticket id>:<ref>
    Column("ticket_id", String(36), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("params", Text, nullable=False, default="{}"),      # JSON: the template's variables
    Column("status", String(10), nullable=False),              # pending | sending | sent | failed | skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Ts, nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("sent_at", Ts, nullable=True),
    Column("provider_id", String(64), nullable=False, default=""),
    Column("last_error", Text, nullable=False, default=""),
    Column("delivered_at", Ts, nullable=True),                 # the provider's receipt said delivered
    Index("ix_sms_outbox_due", "status", "next_attempt_at"),
    Index("ix_sms_outbox_ticket", "ticket_id"),
)

# -- ticket imports (crmkit.imports): jobs, uploaded chunks, rejected rows, mappings per source
imports = ImportTables(metadata)
