"""Marketing's projection of contacts: what sending needs of each (name, email, language, tags,
owner, consents, suppressed), from contacts' snapshots. Fed by the CONTACTS stream (handlers) and
by the members ListSegmentMembers returns at freeze time; the newest version wins, whatever order
the snapshots come in."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.protobuf.json_format import MessageToDict
from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import Contact
from crm_marketing.rules.eligibility import ConsentState
from crm_marketing.rules.templates import normalize_language
from crm_marketing.store import projection
from crm_marketing.store.projection import ProjectedContact
from crmkit.records import dt


def projected(contact: Contact) -> ProjectedContact:
    email = next((e.address.strip().lower() for e in contact.emails if e.address.strip()), "")
    phone = next((p.number for p in contact.phones if p.number.startswith("+") and not p.unverified), "")
    address = next((a for a in contact.addresses if a.city or a.province), None)
    language = contact.language or contact.preferences.get("language", "")
    suppressed = "merged" if contact.merged_into_id else "deleted" if contact.deleted else ""
    consents = {c.purpose: ConsentState(c.granted, dt(c.at) if c.HasField("at") else None)
                for c in contact.consents if c.purpose}
    custom = MessageToDict(contact.custom_fields) if contact.HasField("custom_fields") else {}
    return ProjectedContact(
        contact_id=contact.id, name=contact.name, email=email, language=normalize_language(language) if language else "",
        company=contact.company_name, title=contact.title, city=address.city if address else "",
        province=address.province if address else "", owner_id=contact.owner_id, team=contact.team,
        region=contact.region, custom=custom, consents=consents, suppressed=suppressed, version=contact.version,
        phone=phone)


def _row(contact: Contact, deleted: bool) -> ProjectedContact:
    row = projected(contact)
    if deleted and not row.suppressed:
        row = ProjectedContact(**{**row.__dict__, "suppressed": "deleted"})
    return row


def apply_contact(session: Session, contact: Contact, now: datetime, *, deleted: bool = False) -> bool:
    """Upsert the snapshot unless we hold a newer one; False when it was stale."""
    if not contact.id:
        return False
    current = projection.version_of(session, contact.id)
    if current is not None and current > contact.version:
        return False
    projection.upsert(session, _row(contact, deleted), list(contact.tags), now)
    return True


def apply_snapshots(session: Session, snapshots: Sequence[tuple[Contact, bool]], now: datetime) -> None:
    """`apply_contact` for many (snapshot, deleted) at once, with the effect of applying them in
    order: one versions query and a statement per kind of row instead of several per contact."""
    latest: dict[str, tuple[Contact, bool]] = {}
    for contact, deleted in snapshots:
        held = latest.get(contact.id)
        if contact.id and (held is None or held[0].version <= contact.version):
            latest[contact.id] = (contact, deleted)
    # Locked in one order, as version_of locks one row: a replica's concurrent older snapshot waits.
    current = projection.versions_of(session, sorted(latest), for_update=True)
    fresh = [(c, d) for c, d in latest.values() if current.get(c.id) is None or current[c.id] <= c.version]
    projection.upsert_many(session, [(_row(c, d), list(c.tags)) for c, d in fresh], now, existing=set(current))


def apply_contacts(session: Session, contacts: Sequence[Contact], now: datetime, page: int = 1000) -> None:
    """`apply_contact` for many snapshots (a frozen segment's members), a page at a time."""
    for start in range(0, len(contacts), page):
        apply_snapshots(session, [(c, False) for c in contacts[start:start + page]], now)


def merged_away(session: Session, contact_ids: list[str], now: datetime) -> None:
    """Contacts merged into another: never mailed again under their own id (the survivor is)."""
    for contact_id in contact_ids:
        projection.suppress(session, contact_id, "merged", now)
