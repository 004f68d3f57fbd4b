"""The picklist vocabulary (source, industry, level, lifecycle stage) contacts owns for every
service: anyone signed in reads it (the console and exports show its labels), an admin changes
one picklist at a time. The change commits with `crm.contacts.picklist.updated` in its outbox,
carrying the whole document, from which sales and the others keep their copy (crmkit.picklists)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.common.v1.picklists_pb2 import Picklist, Picklists
from crm_contacts import store
from crm_contacts.events import CONTACTS, emit
from crm_contacts.store.picklists import PICKLISTS
from crmkit import picklists
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import Conflict, PermissionDenied

AGGREGATE = "picklists"  # the event's aggregate id: one document


def get_picklists(session: Session) -> Picklists:
    return PICKLISTS.load(session)


def update_picklist(uow: UnitOfWork, *, principal: Principal, now: datetime, change: Picklist,
                    expected_version: int | None) -> Picklists:
    """`expected_version` None: no check; 0 included, any other version is a conflict."""
    if not principal.is_admin:
        raise PermissionDenied("only an admin can change picklists")
    current = PICKLISTS.load(uow.session)
    if expected_version is not None and expected_version != current.version:
        raise Conflict(f"version {expected_version} is stale, the picklists are at version {current.version}",
                       field="If-Match", current_version=current.version)
    document = picklists.updated(current, change)
    if document.SerializeToString(deterministic=True) == current.SerializeToString(deterministic=True):
        return current  # nothing changed: no new version, no event
    document.version = current.version + 1
    document.update_time.FromDatetime(now)
    document.updated_by = principal.user_id
    PICKLISTS.save(uow.session, document)
    keys = [f"{v.key}{' (retired)' if v.retired else ''}" for p in document.picklists if p.name == change.name
            for v in p.values]
    store.audit(uow.session, at=now, actor=principal.user_id, action="picklist_updated", entity="picklist",
                entity_id=change.name, detail=f"version {document.version}: {', '.join(keys)}")
    emit(uow, principal, CONTACTS.PICKLIST_UPDATED, AGGREGATE, document.version, document, now)
    return document
