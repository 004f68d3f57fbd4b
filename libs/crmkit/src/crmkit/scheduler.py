"""A thread that runs a service's scheduled work every `interval` seconds until stopped. What the
work is (due jobs, SLA clocks) is the service's; making each effect happen once across replicas
is the work's own business (claims in the same transaction as the effect)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from crmkit import logs

log = logs.get("crmkit.scheduler")


class PeriodicWorker:
    def __init__(self, name: str, tick: Callable[[datetime], object], clock: Callable[[], datetime],
                 interval: float, *, delay: float = 0.0) -> None:
        """`delay`: seconds before the first run (0: at start)."""
        self.name, self._tick, self.clock, self.interval, self.delay = name, tick, clock, interval, delay
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.ticks = 0  # completed runs, so tests and health checks can wait for one

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
