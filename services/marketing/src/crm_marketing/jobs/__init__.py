"""Marketing's scheduled work, each on a `crmkit.scheduler.PeriodicWorker`: the sender
(`sending`), the scheduler of what is owed to contacts and sales (`delivery`), and the
automation worker (`automation`: sequence steps, A/B test decisions)."""
from __future__ import annotations

from crm_marketing.jobs.delivery import deliver_forms, deliver_handoffs, record_consents, scheduler
from crm_marketing.jobs.sending import MAX_ATTEMPTS, Sender, SendOptions, SendWorker, Throttle

__all__ = ["MAX_ATTEMPTS", "SendOptions", "SendWorker", "Sender", "Throttle", "deliver_forms", "deliver_handoffs",
           "record_consents", "scheduler"]
