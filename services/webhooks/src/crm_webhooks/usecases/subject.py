"""A person's data in webhooks, for the privacy service's export and erasure
(`crm.privacy.v1.DataSubject`, served by `crmkit.privacy.SubjectServicer`).

A delivery is about a person when its event named their contact id, email or phone (recorded in
`webhook_delivery_subjects` before the body was masked for the subscriber), or when its body
carries one of them (an admin's unmasked body). Those deliveries are exported with their bodies
and erased by deleting them, queued or not: nothing is sent about the person afterwards and a
replay finds nothing to resend. Keyed hashes of the person's ids, emails and phones are kept, so
an event about them still in a stream (a consumer behind) makes no delivery later. A delivery already on the wire when the erasure commits still
arrives (its outcome then updates no row)."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crm_webhooks import store, tables
from crm_webhooks.rules import subjects
from crmkit.db import Database, UnitOfWork
from crmkit.privacy import CONTACT, EMAIL, PHONE, Found, Holding, SubjectServicer

DELIVERY = "delivery"
DELIVERIES = "webhook deliveries"

HOLDINGS = (
    Holding("delivery subjects", tables.delivery_subjects, {"contact_id": CONTACT, "email": EMAIL, "phone": PHONE},
            collect=(DELIVERY, "delivery_id"), export=False),
)


def _found(session: Session, found: Found) -> list[Any]:
    return store.deliveries_about(session, sorted(found.refs.get(DELIVERY, ())), found.needles())


def _export(session: Session, found: Found, attachments: list[Any]) -> None:
    rows = _found(session, found)
    found.refs.setdefault(DELIVERY, set()).update(r.id for r in rows)
    found.sections[DELIVERIES] = [{
        "id": r.id, "subscription_id": r.subscription_id, "event_type": r.event_type, "status": r.status,
        "attempts": r.attempts, "created_at": r.created_at.isoformat() if r.created_at else None,
        "body": json.loads(r.body) if r.body else None,
    } for r in rows]


def servicer(db: Database, key: bytes, clock: Callable[[], datetime]) -> SubjectServicer:
    """`key`: of the hashes of the erased people, whose events still in a stream make no delivery."""

    def erase(uow: UnitOfWork, found: Found) -> None:
        ids = [r.id for r in _found(uow.session, found)]
        found.counts[DELIVERIES] = store.delete_deliveries(uow.session, ids)
        people = [(kind, v) for kind in (CONTACT, EMAIL, PHONE) for v in found.refs.get(kind, ())]
        store.add_erased(uow.session, subjects.hashes(key, people), clock())

    return SubjectServicer(db, "webhooks", HOLDINGS, clock=clock, export_extra=_export, before_erase=erase)
