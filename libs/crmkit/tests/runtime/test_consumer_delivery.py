"""How EventConsumer's pulls deliver, against a real nats-server: a trickle arrives within
milliseconds, a burst in batches that grow to the batch limit, and no event waits out ack_wait when
the consumer stops and another starts, or when nats-server restarts under it."""
from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter

import nats
import pytest
from google.protobuf.wrappers_pb2 import StringValue

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit import bus
from crmkit.bus import LoopThread
from crmkit.consumer import EventConsumer
from crmkit.db import UnitOfWork
from crmkit.events import new_event
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration


class Recorder:
    """The handler: one row per event, and for each event its lag (publish → apply) and the
    transaction it was applied in."""

    def __init__(self, rt) -> None:
        self.rt = rt
        self.lags: dict[str, float] = {}
        self.batch_of: dict[str, int] = {}
        self._batches = itertools.count()
        self._lock = threading.Lock()

    def __call__(self, uow: UnitOfWork, env: EventEnvelope) -> None:
        value = self.rt.value_of(env)
        uow.session.execute(self.rt.applied.insert().values(event_id=env.event_id, value=value))
        batch = uow.session.info.setdefault("batch", next(self._batches))
        with self._lock:
            self.lags[value] = (time.time() - float(value.split("|")[1])) * 1000
            self.batch_of[value] = batch

    def batch_sizes(self, prefix: str) -> list[int]:
        return sorted(Counter(b for v, b in self.batch_of.items() if v.startswith(prefix)).values())

    def lags_of(self, prefix: str) -> list[float]:
        return sorted(lag for v, lag in self.lags.items() if v.startswith(prefix))


async def _paced(url: str, producer: str, prefix: str, n: int, rate: float) -> list[str]:
    """Publish n events at `rate`/s (rate 0: all at once, pipelined); their values."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await bus.ensure_stream(js, producer)
        values, acks = [], []
        start = time.monotonic()
        for i in range(n):
            if rate:
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            value = f"{prefix}{i:05d}|{time.time():.6f}"
            env = new_event(producer=producer, event_type=f"crm.{producer}.thing.happened", aggregate_type="thing",
                            aggregate_id="t", aggregate_version=1, payload=StringValue(value=value))
            acks.append(await js.publish_async(env.subject, env.data, headers={"Nats-Msg-Id": env.event_id}))
            values.append(value)
            if rate:
                await acks[-1]
        await asyncio.gather(*acks)
        return values
    finally:
        await nc.close()


def test_a_trickle_arrives_promptly_and_a_burst_in_growing_batches(db, killable_nats, background, producer, rt) -> None:
    record = Recorder(rt)
    consumer = EventConsumer(db, killable_nats.url, f"c-{producer}", [producer], record)
    background.start("consumer", consumer.run(), consumer.stop)

    trickle = rt.run_async(_paced, killable_nats.url, producer, "t", 400, 200.0)
    wait_for(lambda: len(record.lags_of("t")) == len(trickle), timeout=30, what="the trickle applied")
    # the lag itself is a figure for bench/consumer_bench.py, not a timed assertion here
    assert max(record.batch_sizes("t")) <= 50   # a trickle is applied in small batches, as it comes

    burst = rt.run_async(_paced, killable_nats.url, producer, "b", 2000, 0.0)
    wait_for(lambda: len(rt.applied_values(db)) >= len(trickle) + len(burst), timeout=60, what="the burst applied")
    sizes = record.batch_sizes("b")
    assert sizes[-1] == consumer.batch                       # batches grow to the limit under load
    assert len(sizes) <= 2000 // 50                          # ... so few transactions carry the burst
    assert sorted(rt.applied_values(db)) == sorted(trickle + burst)   # each exactly once
    wait_for(lambda: rt.run_async(rt.consumer_state, killable_nats.url, bus.stream_name(producer), consumer.durable)
             == (0, 0), what="every message acknowledged")


def test_a_consumer_stopped_and_restarted_mid_flow_leaves_nothing_to_ack_wait(
        db, killable_nats, background, producer, rt) -> None:
    record = Recorder(rt)
    name = f"c-{producer}"
    first = EventConsumer(db, killable_nats.url, name, [producer], record)   # ack_wait 30 s
    first_loop = LoopThread("first-consumer").start()
    first_run = first_loop.submit(first.run())
    sent: list[str] = []
    flow = threading.Thread(target=lambda: sent.extend(rt.run_async(_paced, killable_nats.url, producer, "r", 600, 200.0)))
    flow.start()
    wait_for(lambda: len(record.lags) >= 100, timeout=20, what="the first consumer under way")
    first.stop()
    first_run.result(timeout=15)   # applied what it had, closed its inbox and its connection
    first_loop.stop()
    second = EventConsumer(db, killable_nats.url, name, [producer], record)
    background.start("second", second.run(), second.stop)
    flow.join()
    # well inside ack_wait: nothing the first consumer had fetched is left unacknowledged
    # the handler records before its batch commits: wait on committed rows, not on the recorder
    wait_for(lambda: len(rt.applied_values(db)) >= len(sent), timeout=10, what="every event applied after the restart")
    assert sorted(rt.applied_values(db)) == sorted(sent)   # each exactly once
    wait_for(lambda: rt.run_async(rt.consumer_state, killable_nats.url, bus.stream_name(producer), name) == (0, 0),
             timeout=10, what="every message acknowledged")


def test_the_pull_survives_a_nats_server_restart(db, killable_nats, background, producer, rt) -> None:
    """The idle pull request is lost with the server: the reconnect (or the missing heartbeats)
    brings a new one, and events published after the restart arrive within seconds."""
    record = Recorder(rt)
    consumer = EventConsumer(db, killable_nats.url, f"c-{producer}", [producer], record)
    background.start("consumer", consumer.run(), consumer.stop)
    before = rt.run_async(_paced, killable_nats.url, producer, "a", 20, 100.0)
    wait_for(lambda: len(record.lags) == len(before), timeout=20, what="events before the restart applied")

    killable_nats.kill()
    killable_nats.start()   # same port, same JetStream store: the durable consumer is still there
    after = rt.run_async(_paced, killable_nats.url, producer, "z", 20, 100.0)
    wait_for(lambda: len(rt.applied_values(db)) >= len(before) + len(after), timeout=15,
             what="events after the restart applied")
    assert sorted(rt.applied_values(db)) == sorted(before + after)
