"""The sender: every wave that is `sending` is mailed in claimed batches (usecases.sending) at
MARKETING_SEND_RATE messages per second until it is done; after a restart it picks up where the
wave was (pending rows, and rows whose claim expired). Each batch's claim and each batch of
outcomes is its own transaction, opened here.

Through the SMTP relay (ports.SmtpRounds, MARKETING_SEND_CONNECTIONS connections) a batch goes
in rounds of one mail per connection, one exchange each: the previous round's rest of DATA and
end of data with this round's MAIL, RCPT and DATA pipelined behind it, the relay's answers to all;
then one commit of the send log (this round handed, what the previous round's answers settled). Through a plain Mailer, one mail at a
time, outcomes recorded every MARKETING_SEND_LOG_BATCH mails."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.marketing.v1.marketing_pb2 import SendWave
from crm_marketing.metrics import MAILS, SEND_RETRIES, SKIPPED
from crm_marketing.ports import AcceptedCheck, Mailer, MailRejected, MailUnavailable, NotHandedOver, Staging
from crm_marketing.rules.tracking import LinkMaker
from crm_marketing.store import sending as send_store
from crm_marketing.usecases import sending
from crmkit import logs
from crmkit.db import Database
from crmkit.scheduler import PeriodicWorker

log = logs.get("crm_marketing.jobs")
MAX_ATTEMPTS = 5


class Throttle:
    """At most `rate` hand-offs per second, evenly spaced (a token bucket of one second's burst).
    Thread-safe: the senders of one process (MARKETING_SEND_WORKERS) share one, so the rate is the
    process's, whatever the number of workers."""

    def __init__(self, rate: float, sleep: Callable[[float], object] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.burst = max(1.0, rate)
        self._sleep, self._monotonic = sleep, monotonic
        self._tokens = 1.0
        self._last = monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:  # held while sleeping: the next worker's token is spaced after this one's
            now = self._monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) / self.interval)
            self._last = now
            if self._tokens < 1.0:
                self._sleep((1.0 - self._tokens) * self.interval)
                self._last = self._monotonic()
                self._tokens = 0.0
            else:
                self._tokens -= 1.0


@dataclass(frozen=True)
class SendOptions:
    rate: float = 200.0               # MARKETING_SEND_RATE
    batch: int = 100                  # recipients claimed per transaction
    lease: timedelta = timedelta(seconds=60)  # how long a claim protects a row from other workers
    # Outcomes recorded per transaction with a plain Mailer (MARKETING_SEND_LOG_BATCH): also how many
    # mails a hard crash can leave handed over but unrecorded, i.e. re-sent (same Message-ID) after it.
    # Through SmtpRounds the send log commits once a round whatever this is, and nothing is re-sent.
    flush_every: int = 1
    # This worker's slice of every wave, (i, n): MARKETING_SEND_WORKERS = n sender workers, each
    # leased on its own (crmkit.leases, job marketing-sender-i) so n replicas share a wave.
    part: tuple[int, int] = (0, 1)


