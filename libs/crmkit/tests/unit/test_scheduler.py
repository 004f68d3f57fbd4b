"""PeriodicWorker: a service's scheduled work on a thread of its own."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

from crmkit.scheduler import PeriodicWorker
from crmkit.testing import ManualClock, wait_for

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def test_it_runs_at_start_on_demand_and_with_the_clocks_time():
    clock = ManualClock(START)
    seen: list[datetime] = []
    worker = PeriodicWorker("jobs", seen.append, clock, interval=3600).start()
    try:
        wait_for(lambda: worker.ticks == 1, 5, what="the first run")
        clock.advance(minutes=5)
        worker.tick()
        wait_for(lambda: worker.ticks == 2, 5, what="the run asked for")
        assert seen == [START, datetime(2026, 11, 3, 9, 5, tzinfo=UTC)]
    finally:
        worker.stop()


def test_it_runs_every_interval():
    worker = PeriodicWorker("fast", lambda now: None, lambda: START, interval=0.01).start()
    try:
        wait_for(lambda: worker.ticks >= 5, 5, what="five runs")
    finally:
        worker.stop()


def test_a_failing_run_does_not_stop_the_next_ones():
    calls: list[int] = []

    def tick(now: datetime) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")

    worker = PeriodicWorker("flaky", tick, lambda: START, interval=3600).start()
    try:
        wait_for(lambda: worker.ticks == 1, 5, what="the failed run")
        worker.tick()
        wait_for(lambda: worker.ticks == 2, 5, what="a run after the failure")
        assert len(calls) == 2
    finally:
        worker.stop()


def test_stop_ends_the_thread_and_no_run_follows():
    worker = PeriodicWorker("stopping", lambda now: None, lambda: START, interval=3600).start()
    wait_for(lambda: worker.ticks == 1, 5, what="the first run")
    worker.stop()
    assert not any(t.name == "stopping" and t.is_alive() for t in threading.enumerate())
    worker.tick()
    assert worker.ticks == 1
