"""Marketing's business metrics (the RED metrics of its RPCs come from crmkit)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

CAMPAIGNS_CREATED = Counter("crm_marketing_campaigns_created_total", "Campaigns created", ["type"])
MAILS = Counter("crm_marketing_mails_total", "Recipients of send waves by outcome (sent, failed, skipped)",
                ["outcome"])
SKIPPED = Counter("crm_marketing_recipients_skipped_total", "Recipients not mailed, by reason", ["reason"])
SEND_RETRIES = Counter("crm_marketing_send_retries_total", "Mails handed over again after a claim expired")
ENGAGEMENT = Counter("crm_marketing_engagement_total", "Opens, clicks and unsubscribes", ["kind"])
CONSENT_JOBS = Gauge("crm_marketing_consent_jobs_open", "Consent withdrawals not yet recorded in contacts")
DELIVERIES = Counter("crm_marketing_deliveries_total", "Form submissions and qualified leads handed to contacts and "
                     "sales, by outcome (delivered, retry, failed)", ["kind", "outcome"])
DELIVERY_BACKLOG = Gauge("crm_marketing_delivery_backlog", "Form submissions not yet delivered to sales", ["kind"])
FORM_SUBMISSIONS = Counter("crm_marketing_form_submissions_total", "Form submissions by outcome (accepted, spam, "
                           "invalid, limited)", ["outcome"])
SEQUENCE_STEPS = Counter("crm_marketing_sequence_steps_total", "Sequence steps fired, by outcome (queued, or why "
                         "not)", ["outcome"])
NURTURE_UNMATCHED = Counter("crm_marketing_nurture_unmatched_total", "Leads sent back for nurturing whose person "
                            "marketing does not know (no contact with their email)")
RULES_FIRED = Counter("crm_marketing_rules_fired_total", "Event-triggered rules fired, by action (template, "
                      "sequence)", ["action"])
VISITS = Counter("crm_marketing_visits_total", "Page views reported by tracked sites, by outcome (known, anonymous, "
                 "refused)", ["outcome"])
QUALIFIED = Counter("crm_marketing_qualified_total", "Contacts that became marketing-qualified, by what followed (handed_over, already_lead)", ["outcome"])
SMS = Counter("crm_marketing_sms_total", "Recipients of sms waves by outcome (sent, failed, skipped, retried)",
              ["outcome"])
