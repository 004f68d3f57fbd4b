"""Consent rows: the append-only history of every decision, and the current decision per purpose
that segments filter on (the same state the contact snapshot carries in `consents`)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import Consent, Contact
from crm_contacts.tables import consent_history, contact_consents, contacts, identities, merges
from crmkit.records import dt

MAX_MERGE_HOPS = 10

_APPEND = insert(consent_history)
_CLEAR_ONE = delete(contact_consents).where(contact_consents.c.contact_id == bindparam("cid"),
                                            contact_consents.c.purpose == bindparam("p"))
_CLEAR_ALL = delete(contact_consents).where(contact_consents.c.contact_id == bindparam("cid"))
_SET = insert(contact_consents)


def append_history(session: Session, contact_id: str, consent: Consent) -> None:
    session.connection().execute(_APPEND, {
        "contact_id": contact_id, "purpose": consent.purpose, "granted": consent.granted,
        "at": dt(consent.at), "data": consent.SerializeToString(),
    })


def set_current(session: Session, contact_id: str, consent: Consent) -> None:
    session.connection().execute(_CLEAR_ONE, {"cid": contact_id, "p": consent.purpose})
    session.connection().execute(_SET, {"contact_id": contact_id, "purpose": consent.purpose,
                                        "granted": consent.granted, "at": dt(consent.at)})


def replace_current(session: Session, contact_id: str, current: Iterable[Consent]) -> None:
    """The contact's rows become exactly `current` (after a merge changed its state)."""
    session.connection().execute(_CLEAR_ALL, {"cid": contact_id})
    rows = [{"contact_id": contact_id, "purpose": c.purpose, "granted": c.granted, "at": dt(c.at)} for c in current]
    if rows:
        session.connection().execute(_SET, rows)


def merged_into(session: Session, contact_id: str) -> list[str]:
    """The contact and every contact merged into it (through earlier merges too)."""
    found, frontier = [contact_id], [contact_id]
    for _ in range(MAX_MERGE_HOPS):
        frontier = list(session.execute(select(merges.c.merged_id).where(merges.c.survivor_id.in_(frontier))).scalars())
        frontier = [i for i in frontier if i not in found]
        if not frontier:
            break
        found.extend(frontier)
    return found


def history(session: Session, contact_ids: Sequence[str]) -> list[Consent]:
    """Newest first; the decisions of contacts merged into this one included."""
    rows = session.execute(select(consent_history.c.data).where(consent_history.c.contact_id.in_(contact_ids))
                           .order_by(consent_history.c.at.desc(), consent_history.c.seq.desc())).scalars()
    return [Consent.FromString(data) for data in rows]


_BY_EMAIL = (
    select(contacts.c.data)
    .where(contacts.c.id.in_(select(identities.c.entity_id).where(
        identities.c.entity == "contact", identities.c.kind == "email", identities.c.value == bindparam("email"))),
        contacts.c.deleted.is_(False))
    .order_by(contacts.c.seq)
    .limit(1)
)


def contact_by_email(session: Session, email: str) -> Contact | None:
    """The oldest live contact with this (normalized) email."""
    data = session.connection().execute(_BY_EMAIL, {"email": email}).scalar_one_or_none()
    return None if data is None else Contact.FromString(data)
