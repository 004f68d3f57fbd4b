"""Contacts' scheduled work: retention of soft-deleted records (crmkit.retention).

A deleted contact or account is kept, hidden, for RETENTION_SOFT_DELETED_DAYS (30) so a mistake
can be undone by an admin; then its row goes, with its tags, phone and email identities, custom
field values and (a contact's) timeline. Merged-away contacts count as deleted."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from crm_contacts.tables import accounts, contacts, custom_field_values, identities, tags, timeline
from crmkit.retention import DataClass


def _purge(table: Table, entity: str) -> DataClass:
    def purge(session: Session, cutoff: datetime, limit: int) -> int:
        ids = list(session.execute(select(table.c.id).where(table.c.deleted.is_(True), table.c.updated_at < cutoff)
                                   .order_by(table.c.seq).limit(limit)).scalars())
        if not ids:
            return 0
        for side in (tags, identities, custom_field_values):
            session.execute(delete(side).where(side.c.entity == entity, side.c.entity_id.in_(ids)))
        if entity == "contact":
            session.execute(delete(timeline).where(timeline.c.contact_id.in_(ids)))
        session.execute(delete(table).where(table.c.id.in_(ids)))
        return len(ids)

    return DataClass(f"soft_deleted_{entity}s", 30, purge, f"deleted {entity}s, kept hidden until then")


RETENTION = (_purge(contacts, "contact"), _purge(accounts, "account"))
