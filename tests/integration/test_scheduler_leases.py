"""Scheduled work at two replicas on one PostgreSQL database: every due item fires exactly once,
and when the replica holding the lease is killed (SIGKILL, mid-load) the other takes over.

The job here is deliberately racy on its own (it lists due rows, pauses, then fires them one
transaction each), so without the lease two replicas would fire the same rows twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from crmkit.leases import LEASE_CLASS, AdvisoryLease, lease_key
from crmkit.scheduler import PeriodicWorker
from crmkit.testing import fresh_postgres_database, postgres_reachable, wait_for

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not postgres_reachable(), reason="PostgreSQL not reachable on 127.0.0.1:5432")]

REPO = Path(__file__).resolve().parents[2]
JOB = "reminders-scheduler"


def racy_tick(engine: Engine, who: str) -> Callable[[datetime], None]:
    def tick(now: datetime) -> None:
        with engine.connect() as conn:
            due = list(conn.execute(text("SELECT id FROM due WHERE NOT fired ORDER BY id")).scalars())
        time.sleep(0.02)  # the gap in which a second replica would list the same rows
        for item in due:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO fired (item, who) VALUES (:i, :w)"), {"i": item, "w": who})
                conn.execute(text("UPDATE due SET fired = true WHERE id = :i"), {"i": item})
    return tick


def run_replica(url: str, who: str) -> None:
    """A replica in a process of its own (killed by the test)."""
    engine = create_engine(url)
    PeriodicWorker(JOB, racy_tick(engine, who), lambda: datetime.now(UTC), 0.01,
                   lease=AdvisoryLease(url, JOB)).start()
    while True:
        time.sleep(1)


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database("crm_lease") as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE due (id serial PRIMARY KEY, fired boolean NOT NULL DEFAULT false)"))
            conn.execute(text("CREATE TABLE fired (item int NOT NULL, who text NOT NULL)"))
        engine.dispose()
        yield url


def _holder_pid(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.classid = :c AND l.objid = :k AND l.granted"),
            {"c": LEASE_CLASS, "k": lease_key(JOB) & 0xFFFFFFFF}).scalar()


def test_two_replicas_fire_each_due_item_once_and_the_survivor_takes_over(database):
    engine = create_engine(database)

    def add(n: int) -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO due (fired) SELECT false FROM generate_series(1, :n)"), {"n": n})

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    other = subprocess.Popen(
        [sys.executable, "-c", f"from tests.integration.test_scheduler_leases import run_replica; "
                               f"run_replica({database!r}, 'a')"], cwd=REPO, env=env)
    here = PeriodicWorker(JOB, racy_tick(engine, "b"), lambda: datetime.now(UTC), 0.01,
                          lease=AdvisoryLease(database, JOB))
    try:
        wait_for(lambda: _holder_pid(engine) is not None, 30, what="replica a to take the lease")
        here.start()
        for _ in range(20):  # a write load while both replicas tick every 10 ms
            add(5)
            time.sleep(0.03)
        wait_for(lambda: _count(engine, "SELECT count(*) FROM due WHERE NOT fired") == 0, 30,
                 what="every due item fired")
        assert here.runs == 0 and here.ticks > 0, "the standby replica ran a tick while a held the lease"
        other.send_signal(signal.SIGKILL)  # the holder dies mid-load
        for _ in range(10):
            add(5)
            time.sleep(0.03)
        other.wait(10)
        wait_for(lambda: _count(engine, "SELECT count(*) FROM due WHERE NOT fired") == 0, 60,
                 what="the surviving replica to fire what came due after the kill")
        assert _count(engine, "SELECT count(*) FROM due") == 150
        assert _count(engine, "SELECT count(*) FROM fired") == 150, "an item fired twice (or never)"
        assert _count(engine, "SELECT count(DISTINCT item) FROM fired") == 150
        with engine.connect() as conn:
            by = dict(conn.execute(text("SELECT who, count(*) FROM fired GROUP BY who")).tuples().all())
        assert by["a"] >= 100 and by.get("b", 0) > 0, by
        assert here.lease is not None and here.runs > 0
    finally:
        if other.poll() is None:
            other.kill()
            other.wait(10)
        here.stop()
    assert _holder_pid(engine) is None, "a stopped worker gives its lease up"
    engine.dispose()


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)
