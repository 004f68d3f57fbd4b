"""Support's business metrics (the RED metrics of its RPCs come from crmkit)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

TICKETS_CREATED = Counter("crm_support_tickets_created_total", "Tickets created", ["channel", "priority"])
OPEN_TICKETS = Gauge("crm_support_tickets", "Tickets by status (refreshed by the scheduler)", ["status"])
SLA_WARNINGS = Counter("crm_support_sla_warnings_total", "SLA warnings raised", ["metric", "priority"])
SLA_BREACHES = Counter("crm_support_sla_breaches_total", "SLA breaches", ["metric", "priority"])
ESCALATIONS = Counter("crm_support_escalations_total", "Tickets escalated to a supervisor")
CSAT_ANSWERS = Counter("crm_support_csat_answers_total", "CSAT answers", ["rating"])
EMAILS = Counter("crm_support_inbound_emails_total", "Inbound emails", ["outcome"])
WEB_FORM_REJECTED = Counter("crm_support_web_form_rejected_total", "Web-form submissions refused", ["reason"])
MAILS = Counter("crm_support_mails_total", "Mail the support service sent, or did not", ["outcome"])
CHANNEL_CALLBACKS = Counter("crm_support_channel_callbacks_total", "WeChat / WeCom callbacks by outcome (taken, "
                            "duplicate, verified, bad_signature, malformed, unknown_account)", ["platform", "outcome"])
CHANNEL_MESSAGES = Counter("crm_support_channel_messages_total", "Callback messages the channel worker handled",
                           ["platform", "outcome"])
CHANNEL_REPLIES = Counter("crm_support_channel_replies_total", "Replies sent through the platforms' API, or not",
                          ["outcome"])
