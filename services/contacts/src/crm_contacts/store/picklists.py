"""The picklist vocabulary contacts owns (crmkit.picklists), one document in `contacts_settings`."""
from __future__ import annotations

from crm_contacts.tables import settings
from crmkit.picklist_store import PicklistStore

PICKLISTS = PicklistStore(settings)
