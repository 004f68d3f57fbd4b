"""The audit trail: who assigned, transferred, delegated or moved a quote along, written in the
same transaction as the change (entries in the service's audit log, crmkit.audit; an event of the
same transaction about the same record absorbs the entry)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crmkit import audit
from crmkit.auth import Principal


def record(session: Session, principal: Principal, action: str, entity: str, entity_id: str, now: datetime,
           detail: str = "", **details: object) -> None:
    audit.record(session, principal, action, entity, entity_id, at=now,
                 details={**({"note": detail[:4000]} if detail else {}), **details})
