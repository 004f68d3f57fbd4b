"""EventConsumer against a real nats-server: each event takes effect once however often it is
delivered, a poison event is parked without stopping the rest, and a consumer that dies in the
middle of a batch loses and repeats nothing when it comes back."""
from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit import bus
from crmkit.bus import LoopThread
from crmkit.consumer import EventConsumer
from crmkit.db import UnitOfWork
from crmkit.runtime_tables import dead_letter_row, inbox_row
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration


def _bury(loop: asyncio.AbstractEventLoop) -> None:
    """Finish off what a stopped-dead loop left behind (its tasks and its NATS connection)."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()


def _consumer_name() -> str:
    return f"consumer-{uuid.uuid4().hex[:8]}"


def _inbox_ids(db, consumer: str) -> list[str]:
    with db.read() as session:
        return list(session.execute(select(inbox_row.c.event_id).where(inbox_row.c.consumer == consumer)).scalars())


def _duplicates(consumer: str) -> float:
    return REGISTRY.get_sample_value("crm_events_duplicate_total", {"service": consumer, "consumer": consumer}) or 0.0


def test_an_event_delivered_twice_is_applied_once(db, killable_nats, background, producer, rt) -> None:
    events = [rt.make_event(producer, f"v{i}") for i in range(6)]
    sentinel = rt.make_event(producer, "last")
    # v2 and v4 reach the stream twice (a second producer instance, or the duplicate window passed)
    messages = [(e.subject, e.data, None) for e in events]
    messages[3:3] = [(events[2].subject, events[2].data, None)]
    messages.append((events[4].subject, events[4].data, None))
    messages.append((sentinel.subject, sentinel.data, None))
    rt.run_async(rt.publish, killable_nats.url, producer, messages)

    def handler(uow: UnitOfWork, env: EventEnvelope) -> None:
        uow.session.execute(rt.applied.insert().values(event_id=env.event_id, value=rt.value_of(env)))

    name = _consumer_name()
    consumer = EventConsumer(db, killable_nats.url, name, [producer], handler)
    background.start("consumer", consumer.run(), consumer.stop)
    wait_for(lambda: "last" in rt.applied_values(db), what="the last event applied")

    assert rt.applied_values(db) == ["v0", "v1", "v2", "v3", "v4", "v5", "last"]
    assert sorted(_inbox_ids(db, name)) == sorted([e.event_id for e in events] + [sentinel.event_id])
    # counted after the commit the test just saw, so wait for it; then it must be exactly 2
    wait_for(lambda: rt.run_async(rt.consumer_state, killable_nats.url, bus.stream_name(producer), name) == (0, 0),
             what="every message acknowledged")
    wait_for(lambda: _duplicates(name) >= 2, what="both duplicates counted")
    assert _duplicates(name) == 2


def test_a_poison_event_is_parked_after_max_deliveries_and_the_rest_still_apply(
        db, killable_nats, background, producer, rt) -> None:
    events = [rt.make_event(producer, value) for value in ("a", "b", "poison", "c", "d")]
    poison = events[2]
    rt.run_async(rt.publish, killable_nats.url, producer, [(e.subject, e.data, e.event_id) for e in events])
    attempts: list[str] = []

    def handler(uow: UnitOfWork, env: EventEnvelope) -> None:
        value = rt.value_of(env)
        uow.session.execute(rt.applied.insert().values(event_id=env.event_id, value=value))
        if value == "poison":
            attempts.append(env.event_id)
            raise ValueError("cannot apply a poison event")   # after writing: the write must roll back

    name = _consumer_name()
    consumer = EventConsumer(db, killable_nats.url, name, [producer], handler, max_deliveries=3)
    background.start("consumer", consumer.run(), consumer.stop)

    def parked() -> list:
        with db.read() as session:
            return session.execute(select(dead_letter_row)).all()

    wait_for(lambda: len(parked()) == 1, timeout=30, what="the poison event parked")
    wait_for(lambda: len(rt.applied_values(db)) == 4, what="the other events applied")
    (row,) = parked()
    assert row.consumer == name and row.event_id == poison.event_id
    assert row.subject == poison.subject and bytes(row.payload) == poison.data
    # a fetched batch is first tried in one transaction, then event by event, so the handler may
    # see the poison event up to twice per delivery; what matters is 3 deliveries, then parked
    assert row.deliveries == 3 and set(attempts) == {poison.event_id} and 3 <= len(attempts) <= 6
    tried = len(attempts)
    assert row.reason == "ValueError: cannot apply a poison event"
    assert sorted(rt.applied_values(db)) == ["a", "b", "c", "d"]          # the poison write rolled back
    assert poison.event_id not in _inbox_ids(db, name)                     # so it can be replayed later
    # settled for good: not redelivered again
    wait_for(lambda: rt.run_async(rt.consumer_state, killable_nats.url, bus.stream_name(producer), name) == (0, 0),
             what="the poison message terminated")
    assert len(attempts) == tried


def test_an_unparseable_message_is_parked_at_once(db, killable_nats, background, producer, rt) -> None:
    good = rt.make_event(producer, "fine")
    rt.run_async(rt.publish, killable_nats.url, producer, [
        (f"crm.{producer}.thing.happened", b"\x00not an envelope", None), (good.subject, good.data, None)])

    def handler(uow: UnitOfWork, env: EventEnvelope) -> None:
        uow.session.execute(rt.applied.insert().values(event_id=env.event_id, value=rt.value_of(env)))

    name = _consumer_name()
    consumer = EventConsumer(db, killable_nats.url, name, [producer], handler)
    background.start("consumer", consumer.run(), consumer.stop)
    wait_for(lambda: rt.applied_values(db) == ["fine"], what="the good event applied")
    with db.read() as session:
        (row,) = session.execute(select(dead_letter_row)).all()
    assert row.event_id is None and row.deliveries == 1 and row.reason.startswith("unparseable envelope")


def test_a_consumer_killed_mid_batch_applies_nothing_twice_after_restart(
        db, killable_nats, background, producer, rt) -> None:
    first_batch = [rt.make_event(producer, f"v{i:02d}") for i in range(10)]
    rt.run_async(rt.publish, killable_nats.url, producer, [(e.subject, e.data, e.event_id) for e in first_batch])
    reached, release, crashed = threading.Event(), threading.Event(), threading.Event()

    def handler(uow: UnitOfWork, env: EventEnvelope) -> None:
        value = rt.value_of(env)
        uow.session.execute(rt.applied.insert().values(event_id=env.event_id, value=value))
        if value == "v04" and not crashed.is_set():
            reached.set()
            assert release.wait(30)      # the process "dies" while this write is about to commit

    name = _consumer_name()
    # short ack_wait: unacknowledged messages come back quickly
    first = EventConsumer(db, killable_nats.url, name, [producer], handler, ack_wait=2.0)
    doomed = LoopThread("doomed-consumer").start()
    doomed.submit(first.run())
    stopped = False
    try:
        assert reached.wait(20), "the first consumer never got to v04"
        doomed.stop(timeout=5.0)         # the loop stops dead: no ack for v04..v09 is ever sent
        stopped = True
        crashed.set()
        release.set()                    # ...but v04's transaction still commits
        wait_for(lambda: "v04" in rt.applied_values(db), what="v04 committed without an ack")
        committed = rt.applied_values(db)  # v04's transaction may hold the rest of its batch too
        assert len(committed) >= 5 and committed == [f"v{i:02d}" for i in range(len(committed))]

        second_batch = [rt.make_event(producer, f"v{i:02d}") for i in range(10, 15)]
        rt.run_async(rt.publish, killable_nats.url, producer, [(e.subject, e.data, e.event_id) for e in second_batch])
        duplicates = _duplicates(name)
        second = EventConsumer(db, killable_nats.url, name, [producer], handler, ack_wait=2.0)
        background.start("consumer", second.run(), second.stop)
        wait_for(lambda: len(rt.applied_values(db)) >= 15, timeout=30, what="every event applied after the restart")
        wait_for(lambda: _duplicates(name) >= duplicates + 1, timeout=30, what="v04 redelivered and skipped")

        assert sorted(rt.applied_values(db)) == [f"v{i:02d}" for i in range(15)]     # each exactly once
        with db.read() as session:
            inbox = session.execute(select(func.count()).select_from(inbox_row)
                                    .where(inbox_row.c.consumer == name)).scalar_one()
        assert inbox == 15
    finally:
        release.set()
        if not stopped:
            doomed.stop(timeout=5.0)
        _bury(doomed.loop)


def test_events_the_handler_does_not_want_are_acked_without_a_transaction(
        db, killable_nats, background, producer, rt) -> None:
    from google.protobuf.wrappers_pb2 import StringValue

    from crmkit.events import new_event

    wanted = [rt.make_event(producer, f"w{i}") for i in range(3)]
    other = new_event(producer=producer, event_type=f"crm.{producer}.other.thing", aggregate_type="thing",
                      aggregate_id="t1", aggregate_version=1, payload=StringValue(value="ignored"))
    rt.run_async(rt.publish, killable_nats.url, producer,
                 [(e.subject, e.data, e.event_id) for e in (wanted[0], other, wanted[1], wanted[2])])

    def handler(uow: UnitOfWork, env: EventEnvelope) -> None:
        uow.session.execute(rt.applied.insert().values(event_id=env.event_id, value=rt.value_of(env)))

    name = _consumer_name()
    consumer = EventConsumer(db, killable_nats.url, name, [producer], handler,
                             wants=lambda event_type: not event_type.endswith(".other.thing"))
    background.start("consumer", consumer.run(), consumer.stop)
    wait_for(lambda: len(rt.applied_values(db)) == 3, what="the wanted events applied")
    wait_for(lambda: rt.run_async(rt.consumer_state, killable_nats.url, bus.stream_name(producer), name) == (0, 0),
             what="every message acknowledged, the unwanted one too")
    assert rt.applied_values(db) == ["w0", "w1", "w2"]
    assert sorted(_inbox_ids(db, name)) == sorted(e.event_id for e in wanted)   # no row for the other
