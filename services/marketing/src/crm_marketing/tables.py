"""The marketing database. Records are their protobuf snapshot (`data`) plus the columns we
filter, sort and schedule on; the send log (`recipients`) and the contact projection are plain
rows, because the sender reads and writes them by the hundred per second."""
from __future__ import annotations

from sqlalchemy import (
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

from crmkit.runtime_tables import SeqInt, Ts

metadata = MetaData()

campaigns = Table(
    "campaigns", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("type", String(20), nullable=False),
    Column("owner_id", String(100), nullable=False, default=""),
    Column("team", String(100), nullable=False, default=""),
    Column("region", String(100), nullable=False, default=""),
    Column("slug", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", Ts, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_campaigns_status", "status", "seq"),
    Index("ix_campaigns_owner", "owner_id", "seq"),
)

invitees = Table(
    "invitees", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("campaign_id", String(36), nullable=False),
    Column("contact_id", String(36), nullable=False),
    Column("check_in_code", String(16), nullable=False),
    Column("status", String(20), nullable=False),
    Column("data", LargeBinary, nullable=False),
    UniqueConstraint("campaign_id", "contact_id", name="uq_invitees_contact"),
    UniqueConstraint("campaign_id", "check_in_code", name="uq_invitees_code"),
    Index("ix_invitees_status", "campaign_id", "status", "seq"),
)

templates = Table(
    "templates", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# A send wave and the template as it was frozen (`template`: a Template snapshot), so editing the
# template later changes no mail of this wave. The lease makes one worker at a time drive it.
waves = Table(
    "send_waves", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("campaign_id", String(36), nullable=False),
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("template", LargeBinary, nullable=False),
    Index("ix_send_waves_campaign", "campaign_id", "seq"),
    Index("ix_send_waves_status", "status"),
)

# The frozen recipient list and the send log in one: `seq` is what tracking tokens name; a row is
# marked `sending` (claimed_by, claimed_until) before its mail is handed to SMTP and `sent` after.
recipients = Table(
    "recipients", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("wave_id", String(36), nullable=False),
    Column("contact_id", String(36), nullable=False),
    Column("email", String(320), nullable=False, default=""),
    Column("language", String(10), nullable=False, default=""),
    Column("status", String(10), nullable=False),        # pending | sending | sent | failed | skipped
    Column("skip_reason", String(30), nullable=False, default=""),
    Column("message_id", String(200), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(40), nullable=False, default=""),
    Column("claimed_until", Ts, nullable=True),
    Column("error", Text, nullable=False, default=""),
    Column("sent_at", Ts, nullable=True),
    Column("opened_at", Ts, nullable=True),
    Column("open_count", Integer, nullable=False, default=0),
    Column("clicked_at", Ts, nullable=True),
    Column("click_count", Integer, nullable=False, default=0),
    Column("unsubscribed_at", Ts, nullable=True),
    Column("links", Text, nullable=True),  # JSON list, only when this mail's links differ from the wave's
    UniqueConstraint("wave_id", "contact_id", name="uq_recipients_contact"),
    Index("ix_recipients_status", "wave_id", "status", "seq"),
)

# The tracked links of a wave's mails (index → URL with its UTM parameters): a click token names an
# index, so a redirect only ever goes where the mail pointed.
wave_links = Table(
    "wave_links", metadata,
    Column("wave_id", String(36), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("url", Text, nullable=False),
)

# What sending needs of each contact, fed by the CONTACTS stream (and refreshed by the snapshots
# ListSegmentMembers returns at freeze time); `version` keeps the newest snapshot whatever the order.
audience_contacts = Table(
    "audience_contacts", metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("name", String(300), nullable=False, default=""),
    Column("email", String(320), nullable=False, default=""),
    Column("language", String(10), nullable=False, default=""),
    Column("company", String(300), nullable=False, default=""),
    Column("title", String(200), nullable=False, default=""),
    Column("city", String(100), nullable=False, default=""),
    Column("province", String(100), nullable=False, default=""),
    Column("owner_id", String(100), nullable=False, default=""),
    Column("team", String(100), nullable=False, default=""),
    Column("region", String(100), nullable=False, default=""),
    Column("custom", Text, nullable=False, default="{}"),     # JSON object
    Column("consents", Text, nullable=False, default="{}"),   # JSON: purpose → {granted, at}
    Column("suppressed", String(20), nullable=False, default=""),  # deleted | merged | erased
    Column("version", Integer, nullable=False),
    Column("updated_at", Ts, nullable=False),
    Index("ix_audience_contacts_email", "email"),
)

contact_tags = Table(
    "contact_tags", metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Index("ix_contact_tags_tag", "tag", "contact_id"),
)

# Addresses we never mail again: bounced (refused permanently by the relay) or complained.
suppressions = Table(
    "suppressions", metadata,
    Column("email", String(320), primary_key=True),
    Column("reason", String(20), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("at", Ts, nullable=False),
)

# Unsubscribes, effective here at once (contacts learns through consent_jobs). A later consent
# grant (a form, an agent) lifts it: it counts only when newer than the contact's consent.
unsubscribes = Table(
    "unsubscribes", metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("purpose", String(50), primary_key=True),
    Column("email", String(320), nullable=False, default=""),
    Column("wave_id", String(36), nullable=False, default=""),
    Column("at", Ts, nullable=False),
)

# Consent withdrawals owed to contacts (RecordConsent), retried with backoff until contacts took
# them: written in the unsubscribe's transaction, so none is lost while contacts is down.
consent_jobs = Table(
    "consent_jobs", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("key", String(100), nullable=False, unique=True),  # the idempotency key of the call
    Column("contact_id", String(36), nullable=False),
    Column("purpose", String(50), nullable=False),
    Column("granted", Integer, nullable=False),
    Column("source", String(100), nullable=False),
    Column("evidence", Text, nullable=False, default=""),
    Column("at", Ts, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Ts, nullable=False),
    Column("done_at", Ts, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    Index("ix_consent_jobs_due", "done_at", "next_attempt_at"),
)
