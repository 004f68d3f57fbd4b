"""The contact projection (what sending needs of each contact), its tags, and the address-level
facts learned here: suppressions (bounces, complaints) and unsubscribes."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from crm_marketing.rules.eligibility import ConsentState, Reachability
from crm_marketing.tables import audience_contacts, contact_tags, suppressions, unsubscribes
from crmkit.imports import bulk
from crmkit.records import aware

CHUNK = 500


@dataclass(frozen=True)
class ProjectedContact:
    contact_id: str
    name: str
    email: str
    language: str
    company: str
    title: str
    city: str
    province: str
    owner_id: str
    team: str
    region: str
    custom: dict[str, Any]
    consents: dict[str, ConsentState]
    suppressed: str
    version: int
    phone: str = ""          # E.164: the first valid number (sms waves)


def consents_json(consents: dict[str, ConsentState]) -> str:
    return json.dumps({p: {"granted": c.granted, "at": c.at.isoformat() if c.at else None}
                       for p, c in sorted(consents.items())})


def _consents(raw: str) -> dict[str, ConsentState]:
    parsed = json.loads(raw or "{}")
    return {p: ConsentState(bool(v.get("granted")), datetime.fromisoformat(v["at"]) if v.get("at") else None)
            for p, v in parsed.items()}


def _row(r: Any) -> ProjectedContact:
    return ProjectedContact(r.contact_id, r.name, r.email, r.language, r.company, r.title, r.city, r.province,
                            r.owner_id, r.team, r.region, json.loads(r.custom or "{}"), _consents(r.consents),
                            r.suppressed, r.version, r.phone)


# The statements of every CONTACTS event, built once: building them per event with the values
# inlined cost about three times the SQL they ran (bench/profile_suite.py, docs/performance.md).
_SNAPSHOT_COLUMNS = ("name", "email", "phone", "language", "company", "title", "city", "province", "owner_id", "team",
                     "region", "custom", "consents", "suppressed", "version", "updated_at")
_VERSION = select(audience_contacts.c.version).where(
    audience_contacts.c.contact_id == bindparam("b_contact_id")).with_for_update()
_UPDATE = update(audience_contacts).where(audience_contacts.c.contact_id == bindparam("b_contact_id")).values(
    {c: bindparam(c) for c in _SNAPSHOT_COLUMNS})
_INSERT = insert(audience_contacts).values(contact_id=bindparam("b_contact_id"),
                                           **{c: bindparam(c) for c in _SNAPSHOT_COLUMNS})
_UNTAG = delete(contact_tags).where(contact_tags.c.contact_id == bindparam("b_contact_id"))
_TAG = insert(contact_tags)


def version_of(session: Session, contact_id: str) -> int | None:
    return session.execute(_VERSION, {"b_contact_id": contact_id}).scalar_one_or_none()


def _values(contact: ProjectedContact, now: datetime) -> dict[str, Any]:
    return dict(b_contact_id=contact.contact_id, name=contact.name, email=contact.email, phone=contact.phone,
                language=contact.language,
                company=contact.company, title=contact.title, city=contact.city, province=contact.province,
                owner_id=contact.owner_id, team=contact.team, region=contact.region,
                custom=json.dumps(contact.custom, ensure_ascii=False), consents=consents_json(contact.consents),
                suppressed=contact.suppressed, version=contact.version, updated_at=now)


def versions_of(session: Session, contact_ids: Sequence[str], *, for_update: bool = False) -> dict[str, int]:
    """The projected version of each of these contacts we hold (their rows locked: `for_update`)."""
    found: dict[str, int] = {}
    for i in range(0, len(contact_ids), CHUNK):
        query = select(audience_contacts.c.contact_id, audience_contacts.c.version).where(
            audience_contacts.c.contact_id.in_(list(contact_ids[i:i + CHUNK])))
        for contact_id, version in session.execute(query.with_for_update() if for_update else query):
            found[contact_id] = int(version)
    return found


def upsert_many(session: Session, items: Sequence[tuple[ProjectedContact, Sequence[str]]], now: datetime, *,
                existing: set[str]) -> None:
    """`upsert` for many contacts (a freeze's segment members, a run of snapshots), a statement per kind of row
    rather than four per contact; `existing`: those of them we already hold (`versions_of`)."""
    values = [_values(contact, now) for contact, _ in items]
    updates = [v for v in values if v["b_contact_id"] in existing]
    inserts = [v for v in values if v["b_contact_id"] not in existing]
    if updates:
        session.execute(_UPDATE, updates)
        ids = [v["b_contact_id"] for v in updates]
        for i in range(0, len(ids), CHUNK):
            session.execute(delete(contact_tags).where(contact_tags.c.contact_id.in_(ids[i:i + CHUNK])))
    # New rows and tags straight to the driver (crmkit.imports.bulk): SQLAlchemy's parameter set per
    # row cost more than SQLite storing it.
    connection = session.connection()
    bulk.insert_many(connection, audience_contacts, [
        {"contact_id": v["b_contact_id"], **{c: v[c] for c in _SNAPSHOT_COLUMNS}} for v in inserts])
    bulk.insert_many(connection, contact_tags, [
        {"contact_id": contact.contact_id, "tag": t} for contact, given in items for t in sorted(set(given))])


def upsert(session: Session, contact: ProjectedContact, tags: Sequence[str], now: datetime) -> None:
    values = _values(contact, now)
    done = session.execute(_UPDATE, values)
    if done.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        # A new row: tags are only ever written with their row, so there are none to clear.
        session.execute(_INSERT, values)
    else:
        session.execute(_UNTAG, {"b_contact_id": contact.contact_id})
    if tags:
        session.execute(_TAG, [{"contact_id": contact.contact_id, "tag": t} for t in sorted(set(tags))])


FINAL_VERSION = 2**31 - 1  # a merged-away contact stays suppressed whatever stale snapshot comes later


def suppress(session: Session, contact_id: str, reason: str, now: datetime) -> None:
    """Mark a contact never to be mailed again (merged away): a row even if we never saw it."""
    done = session.execute(update(audience_contacts).where(audience_contacts.c.contact_id == contact_id)
                           .values(suppressed=reason, version=FINAL_VERSION, updated_at=now))
    if done.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        session.execute(insert(audience_contacts).values(contact_id=contact_id, suppressed=reason,
                                                         version=FINAL_VERSION, custom="{}", consents="{}",
                                                         updated_at=now))


def load(session: Session, contact_ids: Iterable[str]) -> dict[str, ProjectedContact]:
    ids = list(contact_ids)
    found: dict[str, ProjectedContact] = {}
    for i in range(0, len(ids), CHUNK):
        for r in session.execute(select(audience_contacts).where(audience_contacts.c.contact_id.in_(ids[i:i + CHUNK]))):
            found[r.contact_id] = _row(r)
    return found


def get(session: Session, contact_id: str) -> ProjectedContact | None:
    return load(session, [contact_id]).get(contact_id)


def contact_by_email(session: Session, email: str) -> str | None:
    """The contact marketing knows with this address (the oldest one not suppressed)."""
    found = session.execute(select(audience_contacts.c.contact_id).where(
        audience_contacts.c.email == email.strip().lower(), audience_contacts.c.suppressed == "",
    ).order_by(audience_contacts.c.updated_at).limit(1)).scalar_one_or_none()
    return found


def tagged(session: Session, tags: Sequence[str]) -> list[str]:
    """Contacts carrying any of the tags, oldest tag rows first (stable)."""
    if not tags:
        return []
    return list(dict.fromkeys(session.execute(select(contact_tags.c.contact_id).where(
        contact_tags.c.tag.in_(list(tags))).order_by(contact_tags.c.contact_id)).scalars()))


def reachability(session: Session, contact_ids: Sequence[str], purpose: str, *,
                 known: dict[str, ProjectedContact] | None = None) -> dict[str, Reachability]:
    """What eligibility needs of each contact we know (projection, suppressions, unsubscribes);
    `known`: the contacts' projection already loaded (`load(session, contact_ids)`)."""
    contacts = load(session, contact_ids) if known is None else known
    emails = [c.email for c in contacts.values() if c.email]
    suppressed: dict[str, str] = {}
    for i in range(0, len(emails), CHUNK):
        for email, reason in session.execute(select(suppressions.c.email, suppressions.c.reason).where(
                suppressions.c.email.in_(emails[i:i + CHUNK]))):
            suppressed[email] = reason
    unsubscribed: dict[str, datetime] = {}
    ids = list(contacts)
    for i in range(0, len(ids), CHUNK):
        for contact_id, at in session.execute(select(unsubscribes.c.contact_id, unsubscribes.c.at).where(
                unsubscribes.c.contact_id.in_(ids[i:i + CHUNK]), unsubscribes.c.purpose == purpose)):
            unsubscribed[contact_id] = aware(at)
    return {cid: Reachability(c.email, c.suppressed, suppressed.get(c.email, ""), c.consents, unsubscribed.get(cid),
                              phone=c.phone)
            for cid, c in contacts.items()}


def contacts_by_phone(session: Session, phone: str) -> list[str]:
    """Every contact marketing knows with this number (an SMS reply speaks for all of them)."""
    return list(session.execute(select(audience_contacts.c.contact_id).where(
        audience_contacts.c.phone == phone).order_by(audience_contacts.c.contact_id)).scalars())


def add_suppression(session: Session, email: str, reason: str, detail: str, at: datetime) -> None:
    if session.execute(select(suppressions.c.email).where(suppressions.c.email == email)).first() is None:
        session.execute(insert(suppressions).values(email=email, reason=reason, detail=detail[:1000], at=at))


def record_unsubscribe(session: Session, contact_id: str, purpose: str, email: str, wave_id: str,
                       at: datetime) -> None:
    done = session.execute(update(unsubscribes).where(
        unsubscribes.c.contact_id == contact_id, unsubscribes.c.purpose == purpose,
    ).values(email=email, wave_id=wave_id, at=at))
    if done.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        session.execute(insert(unsubscribes).values(contact_id=contact_id, purpose=purpose, email=email,
                                                    wave_id=wave_id, at=at))
