"""The outbox relay: publishes committed outbox rows to JetStream with Nats-Msg-Id = event id.

A row is marked published only after JetStream acknowledged it, so a crash, a NATS outage or a
timeout leaves it pending and it is sent again (JetStream drops the duplicate inside its window,
consumers drop it by their inbox). Publishes are pipelined within a batch, across aggregates:
one aggregate's next row is sent only after its previous one was acked (`_publish`), so neither a
failed publish nor a second relay can put an aggregate's events on the stream out of order.
Several replicas may relay the same row; the Nats-Msg-Id de-duplication makes that harmless.
A large wave (a bulk import's batch) goes out in bundles of rows, one message each
(crmkit.bundles); a bundle is acked or fails as a whole.

Marks are written together, once every `mark_interval` (a write transaction per relay cycle cost
more than the cycle's publishing); until then the relay remembers which rows JetStream acked and
does not send them again. A crash in between leaves those rows unmarked: they are sent again at
the next start, and JetStream drops them by Nats-Msg-Id. No watermark on ids is kept: on
PostgreSQL outbox ids can commit out of order.

`on_published`, when given, sees the rows (subject, payload) once JetStream acknowledged them and
before they are marked published, so a crash between the two feeds them again rather than never:
a service feeds a read model of its own from it (contacts: its search index, shared by its
replicas) without consuming its own stream back from NATS. It must be idempotent and must not raise for long: a failure is logged
and never holds up publishing. It sees the payloads as they were sent, sealed (crmkit.shredding):
opening each cost a key read and a decryption per event, and contacts' search reads only the
envelope's ids (a read model that needs the personal fields opens them with `open_local`)."""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js.errors import APIError
from sqlalchemy import bindparam, delete, func, select, update

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit import bundles, bus, logs, metrics
from crmkit.db import Database
from crmkit.events import utcnow
from crmkit.runtime_tables import outbox_row

log = logs.get("crmkit.outbox")

_T = TypeVar("_T")
Published = list[tuple[str, bytes]]  # (subject, envelope bytes) of rows JetStream acknowledged

# Built once: the relay runs these for every batch, and building them cost more than running them.
# Rows acked but not yet marked are left out by id: fetching their payloads again on every cycle
# until the next mark cost more than the cycle's new rows.
_PENDING = (
    select(outbox_row.c.id, outbox_row.c.event_id, outbox_row.c.subject, outbox_row.c.payload)
    .where(outbox_row.c.published_at.is_(None), outbox_row.c.id.not_in(bindparam("acked", expanding=True)))
    .order_by(outbox_row.c.id)
    .limit(bindparam("batch_size"))
)
_MARK_PUBLISHED = (
    update(outbox_row).where(outbox_row.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("at"))
)
_BACKLOG = select(func.count()).select_from(outbox_row).where(outbox_row.c.published_at.is_(None))
_BACKLOG_STATE = select(func.count(), func.min(outbox_row.c.created_at)).where(outbox_row.c.published_at.is_(None))


def _aggregate_of(event_id: str, payload: bytes) -> str:
    """The aggregate an outbox row belongs to; a row without one (or unreadable) is its own. By
    id alone: one record's events may name different aggregate types (support's SLA events and
    its ticket events are all about the ticket), and ids are unique across types."""
    try:
        env = EventEnvelope.FromString(payload)
    except DecodeError:
        return event_id
    return env.aggregate_id or event_id


