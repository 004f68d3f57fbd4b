"""Retention: how long each class of data is kept, enforced by a scheduled job in every service.

A `DataClass` names what it removes (`idempotency_keys`, `soft_deleted_contacts` ...), its default
age in days and a `purge(session, cutoff, limit) -> rows` that removes (or irreversibly
anonymizes) up to `limit` rows older than `cutoff`. Every service keeps the runtime classes
below; a service adds its own in `bootstrap` (`Components.retention`). The age of each class is
the setting `RETENTION_<CLASS>_DAYS` (0 keeps it forever); the job runs every
`RETENTION_INTERVAL_SECONDS` (3600) in batches of one transaction each, and counts what it
removed in `crm_retention_removed_total{service, data_class}`.

The event streams are not purged by a job: JetStream drops messages older than the stream's
`max_age`, which `crmkit.bus.ensure_stream` sets from `RETENTION_STREAM_DAYS` (30)."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge
from sqlalchemy import Column, Table, delete, select, tuple_
from sqlalchemy.orm import Session

from crmkit import logs
from crmkit.audit import chain, record
from crmkit.auth import SYSTEM
from crmkit.runtime_tables import dead_letter_row, idempotency_row, inbox_row, outbox_row
from crmkit.scheduler import PeriodicWorker

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from crmkit.db import Database

log = logs.get("crmkit.retention")
Purge = Callable[[Session, datetime, int], int]
BATCH = 1000
DEFAULT_INTERVAL = 3600.0
STREAM_DAYS = 30.0

REMOVED = Counter("crm_retention_removed_total", "Rows removed or anonymized by retention jobs",
                  ["service", "data_class"])
LAST_RUN = Gauge("crm_retention_last_run_timestamp_seconds", "When the retention job last finished",
                 ["service"], multiprocess_mode="max")


@dataclass(frozen=True)
class DataClass:
    name: str
    default_days: float
    purge: Purge
    description: str = ""

    @property
    def setting(self) -> str:
        return f"RETENTION_{self.name.upper()}_DAYS"


def _days(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of days, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be 0 (keep forever) or more, not {raw!r}")
    return value


def ages(classes: Sequence[DataClass], env: Mapping[str, str] | None = None) -> dict[str, float]:
    """Each class's age in days from its setting, else its default; read once at start."""
    env = os.environ if env is None else env
    return {c.name: _days(env[c.setting], c.setting) if env.get(c.setting) else c.default_days for c in classes}


def stream_max_age(env: Mapping[str, str] | None = None) -> float:
    """Seconds JetStream keeps a message (`RETENTION_STREAM_DAYS`, default 30; 0 = no limit)."""
    env = os.environ if env is None else env
    raw = env.get("RETENTION_STREAM_DAYS")
    return (_days(raw, "RETENTION_STREAM_DAYS") if raw else STREAM_DAYS) * 86400.0


def interval(env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    return float(env.get("RETENTION_INTERVAL_SECONDS") or DEFAULT_INTERVAL)


def older_than(table: Table, when: Column[Any], *, where: ColumnElement[bool] | None = None) -> Purge:
    """Delete rows whose `when` is before the cutoff, oldest first, `limit` at a time."""
    keys = list(table.primary_key.columns)

    def purge(session: Session, cutoff: datetime, limit: int) -> int:
        query = select(*keys).where(when < cutoff)
        if where is not None:
            query = query.where(where)
        found = session.execute(query.order_by(when).limit(limit)).all()
        if not found:
            return 0
        if len(keys) == 1:
            result = session.execute(delete(table).where(keys[0].in_([row[0] for row in found])))
        else:
            result = session.execute(delete(table).where(tuple_(*keys).in_([tuple(row) for row in found])))
        return int(getattr(result, "rowcount", 0) or 0)

    return purge


def _audit(session: Session, cutoff: datetime, limit: int) -> int:
    return chain.prune(session, before=cutoff, limit=limit, postgres=session.get_bind().dialect.name == "postgresql")


RUNTIME_CLASSES: tuple[DataClass, ...] = (
    DataClass("idempotency_keys", 7, older_than(idempotency_row, idempotency_row.c.created_at),
              "stored answers to writes with an Idempotency-Key (they hold the records written)"),
    DataClass("outbox_published", 7, older_than(outbox_row, outbox_row.c.created_at,
                                                where=outbox_row.c.published_at.is_not(None)),
              "outbox rows JetStream already acknowledged"),
    DataClass("dead_letters", 30, older_than(dead_letter_row, dead_letter_row.c.parked_at),
              "events a consumer parked"),
    DataClass("inbox", 45, older_than(inbox_row, inbox_row.c.processed_at),
              "ids of events consumed (longer than the stream keeps a message)"),
    DataClass("audit_log", 7 * 366, _audit, "the audit log: the oldest rows, its chain kept verifiable"),
)


class Retention:
    """Runs every data class's purge until nothing past its age is left."""

    def __init__(self, db: Database, service: str, classes: Sequence[DataClass],
                 days: Mapping[str, float] | None = None, batch: int = BATCH) -> None:
        self.db, self.service, self.classes, self.batch = db, service, list(classes), batch
        self.days = dict(ages(self.classes) if days is None else days)

    def run(self, now: datetime) -> dict[str, int]:
        removed: dict[str, int] = {}
        for data_class in self.classes:
            days = self.days.get(data_class.name, data_class.default_days)
            if days <= 0:
                continue
            cutoff = now - timedelta(days=days)
            total = 0
            while True:
                with self.db.unit_of_work() as uow:
                    count = data_class.purge(uow.session, cutoff, self.batch)
                    uow.commit()
                total += count
                if count < self.batch:
                    break
            if total:
                with self.db.unit_of_work() as uow:  # what retention removed is in the log too
                    record(uow, SYSTEM, "purged", "data_class", data_class.name, at=now,
                           details={"rows": total, "older_than": cutoff.isoformat()})
                    uow.commit()
                REMOVED.labels(self.service, data_class.name).inc(total)
                log.info("retention removed rows", extra={"fields": {"data_class": data_class.name, "rows": total}})
            removed[data_class.name] = total
        LAST_RUN.labels(self.service).set(now.timestamp())
        return removed

    def worker(self, clock: Callable[[], datetime], every: float | None = None) -> RetentionWorker:
        return RetentionWorker(self, clock, every or interval())


class RetentionWorker:
    """The scheduled job: a PeriodicWorker whose first run waits one interval, so a process that
    starts and stops within it (a test, a crash loop) purges nothing. It is not itself a
    PeriodicWorker: `ServiceHarness.tick()` runs a service's own scheduled work, not this."""

    def __init__(self, retention: Retention, clock: Callable[[], datetime], every: float) -> None:
        self.periodic = PeriodicWorker(f"{retention.service}-retention", retention.run, clock, every, delay=every)

    def start(self) -> RetentionWorker:
        self.periodic.start()
        return self

    def stop(self) -> None:
        self.periodic.stop()
