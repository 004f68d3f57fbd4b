"""A person's data in reporting, for the privacy service's export and erasure
(`crm.privacy.v1.DataSubject`, served by `crmkit.privacy.SubjectServicer`).

The read models hold no names, emails or phones, only ids and facts. Erasure deletes a person's
tags (what was said about them) and, from the runtime tables, the parked events that carried
their snapshot; the facts stay, keyed by ids that point at nothing once every other service has
erased the person, so every report keeps its counts."""
from __future__ import annotations

from crm_reporting import tables
from crmkit.db import Database
from crmkit.privacy import CONTACT, Holding, SubjectServicer

LEAD, OPPORTUNITY = "lead", "opportunity"

HOLDINGS = (
    Holding("customer", tables.customers, {"contact_id": CONTACT}, erase=False),
    Holding("customer tags", tables.customer_tags, {"contact_id": CONTACT}),
    Holding("lead links", tables.person_links, {"contact_id": CONTACT}, collect=(LEAD, "lead_id"), erase=False),
    Holding("opportunities", tables.opportunities, {"contact_id": CONTACT, "lead_id": LEAD}, erase=False),
    Holding("campaign touches", tables.touches, {"contact_id": CONTACT, "lead_id": LEAD}, erase=False),
    Holding("email engagement", tables.email_engagements, {"contact_id": CONTACT}, erase=False),
)


def servicer(db: Database) -> SubjectServicer:
    return SubjectServicer(db, "reporting", HOLDINGS)
