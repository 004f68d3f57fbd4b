"""The shared runtime driven directly: a Database with the runtime tables plus a throwaway
table that handlers write to, the relay and consumers on their own event-loop threads, and a
nats-server per test that the test may kill."""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nats
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit import bundles
from crmkit.bus import LoopThread
from crmkit.db import Database
from crmkit.events import Envelope, new_event, parse_envelope
from crmkit.runtime_tables import create_runtime_tables
from crmkit.testing import NatsServer

throwaway = MetaData()
# What the test handlers do: one row per application of an event (no unique key on purpose, so
# applying an event twice would show as two rows).
applied = Table(
    "rt_applied",
    throwaway,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("value", String(100), nullable=False),
)


@pytest.fixture
def killable_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own (not the shared session one): tests kill it."""
    server = NatsServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.engine.begin() as conn:
        create_runtime_tables(conn)
        throwaway.create_all(conn)
    yield database
    database.dispose()


class Background:
    """Relays and consumers on event-loop threads of their own, like ServiceRuntime runs them.
    `stop` asks them to stop and waits for their coroutines to finish (connections closed)."""

    def __init__(self) -> None:
        self._running: list[tuple[LoopThread, Future[Any], Callable[[], None]]] = []

    def start(self, name: str, coro: Coroutine[Any, Any, Any], stop: Callable[[], None]) -> LoopThread:
        loop = LoopThread(name).start()
        self._running.append((loop, loop.submit(coro), stop))
        return loop

    def stop(self) -> None:
        for loop, future, stop in self._running:
            stop()
            with contextlib.suppress(Exception):
                future.result(timeout=10)
            loop.stop(timeout=3.0)
        self._running.clear()


@pytest.fixture
def background() -> Iterator[Background]:
    runner = Background()
    yield runner
    runner.stop()


@pytest.fixture
def producer() -> str:
    """A service name of our own, so metrics and streams of different tests never mix."""
    return f"rt{uuid.uuid4().hex[:8]}"


def make_event(producer: str, value: str) -> Envelope:
    return new_event(
        producer=producer, event_type=f"crm.{producer}.thing.happened", aggregate_type="thing",
        aggregate_id=str(uuid.uuid4()), aggregate_version=1, payload=StringValue(value=value),
    )


def value_of(env: EventEnvelope) -> str:
    body = StringValue()
    assert env.payload.Unpack(body)
    return body.value


def applied_values(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.execute(select(applied.c.value).order_by(applied.c.seq)).scalars())


def run_async(coro_fn: Callable[..., Any], *args: Any) -> Any:
    return asyncio.run(coro_fn(*args))


async def read_stream(url: str, stream: str) -> list[tuple[dict[str, str], EventEnvelope]]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        messages = 0
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            headers = dict(msg.headers or {})  # one dict per message: the events of a bundle share it
            carried = bundles.envelopes(headers, msg.data)
            out.extend((headers, parse_envelope(data)) for data in carried)
            messages += 1
        assert messages == info.state.messages
        return out
    finally:
        await nc.close()


def message_ids_hold(stored: list[tuple[dict[str, str], EventEnvelope]]) -> bool:
    """Each single event's message has its event id as Nats-Msg-Id, each bundle one derived from
    its events' ids (crmkit.bundles): JetStream then drops whatever the relay sends again."""
    groups: list[tuple[dict[str, str], list[str]]] = []
    for headers, env in stored:
        if groups and groups[-1][0] is headers:
            groups[-1][1].append(env.event_id)
        else:
            groups.append((headers, [env.event_id]))
    return all(
        headers["Nats-Msg-Id"] == (bundles.headers(ids)["Nats-Msg-Id"] if bundles.is_bundle(headers) else ids[0])
        for headers, ids in groups)


async def publish(url: str, stream_of: str, messages: list[tuple[str, bytes, str | None]]) -> None:
    """Publish (subject, data, Nats-Msg-Id or None) to JetStream, creating the producer's stream."""
    from crmkit import bus

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await bus.ensure_stream(js, stream_of)
        for subject, data, msg_id in messages:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id} if msg_id else None)
    finally:
        await nc.close()


async def consumer_state(url: str, stream: str, durable: str) -> tuple[int, int]:
    """(pending, ack pending) of a durable consumer."""
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return info.num_pending, info.num_ack_pending
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def rt() -> SimpleNamespace:
    """The helpers above for the test modules (a conftest is not importable under
    --import-mode=importlib)."""
    return SimpleNamespace(applied=applied, **{fn.__name__: fn for fn in (
        make_event, value_of, applied_values, run_async, read_stream, message_ids_hold, publish, consumer_state)})
