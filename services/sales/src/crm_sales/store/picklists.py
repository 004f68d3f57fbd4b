"""Sales' copy of the picklist vocabulary contacts owns (crm.contacts.picklist.updated, newest
version wins), one document in `sales_settings`: leads are checked against it without a call to
contacts, and a restarted replica finds the last one it heard of (crmkit.picklists)."""
from __future__ import annotations

from crm_sales.tables import settings
from crmkit.picklist_store import PicklistStore

PICKLISTS = PicklistStore(settings)
