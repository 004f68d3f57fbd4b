"""The settings document (scoring, assignment, pipelines, approvals, follow-ups): one row."""
from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import SalesSettings
from crm_sales.tables import settings

# Read by nearly every write.
_LOAD_SETTINGS = select(settings.c.data).where(settings.c.key == "sales")


def load_settings(session: Session) -> SalesSettings | None:
    row = session.execute(_LOAD_SETTINGS).scalar_one_or_none()
    return None if row is None else SalesSettings.FromString(row)


def save_settings(session: Session, value: SalesSettings) -> None:
    data = value.SerializeToString()
    if session.execute(select(settings.c.key).where(settings.c.key == "sales")).first():
        session.execute(update(settings).where(settings.c.key == "sales").values(version=value.version, data=data))
    else:
        session.execute(insert(settings).values(key="sales", version=value.version, data=data))
