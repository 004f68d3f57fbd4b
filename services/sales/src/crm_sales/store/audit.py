"""The audit trail: who assigned, transferred, delegated or moved a quote along, written in the
same transaction as the change."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from crm_sales.tables import audit_log
from crmkit.auth import Principal

_INSERT = insert(audit_log)


def record(session: Session, principal: Principal, action: str, entity: str, entity_id: str, now: datetime,
           detail: str = "") -> None:
    session.execute(_INSERT, {"at": now, "actor": principal.user_id, "action": action, "entity": entity,
                              "entity_id": entity_id, "detail": detail[:4000]})
