"""Leases: which replica of a service runs a scheduled job (crmkit.scheduler.PeriodicWorker).

At N replicas every process starts the same workers; the lease makes one of them, the holder, run
each tick of a given job name, and lets another take over when the holder dies.

- PostgreSQL: a session-level advisory lock, `pg_try_advisory_lock(LEASE_CLASS, hash(job))`, held
  on a connection of its own in the service's own database. The holder keeps it from tick to tick;
  the others try again at each of their ticks. The lock lives exactly as long as the holder's
  session: a clean stop unlocks it, a killed process closes its socket and the server frees it at
  once, a vanished host is detected by TCP keepalives (about 30 s, see KEEPALIVES). Operators see
  the holder in `pg_locks` joined to `pg_stat_activity` (application_name `crm-lease:<job>`).
- SQLite: one process owns the file (a service on SQLite runs at one replica), so the lease is
  always held.

A lease only keeps two replicas from running the same tick; each effect of a tick is still claimed
in the transaction that makes it (due rows marked fired), so a tick that a dying holder left half
done is finished, not repeated, by the next holder.
"""
from __future__ import annotations

import contextlib
import threading
import zlib
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from crmkit import logs
from crmkit.db import Database

log = logs.get("crmkit.leases")

# The first key of every crmkit lease (the two-key form keeps clear of any other advisory lock).
LEASE_CLASS = 0x43524D  # "CRM"
# libpq keepalives: a holder whose host vanished loses the lease after ~idle + interval * count.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 4}


class Lease(Protocol):
    name: str

    def acquire(self) -> bool:
        """True when this process holds the lease now (taken now or kept from before)."""

    def release(self) -> None:
        """Give the lease up (another replica takes it at its next tick)."""


class LocalLease:
    """Always held: a single-process store (SQLite), or a worker that must run in every replica."""

    def __init__(self, name: str) -> None:
        self.name = name

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None


def lease_key(name: str) -> int:
    """The second advisory-lock key of a job: a stable signed 32-bit hash of its name."""
    value = zlib.crc32(name.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class AdvisoryLease:
    """A PostgreSQL session-level advisory lock per job name, on a connection of its own."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.key = lease_key(name)
        self._engine: Engine = create_engine(
            url, poolclass=NullPool,
            connect_args={**KEEPALIVES, "application_name": f"crm-lease:{name}"[:63]})
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self.held = False

    def acquire(self) -> bool:
        with self._lock:
            try:
                if self.held and self._conn is not None:
                    # Still our session? (a restarted server or a cut connection ends the lock)
                    self._conn.execute(text("SELECT 1"))
                    return True
                if self._conn is None:
                    self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                got = self._conn.execute(text("SELECT pg_try_advisory_lock(:c, :k)"),
                                         {"c": LEASE_CLASS, "k": self.key}).scalar()
            except Exception as exc:  # the database is away: nobody here holds the lease
                if self.held:
                    log.warning("%s: lease lost (%s); another replica may take it", self.name, exc)
                self._drop()
                return False
            if got and not self.held:
                log.info("%s: this replica holds the lease and runs the scheduled work", self.name)
            self.held = bool(got)
            return self.held

    def release(self) -> None:
        with self._lock:
            if self._conn is not None and self.held:
                with contextlib.suppress(Exception):
                    self._conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"),
                                       {"c": LEASE_CLASS, "k": self.key})
            self._drop()
            self._engine.dispose()

    def _drop(self) -> None:
        self.held = False
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None


def for_database(db: Database, name: str) -> Lease:
    """The lease for job `name` in the service's own database."""
    if db.is_sqlite:
        return LocalLease(name)
    return AdvisoryLease(db.url, name)