def _aware(at: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; every one the outbox stores is UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        *,
        nats_url: str,
        service: str,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        publish_timeout: float = 5.0,
        retention: timedelta = timedelta(hours=24),
        on_published: Callable[[Published], None] | None = None,
        mark_interval: float = 0.1,
        bundle_events: int = 50,
        bundle_from: int = 8,
        bundle_bytes: int = 512 * 1024,
    ) -> None:
        self.db = db
        self.nats_url = nats_url
        self.service = service
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        self.retention = retention
        self.on_published = on_published
        self.mark_interval = mark_interval  # 0: mark each batch as soon as it is acked
        # Bundles (crmkit.bundles): 1 sends every row alone; NATS refuses messages over its
        # max_payload (1 MiB by default), so a bundle stays well below it.
        self.bundle_events, self.bundle_from, self.bundle_bytes = bundle_events, bundle_from, bundle_bytes
        self._unmarked: dict[int, None] = {}  # acked by JetStream, not yet marked (in order)
        self._unfed: Published = []           # ... and not yet seen by on_published
        self._mark_due = 0.0
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._backlog_reported = 0.0
        self._counters: dict[str, Any] = {}
        db.on_events_committed(self.wake)

    def wake(self) -> None:
        """Thread-safe: a commit wrote outbox rows, publish them now rather than at the next poll."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        nc = await bus.connect(self.nats_url, f"{self.service}-outbox-relay")
        js = nc.jetstream(timeout=self.publish_timeout)
        await self._ensure_stream(js)
        backoff = 0.0
        last_purge = 0.0
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    full = await self._relay_once(js)
                    backoff = 0.0
                except Exception as exc:  # NATS away, timeouts, DB busy: retry later, never drop
                    metrics.PUBLISH_FAILURES.labels(self.service).inc()
                    backoff = min(max(backoff * 2, 0.2), 5.0)
                    log.warning("outbox publish failed, retrying in %.1fs: %s", backoff, exc)
                    await asyncio.sleep(backoff)
                    continue
                if self._unmarked and (full or time.monotonic() >= self._mark_due):
                    await self._flush_marks()
                if time.monotonic() - last_purge > 60:
                    last_purge = time.monotonic()
                    await asyncio.to_thread(self._purge_published)
                if not full:
                    wait = self.poll_interval
                    if self._unmarked:
                        wait = min(wait, max(0.0, self._mark_due - time.monotonic()))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
        finally:
            with contextlib.suppress(Exception):  # unmarked rows are sent again at the next start
                await self._flush_marks()
            await nc.close()

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        while True:
            try:
                await bus.ensure_stream(js, self.service)
                return
            except Exception as exc:
                log.warning("cannot ensure stream yet: %s", exc)
                await asyncio.sleep(1.0)

    async def _relay_once(self, js: JetStreamContext) -> bool:
        """Publish one batch; True when the batch was full (more may be waiting)."""
        rows = await self._read(self._pending, self.batch_size, list(self._unmarked))
        if time.monotonic() - self._backlog_reported > 1.0:  # a count per cycle would cost more
            self._backlog_reported = time.monotonic()
            backlog, oldest = await self._read(self._backlog_state)
            waiting = max(0, backlog - len(self._unmarked))
            metrics.OUTBOX_BACKLOG.labels(self.service).set(waiting)
            age = (utcnow() - _aware(oldest)).total_seconds() if waiting and oldest is not None else 0.0
            metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(max(0.0, age))
        if not rows:
            return False
        acked, published, failed = await self._publish(js, rows)
        if not self._unmarked:
            self._mark_due = time.monotonic() + self.mark_interval
        self._unmarked.update(dict.fromkeys(acked))
        self._unfed.extend(published)
        if failed or self.mark_interval <= 0:
            await self._flush_marks(failed)
        if failed:
            raise APIError(description=f"{len(failed)} of {len(rows)} publishes failed")
        return len(rows) == self.batch_size

    async def _publish(self, js: JetStreamContext, rows: list[tuple[int, str, str, bytes]]
                       ) -> tuple[list[int], Published, list[tuple[int, str]]]:
        """Publish a batch in waves: an aggregate's n-th row of the batch is sent once its
        (n-1)-th is acked, and not at all in this batch when that one failed. A failed publish
        can then never leave a later event of the same aggregate ahead of it on the stream,
        whichever replica's relay sends what. Rows of different aggregates share a wave."""
        waves: list[list[tuple[str, tuple[int, str, str, bytes]]]] = []
        depth: dict[str, int] = {}
        for row in rows:
            aggregate = _aggregate_of(row[1], row[3])
            n = depth[aggregate] = depth.get(aggregate, -1) + 1
            if n == len(waves):
                waves.append([])
            waves[n].append((aggregate, row))
        acked: list[int] = []
        published: Published = []
        failed: list[tuple[int, str]] = []
        blocked: set[str] = set()
        for wave in waves:
            units = self._units([(aggregate, row) for aggregate, row in wave if aggregate not in blocked])
            futures = [await self._send(js, [row for _, row in unit]) for unit in units]
            try:
                done: list[Any] = await asyncio.wait_for(
                    asyncio.gather(*futures, return_exceptions=True), self.publish_timeout)
            except TimeoutError as exc:
                done = [exc] * len(units)
            for unit, result in zip(units, done, strict=True):
                for aggregate, (row_id, _, subject, payload) in unit:
                    if isinstance(result, BaseException):
                        failed.append((row_id, repr(result)))
                        blocked.add(aggregate)
                    else:
                        acked.append(row_id)
                        published.append((subject, payload))
                        self._published_counter(subject).inc()
        return acked, published, failed

    def _units(self, sending: list[tuple[str, tuple[int, str, str, bytes]]]
               ) -> list[list[tuple[str, tuple[int, str, str, bytes]]]]:
        """What goes in one message each: a row alone, or, in a wave of at least `bundle_from`
        rows (a bulk write), bundles of up to `bundle_events` rows and `bundle_bytes` bytes
        (crmkit.bundles). A wave holds each aggregate once, so a bundle does too."""
        if self.bundle_events <= 1 or len(sending) < self.bundle_from:
            return [[item] for item in sending]
        return list(bundles.split(sending, [len(row[3]) for _, row in sending],
                                  max_events=self.bundle_events, max_bytes=self.bundle_bytes))

    async def _send(self, js: JetStreamContext, rows: list[tuple[int, str, str, bytes]]) -> Any:
        """Start publishing one message (a row, or a bundle of rows); the future of its ack."""
        if len(rows) == 1:
            _, event_id, subject, payload = rows[0]
            return await js.publish_async(subject, payload, headers={"Nats-Msg-Id": event_id},
                                          wait_stall=self.publish_timeout)
        return await js.publish_async(
            bundles.subject(self.service), bundles.pack([row[3] for row in rows]),
            headers=bundles.headers([row[1] for row in rows]), wait_stall=self.publish_timeout)

    def _published_counter(self, subject: str) -> Any:
        """The labelled series of a subject, looked up once rather than per event."""
        counter = self._counters.get(subject)
        if counter is None:
            counter = self._counters[subject] = metrics.EVENTS_PUBLISHED.labels(self.service, subject)
        return counter

    async def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        """SQLite reads run right on the event loop: an indexed read of the file takes less time
        than the hop to a worker thread and back (and a WAL reader never waits for a writer).
        PostgreSQL's are network round trips: a thread."""
        if self.db.is_sqlite:
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    def _pending(self, limit: int, acked: list[int]) -> list[tuple[int, str, str, bytes]]:
        with self.db.read() as session:
            rows = session.execute(_PENDING, {"batch_size": limit, "acked": acked})
            return [tuple(r) for r in rows]

    async def _flush_marks(self, failed: list[tuple[int, str]] | None = None) -> None:
        """Mark what JetStream acked since the last flush (and count failed attempts) in one
        transaction. If it fails the ids stay remembered and the next flush tries again."""
        acked, published = list(self._unmarked), list(self._unfed)
        if acked or failed:
            await asyncio.to_thread(self._mark, acked, failed or [], published)
        for row_id in acked:
            self._unmarked.pop(row_id, None)
        del self._unfed[:len(published)]

    def _mark(self, acked: list[int], failed: list[tuple[int, str]], published: Published) -> None:
        # The read model first, the marks after: a relay killed in between leaves the rows
        # unmarked, so whichever replica relays them next feeds them again (idempotent). The
        # other order lost them from a shared read model (the search index of every replica).
        if published and self.on_published is not None:
            try:
                self.on_published(published)
            except Exception:  # the read model retries or rebuilds; publishing goes on
                log.exception("the local read model of published events failed")
        with self.db.unit_of_work() as uow:
            if acked:
                uow.session.execute(_MARK_PUBLISHED, {"ids": acked, "at": utcnow()})
            for row_id, error in failed:
                uow.session.execute(
                    update(outbox_row)
                    .where(outbox_row.c.id == row_id)
                    .values(attempts=outbox_row.c.attempts + 1, last_error=error[:2000])
                )
            uow.commit()

    def backlog(self) -> int:
        with self.db.read() as session:
            return int(session.execute(_BACKLOG).scalar_one())

    def _backlog_state(self) -> tuple[int, datetime | None]:
        """How many rows wait, and since when the oldest of them (acked-unmarked ones included:
        they are marked within mark_interval)."""
        with self.db.read() as session:
            count, oldest = session.execute(_BACKLOG_STATE).one()
            return int(count), oldest

    def _purge_published(self) -> None:
        cutoff = utcnow() - self.retention
        with self.db.unit_of_work() as uow:
            uow.session.execute(
                delete(outbox_row).where(
                    outbox_row.c.published_at.is_not(None), outbox_row.c.published_at < cutoff
                )
            )
            uow.commit()

    def stop(self) -> None:
        self._stopping = True
        self.wake()
