"""Durable JetStream consumers with an inbox: each event takes effect once.

Events are applied in batches: for each, ONE transaction claims the inbox rows (the events it
has not seen) and applies the handler to those; the messages are acked only after that commit.
When a batch fails it is retried one event per transaction: a failure naks with backoff, and
after `max_deliveries` the message is parked in crm_dead_letters with its reason and terminated,
so the rest of the stream keeps flowing.

A bundle (crmkit.bundles: a bulk write's events in one message) is expanded into its events
before the inbox claim; its events share their batch's transaction and its one ack follows that
commit. Retried on its own, a bundle's events go one per transaction in order; a failing one makes
the whole message wait, and on its last delivery that event alone is parked and the others go on.

Delivery (bus.Pull): the first event that finds the consumer idle comes on a pull request kept
open with heartbeats; it waits `linger` for company, then what is pending comes in one no_wait
pull. So a trickle costs one transaction per few events rather than one per event, and under
load batches grow to `batch` without anyone waiting (a full pull means more is waiting: the next
round goes at once).

`wants` (event type → bool) names the events the handler acts on; the others are acked without a
transaction or an inbox row (a stream carries many event types a given consumer ignores).

Sealed personal fields (crmkit.shredding) are opened before the transaction, with the keys of the
whole batch asked of their producer in one call (`keys`): the handler sees the full payload, or,
once the person was erased, the payload without those fields and `shredding.erased(env)`. A
producer that cannot be asked for keys makes the event wait (nak with backoff); it is never parked
for that."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import bindparam, insert, select

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit import bundles, bus, logs, metrics, shredding
from crmkit.db import Database, UnitOfWork
from crmkit.event_runs import BatchHandler, Handler
from crmkit.events import parse_envelope, utcnow
from crmkit.runtime_tables import dead_letter_row, inbox_row

log = logs.get("crmkit.consumer")

_T = TypeVar("_T")
_R = TypeVar("_R")

# Built once: constructing a statement per event cost three times the SQL it runs. (One
# INSERT ... ON CONFLICT DO NOTHING RETURNING instead of these two cost more CPU: 280 against
# 175 µs a batch, through SQLAlchemy's insertmanyvalues.)
_SEEN = select(inbox_row.c.event_id).where(
    inbox_row.c.consumer == bindparam("consumer"),
    inbox_row.c.event_id.in_(bindparam("event_ids", expanding=True)),
)
_RECORD = insert(inbox_row)


@dataclass
class EventConsumer:
    db: Database
    nats_url: str
    service: str                      # the consuming service; also the durable name
    streams: Sequence[str]            # producing services whose streams we read
    handler: Handler
    max_deliveries: int = 5
    batch: int = 200                  # the most events applied in one transaction
    ack_wait: float = 30.0
    # How long the first event that finds the consumer idle waits for others to share its
    # transaction. Under load nothing waits: a batch is what arrived while the last one was applied.
    linger: float = 0.025
    inline_batch: int = 8             # see _apply_batch
    heartbeat: float = 2.0            # idle heartbeat of the pulls; two missed and we pull again
    wants: Callable[[str], bool] | None = None  # None: every event type reaches the handler
    keys: shredding.KeyClient | None = None      # opens sealed personal fields; None: left sealed
    # Applies a batch's claimed events (in stream order) at once (crmkit.event_runs); None: `handler` each
    batch_handler: BatchHandler | None = None
    # The event types whose sealed fields the handler reads (None: all); the others reach it sealed,
    # saving a key fetch and a decryption per event (a bulk import's million contact.created)
    opens: Callable[[str], bool] | None = None
    _stopping: bool = field(default=False, init=False)
    _buffer: list[Msg] = field(default_factory=list, init=False)
    _linger_from: float | None = field(default=None, init=False)
    _wake: asyncio.Event | None = field(default=None, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _done: bool = field(default=False, init=False)
    _counters: dict[str | None, Any] = field(default_factory=dict, init=False)

    @property
    def durable(self) -> str:
        return self.service

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        pulls: list[bus.Pull] = []

        async def reconnected() -> None:
            for pull in pulls:
                await pull.reconnected()

        nc = await bus.connect(self.nats_url, f"{self.service}-consumer", on_reconnect=reconnected)
        js = nc.jetstream()
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=-1,          # we park poison messages ourselves, JetStream never gives up
            max_ack_pending=1000,
        )
        pulls.extend(
            bus.Pull(nc, js, producer=producer, durable=self.durable, config=config, deliver=self._take,
                     heartbeat=self.heartbeat)
            for producer in self.streams
        )
        background = [asyncio.create_task(pull.start()) for pull in pulls]
        background.append(asyncio.create_task(self._report_lag(pulls)))
        try:
            await self._apply_loop(pulls)
        finally:
            for task in background:
                task.cancel()
            # The buffer is empty here; what still arrives while the inboxes close is nak'ed, for
            # the next instance at once instead of after ack_wait.
            for pull in pulls:
                await pull.close()
            await nc.close()

    def stop(self) -> None:
        """Thread-safe: apply what was received, then return from `run`."""
        self._stopping = True
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _take(self, msg: Msg, pull: bus.Pull) -> bool:
        if self._done:
            return False
        if not self._buffer:
            self._linger_from = asyncio.get_running_loop().time()
        self._buffer.append(msg)
        assert self._wake is not None
        self._wake.set()
        return True

    async def _apply_loop(self, pulls: list[bus.Pull]) -> None:
        """Wait for a first event, linger, drain what is pending, apply, and again. A drain that
        came back full means more is waiting: the next round goes at once, without lingering."""
        assert self._wake is not None and self._loop is not None
        hurry = False
        while True:
            if not self._buffer and not hurry:
                if self._stopping:
                    self._done = True
                    return
                self._wake.clear()  # before pulling: an event arriving meanwhile sets it again
                for pull in pulls:
                    await pull.idle()
                await self._wake.wait()
                continue
            if self._linger_from is not None and not hurry and not self._stopping:
                delay = self._linger_from + self.linger - self._loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            holding = [pull for pull in pulls if pull.holding] if not self._stopping else []
            if len(holding) == 1:  # the usual case: no task per drain
                hurry = await holding[0].drain(self.batch)
            else:
                hurry = any(await asyncio.gather(*(pull.drain(self.batch) for pull in holding)))
            hurry = hurry and not self._stopping
            taken, self._buffer, self._linger_from = self._buffer, [], None
            for msgs in self._transactions(taken):
                single = len(msgs) == 1 and not bundles.is_bundle(msgs[0].headers)
                if single or not await self._handle_batch(msgs):
                    for msg in msgs:
                        await self._handle(msg)

    def _transactions(self, msgs: list[Msg]) -> list[list[Msg]]:
        """The messages of each batch transaction: up to `batch` events, counting each event of
        a bundle (a bundle is never split: its one ack follows its events' commit)."""
        groups: list[list[Msg]] = []
        events = 0
        for msg in msgs:
            n = bundles.size(msg.headers)
            if not groups or events + n > self.batch:
                groups.append([])
                events = 0
            groups[-1].append(msg)
            events += n
        return groups

    async def _handle_batch(self, msgs: list[Msg]) -> bool:
        """All of a fetched batch in one transaction (one fsync instead of one per event), acked
        after the commit. False when anything in it fails: the caller then goes one by one, so
        a poison message is retried and parked on its own."""
        try:
            carried = [[parse_envelope(data) for data in bundles.envelopes(m.headers, m.data)] for m in msgs]
            envs = [env for inner in carried for env in inner]
            await self._unseal([e for e in envs if self._wanted(e)])
            results = await self._apply_batch(envs)
        except Exception as exc:
            log.debug("batch of %d messages failed, retrying one by one: %s", len(msgs), exc)
            return False
        for env, applied in zip(envs, results, strict=True):
            self._count(env.event_type if applied else None)
        for msg in msgs:
            await self._settle(msg.ack())
        return True

    async def _apply_batch(self, envs: list[EventEnvelope]) -> list[bool]:
        return await self._in_transaction(self._apply_many, envs, len(envs))

    async def _in_transaction(self, fn: Callable[[_T], _R], arg: _T, events: int) -> _R:
        """On SQLite, a few events are applied right on the event loop when no other write holds
        the database: their transaction blocks the loop for about a millisecond, and the hop to a
        worker thread and back cost more CPU than the transaction's SQL (measured: ~40 µs an
        event at 200 events/s). Larger batches, and all of them on PostgreSQL (network round
        trips), go to a thread."""
        lock = self.db.write_lock
        if lock is not None and events <= self.inline_batch and lock.acquire(blocking=False):
            try:
                return fn(arg)
            finally:
                lock.release()
        return await asyncio.to_thread(fn, arg)

    def _count(self, event_type: str | None) -> None:
        """Consumed (by event type) or, for None, skipped as a duplicate; the labelled series are
        looked up once, not per event."""
        counter = self._counters.get(event_type)
        if counter is None:
            counter = (metrics.EVENTS_DUPLICATE.labels(self.service, self.durable) if event_type is None
                       else metrics.EVENTS_CONSUMED.labels(self.service, self.durable, event_type))
            self._counters[event_type] = counter
        counter.inc()

    def _wanted(self, env: EventEnvelope) -> bool:
        return self.wants is None or self.wants(env.event_type)

    def _apply_many(self, envs: list[EventEnvelope]) -> list[bool]:
        """One inbox claim for the whole batch, then the effects of the events it claimed; one
        commit. Events the handler does not want count as consumed and touch no table."""
        relevant = [e for e in envs if self._wanted(e)]
        if not relevant:
            return [True] * len(envs)
        with self.db.unit_of_work() as uow:
            claimed = self._claim(uow, relevant)
            results: list[bool] = []
            fresh: list[EventEnvelope] = []
            for env in envs:
                if not self._wanted(env):
                    results.append(True)
                    continue
                applied = env.event_id in claimed
                if applied:
                    claimed.discard(env.event_id)  # a duplicate inside the batch applies once
                    fresh.append(env)
                results.append(applied)
            if self.batch_handler is not None:
                self.batch_handler(uow, fresh)
            else:
                for env in fresh:
                    self.handler(uow, env)
            uow.commit()
            return results

    async def _handle(self, msg: Msg) -> None:
        """One message on its own: its event (or each event of its bundle) in a transaction of
        its own. A failing event makes the message wait (nak with backoff; the events before it
        are in the inbox and skipped next time) until its `max_deliveries`-th delivery, when that
        event alone is parked and the message's other events go on."""
        deliveries = msg.metadata.num_delivered
        try:
            carried = bundles.envelopes(msg.headers, msg.data)
        except Exception as exc:
            await self._park(msg, None, f"unparseable event bundle: {exc}", deliveries)
            return
        if len(carried) == 1 and not bundles.is_bundle(msg.headers):
            if await self._handle_one(msg, carried[0], deliveries, alone=True):
                await self._settle(msg.ack())
            return
        for data in carried:
            if not await self._handle_one(msg, data, deliveries, alone=False):
                return
        await self._settle(msg.ack())

    async def _handle_one(self, msg: Msg, data: bytes, deliveries: int, *, alone: bool) -> bool:
        """Apply one event of `msg`; False when the message was nak'ed (or, `alone`, parked)."""
        try:
            env = parse_envelope(data)
        except Exception as exc:
            return await self._poison(msg, None, data, f"unparseable envelope: {exc}", deliveries, alone, park_now=True)
        logs.event_id_var.set(env.event_id)
        try:
            if self._wanted(env):
                await self._unseal([env])
        except shredding.KeysUnavailable as exc:  # the producer is away: wait for it, never park
            delay = min(0.5 * 2 ** (deliveries - 1), 30.0)
            log.warning("event waits for its subject key (delivery %d), retry in %.1fs: %s", deliveries, delay, exc)
            await self._settle(msg.nak(delay=delay))
            return False
        except Exception as exc:  # a block that does not open (tampered): poison like any other
            return await self._fail(msg, env, data, exc, deliveries, alone)
        try:
            applied = await self._in_transaction(self._apply, env, 1)
        except Exception as exc:
            return await self._fail(msg, env, data, exc, deliveries, alone)
        self._count(env.event_type if applied else None)
        return True

    async def _fail(self, msg: Msg, env: EventEnvelope, data: bytes, exc: Exception, deliveries: int,
                    alone: bool) -> bool:
        metrics.EVENTS_FAILED.labels(self.service, self.durable).inc()
        return await self._poison(msg, env, data, f"{type(exc).__name__}: {exc}", deliveries, alone,
                                  park_now=deliveries >= self.max_deliveries)

    async def _poison(self, msg: Msg, env: EventEnvelope | None, data: bytes, reason: str, deliveries: int,
                      alone: bool, *, park_now: bool) -> bool:
        """Park the event, or nak its message for a later try. An event of a bundle is parked on
        its own (the caller goes on with the bundle: True); a single event's message is
        terminated with it (False)."""
        if not park_now:
            delay = min(0.5 * 2 ** (deliveries - 1), 30.0)
            log.warning("event handling failed (delivery %d), retry in %.1fs: %s", deliveries, delay, reason)
            await self._settle(msg.nak(delay=delay))
            return False
        subject = msg.subject if alone or env is None else env.event_type
        await asyncio.to_thread(self._write_dead_letter, env, subject, data, reason, deliveries)
        metrics.EVENTS_DEAD_LETTERED.labels(self.service, self.durable).inc()
        log.error("event parked in dead letters after %d deliveries: %s", deliveries, reason)
        if alone:
            await self._settle(msg.term())
            return False
        return True

    async def _unseal(self, envs: list[EventEnvelope]) -> None:
        """Open the sealed fields in place; keys already cached cost no hop to a thread."""
        sealed = [e for e in envs if shredding.is_sealed(e) and (self.opens is None or self.opens(e.event_type))]
        if not sealed or self.keys is None:
            return
        _, missing = self.keys.cached(e.sealed.key_id for e in sealed)
        if missing:
            await asyncio.to_thread(self.keys.open_all, sealed)
        else:
            self.keys.open_all(sealed)

    def _apply(self, env: EventEnvelope) -> bool:
        if not self._wanted(env):
            return True
        with self.db.unit_of_work() as uow:
            applied = self._apply_in(uow, env)
            uow.commit()
            return applied

    def _apply_in(self, uow: UnitOfWork, env: EventEnvelope) -> bool:
        """Inbox claim and effect, inside the caller's transaction."""
        if not self._claim(uow, [env]):
            return False
        self.handler(uow, env)
        return True

    def _claim(self, uow: UnitOfWork, envs: list[EventEnvelope]) -> set[str]:
        """Insert the inbox rows that are missing; the event ids inserted, i.e. not seen before."""
        unique = list({e.event_id: e for e in envs}.values())
        seen = {r[0] for r in uow.session.execute(
            _SEEN, {"consumer": self.durable, "event_ids": [e.event_id for e in unique]})}
        now = utcnow()
        fresh = [e for e in unique if e.event_id not in seen]
        if fresh:
            uow.session.execute(_RECORD, [
                {"consumer": self.durable, "event_id": e.event_id, "event_type": e.event_type, "processed_at": now}
                for e in fresh
            ])
        return {e.event_id for e in fresh}

    async def _park(self, msg: Msg, env: EventEnvelope | None, reason: str, deliveries: int) -> None:
        """Park the whole message (one that cannot be read) and terminate it."""
        await self._poison(msg, env, msg.data, reason, deliveries, True, park_now=True)

    def _write_dead_letter(self, env: EventEnvelope | None, subject: str, payload: bytes, reason: str,
                           deliveries: int) -> None:
        with self.db.unit_of_work() as uow:
            uow.session.execute(
                dead_letter_row.insert().values(
                    consumer=self.durable,
                    event_id=env.event_id if env else None,
                    subject=subject,
                    payload=payload,
                    reason=reason[:4000],
                    deliveries=deliveries,
                    parked_at=utcnow(),
                )
            )
            uow.commit()

    async def _settle(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except Exception as exc:  # the ack is lost if NATS is away; redelivery + inbox cover it
            log.debug("ack/nak failed: %s", exc)

    async def _report_lag(self, pulls: list[bus.Pull]) -> None:
        gauge = metrics.CONSUMER_LAG.labels(self.service, self.durable)
        while True:
            await asyncio.sleep(5.0)
            lag = 0
            for pull in pulls:
                with contextlib.suppress(Exception):
                    info = await pull.consumer_info()
                    lag += (info.num_pending or 0) + (info.num_ack_pending or 0)
            gauge.set(lag)
