"""The automation settings document (crmkit.settings_store)."""
from __future__ import annotations

from crm.marketing.v1.marketing_pb2 import AutomationSettings
from crm_marketing.tables import settings
from crmkit.settings_store import SettingsDocument

AUTOMATION = SettingsDocument(settings, "automation", AutomationSettings)
