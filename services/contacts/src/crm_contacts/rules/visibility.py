"""Who sees which customer, enforced inside the service (the gateway is not trusted with it): an
admin sees everything, a manager their team and their region, support and analysts read
everything but change nothing, reps and marketing only the records they own."""
from __future__ import annotations

from crmkit.visibility import Visibility

VISIBILITY = Visibility(read_all=("support", "analyst"), writers=("rep", "marketing"))
