"""Business metrics of the webhooks service."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

DELIVERIES = Counter("crm_webhooks_deliveries_total",
                     "Delivery attempts by outcome: delivered, retry (failed, tried again later), parked "
                     "(failed for a day), refused (the target's address is not allowed; retried too)", ["outcome"])
QUEUED = Counter("crm_webhooks_deliveries_queued_total", "Deliveries made from events")
PENDING = Gauge("crm_webhooks_queue_pending", "Deliveries waiting for their first or next attempt",
                multiprocess_mode="max")
OLDEST = Gauge("crm_webhooks_queue_oldest_age_seconds", "Age of the oldest delivery still pending (0: none)",
               multiprocess_mode="max")
