"""The projection of the contacts stream: which emails each contact has, to match interactions
logged on a contact to the open leads with the same email."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from crm_sales.tables import contact_emails, leads

OPEN_STATUSES = ("new", "working", "nurturing")
CHUNK = 500  # contact ids per IN list

# Run for every contact event.
_DELETE_EMAILS = delete(contact_emails).where(contact_emails.c.contact_id == bindparam("cid"))
_INSERT_EMAILS = insert(contact_emails)
_EMAILS_OF = select(contact_emails.c.email).where(contact_emails.c.contact_id == bindparam("cid"))
_MATCHING_LEADS = (
    select(leads.c.id)
    .where(leads.c.email.in_(_EMAILS_OF), leads.c.email != "", leads.c.status.in_(OPEN_STATUSES))
    .order_by(leads.c.seq)
)


def replace(session: Session, contact_id: str, emails: Iterable[str]) -> None:
    """The contact's emails become `emails` (none: the contact is gone)."""
    session.execute(_DELETE_EMAILS, {"cid": contact_id})
    rows = [{"contact_id": contact_id, "email": e} for e in sorted(set(emails))]
    if rows:
        session.execute(_INSERT_EMAILS, rows)


def replace_many(session: Session, emails_by_contact: Sequence[tuple[str, Iterable[str]]]) -> None:
    """`replace` for many contacts, as if one after the other (the last for a contact wins): one
    delete per chunk of ids and one insert of every row."""
    latest = {contact_id: sorted(set(emails)) for contact_id, emails in emails_by_contact}
    ids = list(latest)
    for i in range(0, len(ids), CHUNK):
        session.execute(delete(contact_emails).where(contact_emails.c.contact_id.in_(ids[i:i + CHUNK])))
    rows = [{"contact_id": contact_id, "email": e} for contact_id, emails in latest.items() for e in emails]
    if rows:
        session.execute(_INSERT_EMAILS, rows)


def matching_leads(session: Session, contact_id: str) -> list[str]:
    """Ids of the open leads whose email is one of the contact's. (A lead's converted_contact_id is
    only ever set together with status "converted", so it cannot match an open lead.)"""
    return list(session.execute(_MATCHING_LEADS, {"cid": contact_id}).scalars())
