"""Business metrics of the privacy service."""
from __future__ import annotations

from prometheus_client import Counter

JOBS_COMPLETED = Counter("crm_privacy_jobs_completed_total", "Exports and erasures completed", ["kind"])
STEP_FAILURES = Counter("crm_privacy_step_failures_total",
                        "Calls to a service's DataSubject endpoint that failed (retried)", ["kind", "service"])
