"""Sales' business metrics (the RED metrics of its RPCs come from crmkit). Observed after the
commit of what they measure (UnitOfWork.after_commit), so a rolled-back change counts nothing."""
from __future__ import annotations

from prometheus_client import Histogram

# Minutes to days: a lead answered within the hour is the target most teams alert on.
RESPONSE_BUCKETS = (60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600)
# Hours to months: how long a deal sat in a stage before it moved.
STAGE_BUCKETS = (3600, 6 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600, 14 * 24 * 3600, 30 * 24 * 3600,
                 60 * 24 * 3600, 90 * 24 * 3600)

LEAD_RESPONSE_SECONDS = Histogram(
    "crm_sales_lead_response_seconds", "Lead created to its owner's first response (call, email, status change)",
    ["source"], buckets=RESPONSE_BUCKETS)
STAGE_AGE_SECONDS = Histogram(
    "crm_sales_opportunity_stage_age_seconds", "Time an opportunity spent in a stage, observed when it leaves it",
    ["stage"], buckets=STAGE_BUCKETS)
