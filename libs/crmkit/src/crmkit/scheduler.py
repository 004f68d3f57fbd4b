"""A thread that runs a service's scheduled work every `interval` seconds until stopped. What the
work is (due jobs, SLA clocks) is the service's. At several replicas a lease (crmkit.leases: a
PostgreSQL advisory lock per worker name, given by the service runtime) lets one replica run each
tick and another take over when it dies; each effect is still claimed in the transaction that makes
it, so a tick cut short is finished by the next holder, never repeated."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from crmkit import logs
from crmkit.leases import Lease

log = logs.get("crmkit.scheduler")


class PeriodicWorker:
    def __init__(self, name: str, tick: Callable[[datetime], object], clock: Callable[[], datetime],
                 interval: float, *, delay: float = 0.0, lease: Lease | None = None) -> None:
        """`delay`: seconds before the first run (0: at start). `lease`: run a tick only while
        holding it (None: always run; ServiceRuntime gives each worker its database's lease)."""
        self.name, self._tick, self.clock, self.interval, self.delay = name, tick, clock, interval, delay
        self.lease = lease
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.ticks = 0  # completed turns (run or, without the lease, skipped), so tests can wait for one
        self.runs = 0  # turns that ran the work (this replica held the lease)

    def start(self) -> PeriodicWorker:
        self._thread.start()
        return self

    def tick(self) -> None:
        """Run now rather than at the next interval (tests and operators)."""
        self._wake.set()

    def _run(self) -> None:
        if self.delay > 0:
            self._wake.wait(self.delay)
            self._wake.clear()
        while not self._stop.is_set():
            try:
                if self.lease is None or self.lease.acquire():
                    self.runs += 1
                    self._tick(self.clock())
            except Exception:
                log.exception("%s tick failed", self.name)
            self.ticks += 1
            self._wake.wait(self.interval)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        if self.lease is not None:
            self.lease.release()  # the other replicas take over at their next tick
