"""The marketing database. Records are their protobuf snapshot (`data`) plus the columns we
filter, sort and schedule on; the send log (`recipients`) and the contact projection are plain
rows, because the sender reads and writes them by the hundred per second."""
from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
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
    # 1: a sequence step's or a rule's wave, which recipients join one by one and never completes
    Column("continuous", Integer, nullable=False, default=0, server_default="0"),
    Column("channel", String(10), nullable=False, default="email", server_default="email"),  # email | sms (s001)
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
    # sms waves (s001): the number, the provider's id of the message, its delivery receipt
    Column("phone", String(32), nullable=False, default="", server_default=""),
    Column("provider_id", String(64), nullable=False, default="", server_default=""),
    Column("delivered_at", Ts, nullable=True),
    UniqueConstraint("wave_id", "contact_id", name="uq_recipients_contact"),
    Index("ix_recipients_status", "wave_id", "status", "seq"),
    Index("ix_recipients_message_id", "message_id"),  # a bounce names the Message-ID (0003)
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
    Column("phone", String(32), nullable=False, default="", server_default=""),  # E.164, the first valid (s001)
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
    Index("ix_audience_contacts_phone", "phone"),
)

# Every SMS a person sent us (the provider's MO push through the gateway), kept whatever it says:
# an opt-out word withdrew marketing_sms for the contacts of that phone (s001).
sms_replies = Table(
    "sms_replies", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("phone", String(32), nullable=False),
    Column("content", Text, nullable=False),
    Column("opt_out", Integer, nullable=False, default=0),
    Column("contact_ids", Text, nullable=False, default="[]"),  # JSON list
    Column("sign_name", String(100), nullable=False, default=""),
    Column("sent_at", String(40), nullable=False, default=""),  # as the provider reported it
    Column("received_at", Ts, nullable=False),
    Index("ix_sms_replies_phone", "phone", "seq"),
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

# -- automation (revision 0002) ---------------------------------------------------------------

# One versioned document per key: "automation" (AutomationSettings).
settings = Table(
    "settings", metadata,
    Column("key", String(50), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

forms = Table(
    "forms", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_forms_status", "status", "seq"),
)

# Every submission, stored before it is acknowledged, and the delivery job in one: `pending`
# rows are due at `next_attempt_at`; the columns besides `data` are what limits and lists query.
form_submissions = Table(
    "form_submissions", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("form_id", String(36), nullable=False),
    Column("email", String(320), nullable=False, default=""),
    Column("ip", String(64), nullable=False, default=""),
    Column("status", String(10), nullable=False),        # pending | delivered | failed | spam
    Column("received_at", Ts, nullable=False),
    Column("next_attempt_at", Ts, nullable=True),
    Column("data", LargeBinary, nullable=False),          # the FormSubmission
    Index("ix_form_submissions_due", "status", "next_attempt_at"),
    Index("ix_form_submissions_ip", "ip", "received_at"),
    Index("ix_form_submissions_email", "email", "received_at"),
    Index("ix_form_submissions_form", "form_id", "seq"),
)

sequences = Table(
    "sequences", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("campaign_id", String(36), nullable=False),
    Column("status", String(10), nullable=False),
    Column("enroll_nurturing", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_sequences_campaign", "campaign_id", "seq"),
    Index("ix_sequences_nurturing", "enroll_nurturing", "status"),
)

enrollments = Table(
    "enrollments", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("sequence_id", String(36), nullable=False),
    Column("contact_id", String(36), nullable=False),
    Column("status", String(10), nullable=False),        # active | completed | exited
    Column("exit_reason", String(20), nullable=False, default=""),
    Column("source", String(100), nullable=False, default=""),
    Column("steps_done", Integer, nullable=False, default=0),
    Column("enrolled_at", Ts, nullable=False),
    Column("next_step_at", Ts, nullable=True),
    Column("finished_at", Ts, nullable=True),
    UniqueConstraint("sequence_id", "contact_id", name="uq_enrollments_contact"),
    Index("ix_enrollments_contact", "contact_id", "status"),
    Index("ix_enrollments_sequence", "sequence_id", "status", "seq"),
)

# The next step owed to each enrolment. The job claims a due row in the transaction that writes
# the step's send record (a recipient of the step's wave) and the following step's row, so each
# step fires once whatever crashes or replicas; `outcome` is queued or the reason it was skipped.
scheduled_steps = Table(
    "scheduled_steps", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("sequence_id", String(36), nullable=False),
    Column("contact_id", String(36), nullable=False),
    Column("step", Integer, nullable=False),
    Column("due_at", Ts, nullable=False),
    Column("status", String(10), nullable=False),        # due | done | cancelled
    Column("outcome", String(30), nullable=False, default=""),
    Column("done_at", Ts, nullable=True),
    UniqueConstraint("sequence_id", "contact_id", "step", name="uq_scheduled_steps_step"),
    Index("ix_scheduled_steps_due", "status", "due_at"),
)

automation_rules = Table(
    "automation_rules", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("campaign_id", String(36), nullable=False),
    Column("trigger_type", String(100), nullable=False),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_automation_rules_trigger", "trigger_type", "status"),
    Index("ix_automation_rules_campaign", "campaign_id", "seq"),
)

# A rule's n-th firing for a contact (round n): at most one per window, and its mail goes to the
# rule's wave of that round (rule_waves), so each (wave, contact) is still mailed once.
rule_firings = Table(
    "rule_firings", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("rule_id", String(36), nullable=False),
    Column("contact_id", String(36), nullable=False),
    Column("round", Integer, nullable=False),
    Column("fired_at", Ts, nullable=False),
    UniqueConstraint("rule_id", "contact_id", "round", name="uq_rule_firings_round"),
)

rule_waves = Table(
    "rule_waves", metadata,
    Column("rule_id", String(36), primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("wave_id", String(36), nullable=False),
)

# What a contact (or a visitor not known yet) did: kind is the event type (web.visit,
# crm.marketing.email.opened, crm.support.ticket.created ...); scoring and rules count these.
touches = Table(
    "touches", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("contact_id", String(36), nullable=False, default=""),
    Column("visitor_id", String(64), nullable=False, default=""),
    Column("kind", String(100), nullable=False),
    Column("url", Text, nullable=False, default=""),
    Column("campaign_id", String(36), nullable=False, default=""),
    Column("ref", String(100), nullable=False, default=""),   # the event, wave or submission
    Column("at", Ts, nullable=False),
    Index("ix_touches_contact", "contact_id", "kind", "at"),
    Index("ix_touches_visitor", "visitor_id", "at"),
)

visitors = Table(
    "visitors", metadata,
    Column("visitor_id", String(64), primary_key=True),
    Column("contact_id", String(36), nullable=False, default=""),
    Column("site_key", String(64), nullable=False, default=""),
    Column("first_seen", Ts, nullable=False),
    Column("last_seen", Ts, nullable=False),
    Index("ix_visitors_contact", "contact_id"),
)

# Each contact's engagement score, and its hand-off to sales: qualified_at is set once.
engagement = Table(
    "engagement", metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("score", Float, nullable=False, default=0.0),
    Column("computed_at", Ts, nullable=False),
    Column("qualified_at", Ts, nullable=True),
    Column("lead_id", String(36), nullable=False, default=""),
    Column("handoff_status", String(20), nullable=False, default=""),
)

# Leads owed to sales for marketing-qualified contacts (CaptureLead with `key`), retried with
# backoff until sales took them: written in the transaction in which the contact qualified.
lead_handoffs = Table(
    "lead_handoffs", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("key", String(100), nullable=False, unique=True),
    Column("contact_id", String(36), nullable=False),
    Column("campaign_id", String(36), nullable=False, default=""),
    Column("score", Float, nullable=False, default=0.0),
    Column("status", String(15), nullable=False),        # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Ts, nullable=False),
    Column("done_at", Ts, nullable=True),
    Column("lead_id", String(36), nullable=False, default=""),
    Column("last_error", Text, nullable=False, default=""),
    Column("lead", LargeBinary, nullable=False),          # the crm.sales.v1.Lead to capture
    Index("ix_lead_handoffs_due", "status", "next_attempt_at"),
)

ab_tests = Table(
    "ab_tests", metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("campaign_id", String(36), nullable=False),
    Column("status", String(20), nullable=False),
    Column("decide_at", Ts, nullable=True),
    Column("version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_ab_tests_due", "status", "decide_at"),
    Index("ix_ab_tests_campaign", "campaign_id", "seq"),
)

# The audience an A/B test froze, each contact in a variant's group or "" (the rest, who get the winner).
ab_members = Table(
    "ab_members", metadata,
    Column("test_id", String(36), primary_key=True),
    Column("contact_id", String(36), primary_key=True),
    Column("grp", String(60), nullable=False, default=""),
    Column("pos", Integer, nullable=False),
    Index("ix_ab_members_group", "test_id", "grp", "pos"),
)