class Sender:
    """Drives the waves that are sending. One per process; replicas share the work by claims."""

    def __init__(self, db: Database, mailer: Mailer | None, links: LinkMaker, clock: Callable[[], datetime],
                 options: SendOptions, *, throttle: Throttle | None = None) -> None:
        self.db, self.mailer, self.links, self.clock, self.options = db, mailer, links, clock, options
        self.worker_id = f"sender-{options.part[0]}-{uuid.uuid4().hex[:12]}"
        self.halt = threading.Event()
        self.throttle = throttle or Throttle(options.rate)
        # A batch must be mailed well within its claim, or another worker could take it over.
        self.batch = max(1, min(options.batch, int(options.rate * options.lease.total_seconds() / 4)))
        self._skip_locked = not db.is_sqlite
        self._pool: ThreadPoolExecutor | None = None
        self._waves: dict[str, SendWave | None] = {}  # what email.sent events need of a wave, read once

    def run_once(self, now: datetime) -> int:
        """Send what is due; returns how many mails were handed over."""
        if self.mailer is None:
            return 0
        self._waves.clear()  # held for one tick: as many as there are waves sending
        with self.db.read() as session:
            wave_ids = send_store.sending_waves(session, now)
        return sum(self._drive(wave_id) for wave_id in wave_ids if not self.halt.is_set())

    def _claim(self, wave_id: str) -> sending.Claim:
        with self.db.unit_of_work() as uow:
            batch, claimed = sending.claim_rows(uow, wave_id=wave_id, worker=self.worker_id, now=self.clock(),
                                                limit=self.batch, lease=self.options.lease,
                                                skip_locked=self._skip_locked, part=self.options.part)
            uow.commit()
        if claimed is not None:
            # Rendered outside the claim's transaction: on SQLite the round commits of the batch in
            # hand wait for no one's rendering. What rendering found is saved before any mail leaves.
            rendered = sending.render(claimed, self.links)
            if rendered.unsettled:
                with self.db.unit_of_work() as uow:
                    sending.settle(uow, batch, claimed, rendered)
                    uow.commit()
            else:
                batch.mails.extend(rendered.mails)
        for reason, n in batch.skipped.items():
            SKIPPED.labels(reason).inc(n)
            MAILS.labels("skipped").inc(n)
        if batch.confirmed:
            MAILS.labels("sent").inc(batch.confirmed)
        return batch

    def _drive(self, wave_id: str) -> int:
        sent = 0
        batch: sending.Claim | None = None
        while not self.halt.is_set():
            batch = batch or self._claim(wave_id)
            if batch.finished:
                return sent
            if not batch.mails:
                if batch.skipped or batch.confirmed:
                    batch = None
                    continue  # the whole batch was settled without mail: the next one may have some
                return sent  # other workers hold live claims on the rest
            upcoming: Future[sending.Claim] | None = None
            if isinstance(self.mailer, Staging):
                # The next batch is claimed and rendered on the claim thread while this one goes out
                # (it runs while this thread waits for the relay's answers).
                upcoming = self._prefetch().submit(self._claim, wave_id)
                handed, unavailable = self._hand_over_rounds(batch, self.mailer)
            else:
                handed, unavailable = self._hand_over(batch)
            sent += handed
            batch = upcoming.result() if upcoming is not None else None
            if batch is not None and not batch.mails and not batch.finished and not batch.skipped:
                batch = None  # claimed while this batch was in hand: look again now that it is recorded
            if unavailable:
                break  # the relay is away: the next tick tries again
        if batch is not None and batch.mails:  # claimed ahead and not mailed: back to pending
            self._record(sending.Outcomes(released=[(m.seq, "stopped before sending") for m in batch.mails]))
        return sent

    def _prefetch(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="marketing-claim")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _hand_over(self, batch: sending.Claim) -> tuple[int, bool]:
        assert self.mailer is not None
        outcomes = sending.Outcomes()
        handed, unavailable = 0, False
        check = self.mailer if isinstance(self.mailer, AcceptedCheck) else None
        for i, item in enumerate(batch.mails):
            if self.halt.is_set() or unavailable:
                outcomes.released.append((item.seq, "stopped before sending" if not unavailable else "relay away"))
                continue
            if item.retry:
                SEND_RETRIES.inc()
                if check is not None and check.accepted(item.mail.message_id):
                    outcomes.sent.append((item.seq, self.clock()))  # it had left before the crash
                    continue
            self.throttle.wait()
            try:
                self.mailer.send(item.mail)
            except MailUnavailable as exc:
                log.warning("the relay is unavailable; wave %s pauses: %s", batch.wave_id, exc)
                outcomes.released.append((item.seq, str(exc)))
                unavailable = True
                continue
            except MailRejected as exc:
                attempts = MAX_ATTEMPTS if exc.permanent else self._attempts(item.seq)
                if attempts >= MAX_ATTEMPTS:
                    outcomes.failed.append((item.seq, _address(item.mail.to), str(exc)))
                    if exc.permanent and 550 <= exc.code <= 553:
                        outcomes.bounced.add(item.seq)
                    MAILS.labels("failed").inc()
                else:
                    outcomes.released.append((item.seq, str(exc)))
                continue
            outcomes.sent.append((item.seq, self.clock()))
            outcomes.known[item.seq] = sending.SentMail.of(batch.wave_id, item)
            handed += 1
            MAILS.labels("sent").inc()
            if len(outcomes) >= self.options.flush_every and i < len(batch.mails) - 1:
                self._record(outcomes)
                outcomes = sending.Outcomes()
        self._record(outcomes)
        return handed, unavailable

    def _hand_over_rounds(self, batch: sending.Claim, relay: Staging) -> tuple[int, bool]:
        outcomes = sending.Outcomes()  # settled and not recorded yet: committed with the next round
        handed, unavailable = 0, False
        mails = batch.mails
        i = 0

        def next_round() -> list[sending.Outgoing]:
            nonlocal i
            if self.halt.is_set() or unavailable:
                why = "relay away" if unavailable else "stopped before sending"
                outcomes.released.extend((item.seq, why) for item in mails[i:])
                i = len(mails)
            chunk = mails[i:i + relay.connections]
            i += len(chunk)
            for _ in chunk:
                self.throttle.wait()
            return chunk

        try:
            chunk = next_round()
            open_: list[sending.Outgoing] = []  # staged, their send log committed: they end in the next exchange
            while chunk or open_:
                answers, errors = relay.exchange(chunk)
                answered = self.clock()  # one time for the round: its sent marks are one statement
                for item, error in zip(open_, answers, strict=True):
                    if error is None or (isinstance(error, MailUnavailable) and not isinstance(error, NotHandedOver)):
                        # taken, or the answer was lost after the end of data went out: counted as sent
                        outcomes.sent.append((item.seq, answered))
                        outcomes.known[item.seq] = sending.SentMail.of(batch.wave_id, item)
                        handed += 1
                        MAILS.labels("sent").inc()
                    else:
                        unavailable = self._refused(item, error, outcomes, batch.wave_id) or unavailable
                staged = []
                for item, error in zip(chunk, errors, strict=True):
                    if error is None:
                        staged.append(item)
                    else:
                        unavailable = self._refused(item, error, outcomes, batch.wave_id) or unavailable
                # the next round's throttle waits before the commit, so the ends of data follow it at once
                chunk = next_round()
                with self.db.unit_of_work() as uow:  # the commit point: after it, a restart never mails these again
                    sending.handed(uow, seqs=[item.seq for item in staged], now=self.clock())
                    sending.record(uow, outcomes=outcomes, now=self.clock(), waves_seen=self._waves)
                    uow.commit()
                outcomes = sending.Outcomes()
                open_ = staged
        except BaseException:
            # Mails staged and not committed as handed must never end: a later exchange on these
            # connections would deliver them unrecorded (and they would be mailed again).
            relay.discard()
            raise
        self._record(outcomes)
        return handed, unavailable

    def _refused(self, item: sending.Outgoing, error: Exception, outcomes: sending.Outcomes, wave_id: str) -> bool:
        """Settle a mail the relay did not take; True when the relay is away (the wave pauses)."""
        if isinstance(error, MailRejected):
            attempts = MAX_ATTEMPTS if error.permanent else self._attempts(item.seq)
            if attempts >= MAX_ATTEMPTS:
                outcomes.failed.append((item.seq, item.address or _address(item.mail.to), str(error)))
                if error.permanent and 550 <= error.code <= 553:
                    outcomes.bounced.add(item.seq)
                MAILS.labels("failed").inc()
            else:
                outcomes.released.append((item.seq, str(error)))
            return False
        log.warning("the relay is unavailable; wave %s pauses: %s", wave_id, error)
        outcomes.released.append((item.seq, str(error)))
        return True

    def _attempts(self, seq: int) -> int:
        with self.db.read() as session:
            row = send_store.by_seq(session, seq)
        return int(row.attempts) if row is not None else MAX_ATTEMPTS

    def _record(self, outcomes: sending.Outcomes) -> None:
        if not len(outcomes):
            return
        with self.db.unit_of_work() as uow:
            sending.record(uow, outcomes=outcomes, now=self.clock(), waves_seen=self._waves)
            uow.commit()


def _address(to: str) -> str:
    return to[to.rfind("<") + 1:].rstrip(">") if "<" in to else to


class SendWorker(PeriodicWorker):
    """The sender on its thread; `stop()` lets the mail in hand finish and records it first. Its
    job name, and so its lease, is its slice's: each slice runs in one replica at a time, and a
    replica that dies leaves its slices to the others (the rows it had claimed once the claims expired)."""

    def __init__(self, sender: Sender, interval: float) -> None:
        self.sender = sender
        index, parts = sender.options.part
        super().__init__("marketing-sender" if parts == 1 else f"marketing-sender-{index}", sender.run_once,
                         sender.clock, interval)

    def stop(self) -> None:
        self.sender.halt.set()
        super().stop()
        self.sender.close()
        close = getattr(self.sender.mailer, "close", None)  # SmtpMailer: QUIT its connection
        if callable(close):
            close()
