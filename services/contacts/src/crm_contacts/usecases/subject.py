"""A person's data in contacts, for the privacy service's export and erasure
(`crm.privacy.v1.DataSubject`, served by `crmkit.privacy.SubjectServicer`).

Contacts is where a person is resolved: the contacts named by id, email or phone, and every
email, phone and name they carry. Erasure deletes the contacts with their side tables, timeline,
consents and merge snapshots, keeps the fact of each audited change without its detail, keeps
won deals' amounts for spend without the person, and drops the search documents."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import Consent, Contact, TimelineEntry
from crm.privacy.v1 import privacy_pb2 as ppb
from crm_contacts import tables
from crm_contacts.rules.records import normalize_phone
from crmkit.db import Database
from crmkit.errors import DomainError, FailedPrecondition
from crmkit.privacy import CONTACT, EMAIL, PHONE, Found, Holding, SubjectServicer, SuppressionList


def _audit_fact(_row: Row[Any], _found: Found) -> dict[str, Any]:
    return {"detail": ""}


def _won_deal_without_person(_row: Row[Any], _found: Found) -> dict[str, Any]:
    return {"contact_id": ""}


HOLDINGS = (
    Holding("contacts", tables.contacts, {"id": CONTACT, "merged_into_id": CONTACT}, message=Contact),
    Holding("identities", tables.identities, {"entity_id": CONTACT}, export=False),
    Holding("tags", tables.tags, {"entity_id": CONTACT}, export=False),
    Holding("custom field values", tables.custom_field_values, {"entity_id": CONTACT}, export=False),
    Holding("timeline", tables.timeline, {"contact_id": CONTACT}, message=TimelineEntry),
    Holding("merges", tables.merges, {"survivor_id": CONTACT, "merged_id": CONTACT}, message=None),
    Holding("consent history", tables.consent_history, {"contact_id": CONTACT}, message=Consent),
    Holding("consents", tables.contact_consents, {"contact_id": CONTACT}),
    Holding("spend", tables.customer_spend, {"entity_id": CONTACT}),
    Holding("won deals", tables.won_deals, {"contact_id": CONTACT}, anonymize=_won_deal_without_person),
    Holding("audit", tables.audit_log, {"entity_id": CONTACT}, anonymize=_audit_fact),
)


def resolve(session: Session, subject: ppb.Subject) -> ppb.Subject:
    """The contacts the subject names (by id, or carrying one of its emails or phones) and all
    their emails, phones and names."""
    ids = set(subject.contact_ids)
    identities = tables.identities
    pairs = [(EMAIL, e.strip().lower()) for e in subject.emails] + [(PHONE, p.strip()) for p in subject.phones]
    for kind, value in pairs:
        rows = session.execute(select(identities.c.entity_id).where(and_(
            identities.c.entity == "contact", identities.c.kind == kind, identities.c.value == value)))
        ids.update(r.entity_id for r in rows)
    emails = {e.strip().lower() for e in subject.emails if e.strip()}
    phones = {p.strip() for p in subject.phones if p.strip()}
    names: set[str] = set()
    found: set[str] = set()
    if ids:
        for row in session.execute(select(tables.contacts.c.id, tables.contacts.c.data)
                                   .where(tables.contacts.c.id.in_(sorted(ids)))):
            contact = Contact.FromString(row.data)
            found.add(contact.id)
            names.add(contact.name)
            emails.update(e.address for e in contact.emails if e.address)
            phones.update(p.number for p in contact.phones if p.number)
    # Ids contacts does not know are kept: other services may still hold them (an erased contact
    # whose saga resumes).
    return ppb.Subject(contact_ids=sorted(ids), emails=sorted(emails), phones=sorted(phones),
                       names=sorted(n for n in names if n))


_E164 = re.compile(r"\+[1-9]\d{6,14}")


def refuse_suppressed(suppression: SuppressionList | None, contact: Contact) -> None:
    """A contact whose email or phone was erased may not be created again."""
    if suppression is None:
        return
    refused = "this {} belongs to a person who asked to be erased; it may not be added again"
    # Checked one by one so the 400 names the element, as the other phone and email errors do.
    for i, email in enumerate(contact.emails):
        if suppression.suppressed(emails=[email.address]) is not None:
            raise FailedPrecondition(refused.format(EMAIL), field=f"emails[{i}].address")
    for i, phone in enumerate(contact.phones):
        number = phone.number
        if not _E164.fullmatch(number):  # an import's numbers are normalized already: no second parse
            try:
                number = normalize_phone(phone.number or phone.raw, f"phones[{i}].number")
            except DomainError:
                continue  # create_record names the bad number
        if suppression.suppressed(phones=[number]) is not None:
            raise FailedPrecondition(refused.format(PHONE), field=f"phones[{i}].number")

def servicer(db: Database, *, reindex: Callable[[list[str]], None],
             suppression: SuppressionList | None = None) -> SubjectServicer:
    """`reindex(contact_ids)` re-projects those contacts into the search index (gone: removed)."""

    def after_erase(found: Found) -> None:
        reindex(sorted(found.refs.get(CONTACT, ())))

    return SubjectServicer(db, "contacts", HOLDINGS, resolve=resolve, after_erase=after_erase,
                           suppression=suppression)
