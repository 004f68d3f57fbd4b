"""A contact's 360° timeline: interactions logged here, entries other services' events put on it
(see handlers.py), and reading it newest first."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import Contact, Interaction, TimelineEntry
from crm_contacts import store
from crm_contacts.events import CONTACTS, emit
from crm_contacts.rules.records import check_interaction
from crm_contacts.rules.visibility import reads_conversations
from crm_contacts.usecases.records import visible
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import PermissionDenied
from crmkit.records import new_id

MAX_MERGE_HOPS = 10  # a chain of merges longer than this is a data error, not a reason to loop


def _is_finance(principal: Principal) -> bool:
    return principal.has_role("finance") and not principal.is_admin


def _hides_content(principal: Principal) -> bool:
    return not reads_conversations(principal)  # finance, analysts (rules/visibility.py)


def log_interaction(uow: UnitOfWork, *, principal: Principal, now: datetime, interaction: Interaction) -> Interaction:
    check_interaction(interaction)
    contact = visible(uow.session, principal=principal, kind=Contact, record_id=interaction.contact_id)
    if _is_finance(principal):
        raise PermissionDenied("finance cannot record conversations")
    interaction.id = new_id()
    interaction.author_id = principal.user_id
    interaction.account_id = interaction.account_id or contact.account_id
    if not interaction.HasField("occurred_at"):
        interaction.occurred_at.FromDatetime(now)
    entry = TimelineEntry(
        id=interaction.id, contact_id=contact.id, kind=interaction.kind, occurred_at=interaction.occurred_at,
        author_id=principal.user_id, summary=interaction.subject or interaction.content[:140],
        source_service="contacts", reference_id=interaction.id, interaction=interaction,
    )
    store.add_timeline_entry(uow.session, entry)
    # On the contact's stream of versions: consumers order it with the contact's other events.
    emit(uow, principal, CONTACTS.INTERACTION_LOGGED, contact.id, contact.version,
         ev.InteractionLogged(interaction=interaction), now, aggregate_type="contact")
    return interaction


def list_timeline(session: Session, *, principal: Principal, contact_id: str, page_size: int,
                  page_token: str) -> tuple[list[TimelineEntry], str]:
    contact = visible(session, principal=principal, kind=Contact, record_id=contact_id)
    entries, token = store.list_timeline(session, [contact.id], page_size, page_token)
    if _hides_content(principal):
        for entry in entries:  # finance sees that a conversation happened, not what was said
            if entry.HasField("interaction"):
                # the summary of an interaction without a subject is its content's start
                entry.summary = entry.interaction.subject
            entry.interaction.content = ""
    return entries, token


def add_foreign_entry(uow: UnitOfWork, *, entry: TimelineEntry) -> bool:
    """Put another service's entry on its contact's timeline (the survivor's, when the contact was
    merged away); once per entry id. False when the contact is not ours or is deleted."""
    session = uow.session
    contact = store.load(session, Contact, entry.contact_id)
    hops = 0
    while contact is not None and contact.deleted and contact.merged_into_id and hops < MAX_MERGE_HOPS:
        contact = store.load(session, Contact, contact.merged_into_id)
        hops += 1
    if contact is None or contact.deleted or store.timeline_entry_exists(session, entry.id):
        return False
    entry.contact_id = contact.id
    store.add_timeline_entry(session, entry)
    return True
