"""Consent per purpose. Recording a decision appends it to the contact's history (never changed
afterwards), makes it the contact's current state for that purpose (the snapshot's `consents`,
a new version) and announces it as crm.contacts.consent.changed carrying the snapshot. Only this
changes consents: a create refuses them, an update mask cannot name them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import Consent, Contact
from crm_contacts import store
from crm_contacts.events import CONTACTS, emit
from crm_contacts.rules import consent as rules
from crm_contacts.rules.records import normalize_email
from crm_contacts.store import consents as consent_store
from crm_contacts.usecases.records import visible
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import NotFound, PermissionDenied
from crmkit.records import bump


def record_consent(uow: UnitOfWork, *, principal: Principal, now: datetime, contact_id: str,
                   consent: Consent) -> Contact:
    """Who may: whoever may change the contact (its owner, their manager), admins and services
    (marketing's unsubscribe link and forms call with a service token). Withdrawal is
    granted=false."""
    rules.normalize_consent(consent)
    contact = visible(uow.session, principal=principal, kind=Contact, record_id=contact_id, write=True)
    consent.at.FromDatetime(now)  # the server's (OUTPUT_ONLY): when it was recorded, by whom
    consent.recorded_by = principal.user_id
    previous = rules.set_current(contact, consent)
    bump(contact, now)
    store.update_snapshot(uow.session, contact)
    consent_store.append_history(uow.session, contact.id, consent)
    consent_store.set_current(uow.session, contact.id, consent)
    # On the contact's stream of versions, like its other events: the snapshot rides along.
    payload = ev.ConsentChanged(contact=contact, consent=consent)
    if previous is not None:
        payload.previous.CopyFrom(previous)
    emit(uow, principal, CONTACTS.CONSENT_CHANGED, contact.id, contact.version, payload, now,
         aggregate_type="contact")
    verdict = "granted" if consent.granted else "withdrawn"
    store.audit(uow.session, at=now, actor=principal.user_id, action="consent", entity="contact",
                entity_id=contact.id,
                detail=f"{consent.purpose} {verdict} ({consent.lawful_basis}, {consent.source})")
    return contact


def list_consent_history(session: Session, *, principal: Principal, contact_id: str) -> list[Consent]:
    """Every decision, newest first, including those of contacts merged into this one."""
    contact = visible(session, principal=principal, kind=Contact, record_id=contact_id)
    return consent_store.history(session, consent_store.merged_into(session, contact.id))


def find_contact_by_email(session: Session, *, principal: Principal, email: str) -> Contact:
    """For an unsubscribe link or a form, which know an address and not the contact."""
    if not principal.is_admin:
        raise PermissionDenied("only an admin or a service can look a contact up by email")
    found = consent_store.contact_by_email(session, normalize_email(email, "email"))
    if found is None:
        raise NotFound("no contact has this email", field="email")
    return found
