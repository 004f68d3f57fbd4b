"""Who sees which customer, enforced inside the service (the gateway is not trusted with it): an
admin sees everything, a manager their team and their region, support and analysts read
everything but change nothing, reps and marketing only the records they own."""
from __future__ import annotations

from crmkit.visibility import Visibility

VISIBILITY = Visibility(read_all=("support", "analyst"), writers=("rep", "marketing"))

# Segments are definitions shared across the company (HubSpot lists are): every signed-in user
# reads every segment, while its members are always evaluated with the caller's own visibility of
# contacts. Changing one is its owner's, a manager's in its team or region, or an admin's: this
# rule's `can_write` (its reads are not restricted).
SEGMENTS = Visibility(writers=("rep", "marketing", "analyst"))
