"""A person's data in marketing, for the privacy service's export and erasure
(`crm.privacy.v1.DataSubject`, served by `crmkit.privacy.SubjectServicer`).

Deleted: invitations, unsubscribes, bounce suppressions, owed consent calls, form submissions,
sequence enrolments and steps, rule firings, touches, visitors, engagement scores, lead
hand-offs and A/B group memberships. Kept without the person: a wave's recipient rows (campaign
results keep their counts: sent, opened, clicked) and the audience projection's row, blanked
and marked erased at a version no older snapshot of the CONTACTS stream can overwrite, so an
event still in flight cannot bring the address back."""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from crm.marketing.v1.marketing_pb2 import FormSubmission, Invitee
from crm_marketing import tables
from crmkit.db import Database
from crmkit.privacy import CONTACT, EMAIL, PHONE, Found, Holding, SubjectServicer

VISITOR = "visitor"
ERASED_VERSION = 2_000_000_000  # above any contact's version


def _audience_row(_row: Row[Any], _found: Found) -> dict[str, Any]:
    return {"name": "", "email": "", "phone": "", "language": "", "company": "", "title": "", "city": "", "province": "",
            "custom": "{}", "consents": "{}", "suppressed": "erased", "version": ERASED_VERSION}


def _recipient(row: Row[Any], _found: Found) -> dict[str, Any]:
    # The (wave, contact) pair stays unique; the contact id no longer names anyone.
    return {"contact_id": f"erased:{row.seq}", "email": "", "phone": "", "provider_id": "", "error": "",
            "links": None, "message_id": ""}


HOLDINGS = (
    Holding("audience", tables.audience_contacts, {"contact_id": CONTACT, "email": EMAIL},
            anonymize=_audience_row),
    Holding("tags", tables.contact_tags, {"contact_id": CONTACT}, export=False),
    Holding("invitations", tables.invitees, {"contact_id": CONTACT}, message=Invitee),
    Holding("mails", tables.recipients, {"contact_id": CONTACT, "email": EMAIL}, anonymize=_recipient),
    Holding("unsubscribes", tables.unsubscribes, {"contact_id": CONTACT, "email": EMAIL}),
    Holding("bounces and complaints", tables.suppressions, {"email": EMAIL}),
    Holding("sms replies", tables.sms_replies, {"phone": PHONE}),
    Holding("consent calls", tables.consent_jobs, {"contact_id": CONTACT}, export=False),
    Holding("form submissions", tables.form_submissions, {"email": EMAIL}, message=FormSubmission, scan=True),
    Holding("sequence enrolments", tables.enrollments, {"contact_id": CONTACT}),
    Holding("sequence steps", tables.scheduled_steps, {"contact_id": CONTACT}, export=False),
    Holding("rule firings", tables.rule_firings, {"contact_id": CONTACT}),
    Holding("visitors", tables.visitors, {"contact_id": CONTACT}, collect=(VISITOR, "visitor_id")),
    Holding("touches", tables.touches, {"contact_id": CONTACT, "visitor_id": VISITOR}),
    Holding("engagement", tables.engagement, {"contact_id": CONTACT}),
    Holding("lead hand-offs", tables.lead_handoffs, {"contact_id": CONTACT}),
    Holding("a/b groups", tables.ab_members, {"contact_id": CONTACT}, export=False),
)


def servicer(db: Database) -> SubjectServicer:
    return SubjectServicer(db, "marketing", HOLDINGS)
