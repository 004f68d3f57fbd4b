"""The settings document (scoring, assignment, pipelines, approvals, follow-ups): one row."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import SalesSettings
from crm_sales.tables import settings
from crmkit.settings_store import SettingsDocument

_DOCUMENT = SettingsDocument(settings, "sales", SalesSettings)


def load_settings(session: Session) -> SalesSettings | None:
    return _DOCUMENT.load(session)


def save_settings(session: Session, value: SalesSettings) -> None:
    _DOCUMENT.save(session, value)
