"""The SMS sender: every sms wave that is sending is texted in claimed batches (usecases.sms) at
MARKETING_SMS_RATE messages per second until it is done, resuming after a restart (pending
rows, and rows whose claim expired). Each claim and each batch of outcomes is its own
transaction, opened here. A provider that is away (or whose account cannot send) pauses the
wave until the next tick; a retryable refusal (per-number flow control) is tried again up to
MAX_ATTEMPTS times; a permanent one fails the recipient with the provider's code."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from crm_marketing.jobs.sending import MAX_ATTEMPTS, Throttle
from crm_marketing.metrics import SKIPPED, SMS
from crm_marketing.store import sending as send_store
from crm_marketing.usecases import sms
from crmkit import logs
from crmkit.db import Database
from crmkit.scheduler import PeriodicWorker
from crmkit.sms import SmsRejected, SmsSender, SmsUnavailable

log = logs.get("crm_marketing.jobs.sms")


class SmsWaveSender:
    """Drives the sms waves that are sending. One per process; replicas share the work by claims."""

    def __init__(self, db: Database, provider: SmsSender | None, clock: Callable[[], datetime], *,
                 rate: float = 20.0, batch: int = 50, lease: timedelta = timedelta(seconds=60)) -> None:
        self.db, self.provider, self.clock = db, provider, clock
        self.worker_id = f"sms-{uuid.uuid4().hex[:12]}"
        self.halt = threading.Event()
        self.throttle = Throttle(rate)
        self.lease = lease
        # A batch must go out well within its claim, or another sender could take it over.
        self.batch = max(1, min(batch, int(rate * lease.total_seconds() / 4)))
        self._skip_locked = not db.is_sqlite

    def run_once(self, now: datetime) -> int:
        """Send what is due; returns how many messages the provider took."""
        if self.provider is None:
            return 0
        with self.db.read() as session:
            wave_ids = send_store.sending_waves(session, now, "sms")
        return sum(self._drive(wave_id) for wave_id in wave_ids if not self.halt.is_set())

    def _claim(self, wave_id: str) -> sms.SmsClaim:
        with self.db.unit_of_work() as uow:
            batch = sms.claim(uow, wave_id=wave_id, worker=self.worker_id, now=self.clock(), limit=self.batch,
                              lease=self.lease, skip_locked=self._skip_locked)
            uow.commit()
        for reason, n in batch.skipped.items():
            SKIPPED.labels(reason).inc(n)
            SMS.labels("skipped").inc(n)
        return batch

    def _drive(self, wave_id: str) -> int:
        sent = 0
        while not self.halt.is_set():
            batch = self._claim(wave_id)
            if batch.finished or (not batch.items and not batch.skipped):
                return sent  # done, or other senders hold live claims on the rest
            handed, unavailable = self._hand_over(batch)
            sent += handed
            if unavailable:
                return sent  # the provider is away: the next tick tries again
        return sent

    def _hand_over(self, batch: sms.SmsClaim) -> tuple[int, bool]:
        assert self.provider is not None
        outcomes = sms.SmsOutcomes()
        handed, unavailable = 0, False
        for item in batch.items:
            if self.halt.is_set() or unavailable:
                outcomes.released.append((item.seq, "provider away" if unavailable else "stopped before sending"))
                continue
            self.throttle.wait()
            try:
                accepted = self.provider.send(item.sms)
            except SmsUnavailable as exc:
                if exc.handed:  # the request went out, its answer was lost: never sent twice
                    outcomes.sent.append((item.seq, sms.UNCONFIRMED, self.clock()))
                    handed += 1
                    continue
                log.warning("the SMS provider is unavailable; wave %s pauses: %s", batch.wave_id, exc)
                outcomes.released.append((item.seq, str(exc)))
                unavailable = True
                continue
            except SmsRejected as exc:
                attempts = MAX_ATTEMPTS if exc.permanent else self._attempts(item.seq)
                if attempts >= MAX_ATTEMPTS:
                    outcomes.failed.append((item.seq, str(exc)))
                    SMS.labels("failed").inc()
                else:  # flow control is per minute and hour: come back later, not in this batch
                    outcomes.later.append((item.seq, str(exc), self.clock() + sms.retry_wait(attempts)))
                    SMS.labels("retried").inc()
                continue
            outcomes.sent.append((item.seq, accepted.provider_id, self.clock()))
            handed += 1
            SMS.labels("sent").inc()
        with self.db.unit_of_work() as uow:
            sms.record(uow, outcomes=outcomes)
            uow.commit()
        return handed, unavailable

    def _attempts(self, seq: int) -> int:
        with self.db.read() as session:
            row = send_store.by_seq(session, seq)
        return int(row.attempts) if row is not None else MAX_ATTEMPTS


class SmsWorker(PeriodicWorker):
    """The SMS sender on its thread; `stop()` lets the message in hand finish and records it."""

    def __init__(self, sender: SmsWaveSender, interval: float) -> None:
        self.sender = sender
        super().__init__("marketing-sms-sender", sender.run_once, sender.clock, interval)

    def stop(self) -> None:
        self.sender.halt.set()
        super().stop()
