"""One aggregate's events reach the stream in the order they were committed, even when a publish
fails while the next one would have succeeded, and with two relays (two replicas) over one
outbox whose publishes fail at random."""
from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from typing import Any

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.js.errors import APIError

from crmkit import bus
from crmkit.db import Database
from crmkit.events import Envelope, new_event
from crmkit.outbox import OutboxRelay

pytestmark = pytest.mark.integration


class FlakyJetStream:
    """A JetStream context whose publishes of chosen event ids fail (nothing sent), the way a
    publish lost in a reconnect or a leader change fails while the next one goes through."""

    def __init__(self, js: Any, fails: Any) -> None:
        self.js, self.fails = js, fails

    async def publish_async(self, subject: str, payload: bytes, headers: dict[str, str], **kw: Any) -> Any:
        if self.fails(headers["Nats-Msg-Id"]):
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(APIError(description="publish lost"))
            return failed
        return await self.js.publish_async(subject, payload, headers=headers, **kw)


def _events(producer: str, aggregates: list[str], per_aggregate: int, kind: str = "thing") -> list[Envelope]:
    return [new_event(producer=producer, event_type=f"crm.{producer}.{kind}.happened", aggregate_type=kind,
                      aggregate_id=aggregate, aggregate_version=version,
                      payload=StringValue(value=f"{aggregate}:{version}"))
            for version in range(1, per_aggregate + 1) for aggregate in aggregates]


def _write(db: Database, events: list[Envelope]) -> None:
    for event in events:  # a transaction each, as separate requests make them
        with db.unit_of_work() as uow:
            uow.emit(event)
            uow.commit()


async def _drain(relays: list[tuple[OutboxRelay, FlakyJetStream]], rounds: int = 200) -> None:
    for _ in range(rounds):
        for relay, js in relays:
            with contextlib.suppress(APIError):  # the relay's loop backs off and retries; so does this one
                await relay._relay_once(js)  # type: ignore[arg-type]
        if await asyncio.to_thread(relays[0][0].backlog) == 0:
            return
    raise AssertionError("the outbox did not drain")


def _versions_by_aggregate(stored: list[tuple[dict[str, str], Any]]) -> dict[str, list[int]]:
    order: dict[str, list[int]] = {}
    for _, env in stored:
        order.setdefault(env.aggregate_id, []).append(env.aggregate_version)
    return order


def test_a_failed_publish_does_not_let_the_same_aggregates_next_event_overtake_it(  # type: ignore[no-untyped-def]
        db, killable_nats, producer, rt) -> None:
    # the second names another aggregate type about the same record, as support's SLA events do
    first, = _events(producer, ["a-1"], 1)
    _, second = _events(producer, ["a-1"], 2, kind="sla")
    other, = _events(producer, ["b-1"], 1)
    _write(db, [first, second, other])
    failing = {first.event_id}

    def fails_once(event_id: str) -> bool:
        if event_id in failing:
            failing.discard(event_id)
            return True
        return False

    async def run() -> None:
        nc = await bus.connect(killable_nats.url, "order-test")
        js = nc.jetstream(timeout=5)
        await bus.ensure_stream(js, producer)
        relay = OutboxRelay(db, nats_url=killable_nats.url, service=producer, mark_interval=0)
        flaky = FlakyJetStream(js, fails_once)
        await _drain([(relay, flaky)])
        await nc.close()

    asyncio.run(run())
    stored = rt.run_async(rt.read_stream, killable_nats.url, bus.stream_name(producer))
    assert _versions_by_aggregate(stored) == {"a-1": [1, 2], "b-1": [1]}
    assert [env.aggregate_id for _, env in stored][0] == "b-1"  # the other aggregate was not held up


def test_two_relays_with_failing_publishes_keep_each_aggregates_order(  # type: ignore[no-untyped-def]
        db, killable_nats, producer, rt) -> None:
    aggregates = [str(uuid.uuid4()) for _ in range(8)]
    events = _events(producer, aggregates, 6)
    _write(db, events)
    chance = random.Random(14)

    async def run() -> None:
        nc = await bus.connect(killable_nats.url, "order-test")
        js = nc.jetstream(timeout=5)
        await bus.ensure_stream(js, producer)
        relays = [(OutboxRelay(db, nats_url=killable_nats.url, service=producer, batch_size=size,
                                mark_interval=0),
                   FlakyJetStream(js, lambda _id: chance.random() < 0.3)) for size in (7, 20)]
        await _drain(relays)
        await nc.close()

    asyncio.run(run())
    stored = rt.run_async(rt.read_stream, killable_nats.url, bus.stream_name(producer))
    assert sorted(env.event_id for _, env in stored) == sorted(e.event_id for e in events)
    assert _versions_by_aggregate(stored) == {a: list(range(1, 7)) for a in aggregates}
