"""Bundles on a real nats-server: a bulk write goes out in a few messages, and every event of
them takes effect once, in order; a bundle sent twice, or composed differently, applies nothing
twice; a poison event inside a bundle is parked alone."""
from __future__ import annotations

import nats
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit import bundles, bus
from crmkit.consumer import EventConsumer
from crmkit.db import UnitOfWork
from crmkit.events import Envelope
from crmkit.outbox import OutboxRelay
from crmkit.runtime_tables import dead_letter_row, inbox_row
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration


def _recorder(rt):  # type: ignore[no-untyped-def]
    def handler(uow: UnitOfWork, env: EventEnvelope) -> None:
        uow.session.execute(rt.applied.insert().values(event_id=env.event_id, value=rt.value_of(env)))
    return handler


async def _publish_bundles(url: str, producer: str, groups: list[list[Envelope]]) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await bus.ensure_stream(js, producer)
        for group in groups:
            await js.publish(bundles.subject(producer), bundles.pack([e.data for e in group]),
                             headers=bundles.headers([e.event_id for e in group]))
    finally:
        await nc.close()


def _failures(service: str) -> float:
    return REGISTRY.get_sample_value("crm_outbox_publish_failures_total", {"service": service}) or 0.0


def _inbox(db, consumer: str) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(inbox_row)
                                   .where(inbox_row.c.consumer == consumer)).scalar_one())


def test_a_bulk_write_goes_out_in_bundles_and_each_event_applies_once_in_order(
        db, killable_nats, background, producer, rt) -> None:
    events = [rt.make_event(producer, f"v{i:03d}") for i in range(120)]
    with db.unit_of_work() as uow:
        for event in events:
            uow.emit(event)
        uow.commit()
    relay = OutboxRelay(db, nats_url=killable_nats.url, service=producer, bundle_events=50)
    background.start("relay", relay.run(), relay.stop)
    wait_for(lambda: relay.backlog() == 0, timeout=20, what="the outbox published")

    stored = rt.run_async(rt.read_stream, killable_nats.url, bus.stream_name(producer))
    assert [env.event_id for _, env in stored] == [e.event_id for e in events]      # in outbox order
    assert rt.message_ids_hold(stored)
    messages = {id(headers) for headers, _ in stored}
    assert len(messages) == 3                      # 50 + 50 + 20 events, not 120 messages
    assert all(headers.get(bundles.HEADER) in ("50", "20") for headers, _ in stored)

    name = f"bundled-{producer}"
    consumer = EventConsumer(db, killable_nats.url, name, [producer], _recorder(rt), batch=60)
    background.start("consumer", consumer.run(), consumer.stop)
    wait_for(lambda: len(rt.applied_values(db)) == 120, timeout=30, what="every bundled event applied")
    assert rt.applied_values(db) == [f"v{i:03d}" for i in range(120)]
    assert _inbox(db, name) == 120
    wait_for(lambda: rt.run_async(rt.consumer_state, killable_nats.url, bus.stream_name(producer), name) == (0, 0),
             what="every bundle acknowledged")


def test_events_sent_again_in_other_bundles_apply_once(db, killable_nats, background, producer, rt) -> None:
    """Two relays (or one restarted with a different batch) bundle the same rows differently:
    JetStream keeps both, the consumer's inbox applies each event once."""
    events = [rt.make_event(producer, f"e{i:02d}") for i in range(40)]
    rt.run_async(_publish_bundles, killable_nats.url, producer, [events[:20], events[10:30], events[20:]])
    rt.run_async(rt.publish, killable_nats.url, producer, [(events[5].subject, events[5].data, events[5].event_id)])

    name = f"again-{producer}"
    consumer = EventConsumer(db, killable_nats.url, name, [producer], _recorder(rt))
    background.start("consumer", consumer.run(), consumer.stop)
    wait_for(lambda: len(rt.applied_values(db)) >= 40, timeout=30, what="the events applied")
    wait_for(lambda: rt.run_async(rt.consumer_state, killable_nats.url, bus.stream_name(producer), name) == (0, 0),
             what="every message acknowledged")
    assert rt.applied_values(db) == [f"e{i:02d}" for i in range(40)]
    assert _inbox(db, name) == 40


def test_a_poison_event_in_a_bundle_is_parked_alone_and_the_rest_apply(
        db, killable_nats, background, producer, rt) -> None:
    events = [rt.make_event(producer, "poison" if i == 7 else f"p{i:02d}") for i in range(12)]
    poison = events[7]
    rt.run_async(_publish_bundles, killable_nats.url, producer, [events])
    tries: list[str] = []

    def handler(uow: UnitOfWork, env: EventEnvelope) -> None:
        uow.session.execute(rt.applied.insert().values(event_id=env.event_id, value=rt.value_of(env)))
        if rt.value_of(env) == "poison":
            tries.append(env.event_id)
            raise ValueError("cannot apply a poison event")

    name = f"poison-{producer}"
    consumer = EventConsumer(db, killable_nats.url, name, [producer], handler, max_deliveries=3)
    background.start("consumer", consumer.run(), consumer.stop)
    wait_for(lambda: len(rt.applied_values(db)) >= 11, timeout=30, what="the other events applied")
    wait_for(lambda: rt.run_async(rt.consumer_state, killable_nats.url, bus.stream_name(producer), name) == (0, 0),
             timeout=30, what="the bundle settled")
    with db.read() as session:
        (row,) = session.execute(select(dead_letter_row)).all()
    # parked as a single event: its own bytes and subject, so a replay sends it alone
    assert row.event_id == poison.event_id and row.subject == poison.subject and bytes(row.payload) == poison.data
    assert row.deliveries == 3 and row.reason == "ValueError: cannot apply a poison event"
    assert rt.applied_values(db) == [e_value for e_value in (f"p{i:02d}" for i in range(12)) if e_value != "p07"]
    assert _inbox(db, name) == 11 and set(tries) == {poison.event_id}


def test_an_unreadable_bundle_is_parked_whole_at_once(db, killable_nats, background, producer, rt) -> None:
    good = rt.make_event(producer, "fine")

    async def publish() -> None:
        nc = await nats.connect(killable_nats.url)
        try:
            js = nc.jetstream()
            await bus.ensure_stream(js, producer)
            await js.publish(bundles.subject(producer), b"\x0a\x50truncated", headers={bundles.HEADER: "3"})
            await js.publish(good.subject, good.data, headers={"Nats-Msg-Id": good.event_id})
        finally:
            await nc.close()

    rt.run_async(publish)
    name = f"unreadable-{producer}"
    consumer = EventConsumer(db, killable_nats.url, name, [producer], _recorder(rt))
    background.start("consumer", consumer.run(), consumer.stop)
    wait_for(lambda: rt.applied_values(db) == ["fine"], what="the good event applied")
    wait_for(lambda: rt.run_async(rt.consumer_state, killable_nats.url, bus.stream_name(producer), name) == (0, 0),
             what="the unreadable bundle terminated")
    with db.read() as session:
        (row,) = session.execute(select(dead_letter_row)).all()
    assert row.event_id is None and row.subject == bundles.subject(producer) and row.deliveries == 1
    assert row.reason.startswith("unparseable event bundle")


def test_bundled_rows_written_while_nats_is_down_apply_once_after_it_returns(
        db, killable_nats, background, producer, rt) -> None:
    """The relay's retries after an outage may put a row on the stream twice (a publish the client
    buffered, then the same row in a bundle): applied once all the same, nothing lost."""
    relay = OutboxRelay(db, nats_url=killable_nats.url, service=producer, publish_timeout=1.0, poll_interval=0.2)
    name = f"outage-{producer}"
    consumer = EventConsumer(db, killable_nats.url, name, [producer], _recorder(rt))
    background.start("relay", relay.run(), relay.stop)
    background.start("consumer", consumer.run(), consumer.stop)
    first = [rt.make_event(producer, f"a{i:03d}") for i in range(30)]
    with db.unit_of_work() as uow:
        for event in first:
            uow.emit(event)
        uow.commit()
    wait_for(lambda: len(rt.applied_values(db)) == 30, timeout=30, what="the first bulk write applied")

    failures = _failures(producer)
    killable_nats.kill()
    during = [rt.make_event(producer, f"b{i:03d}") for i in range(150)]
    for event in during[:5]:
        with db.unit_of_work() as uow:
            uow.emit(event)
            uow.commit()
    with db.unit_of_work() as uow:
        for event in during[5:]:
            uow.emit(event)
        uow.commit()
    wait_for(lambda: _failures(producer) >= failures + 2, timeout=30, what="the relay retrying while NATS is down")
    killable_nats.start()
    wait_for(lambda: len(rt.applied_values(db)) >= 180, timeout=60, what="every row applied after the outage")
    wait_for(lambda: relay.backlog() == 0, timeout=30, what="the outbox drained")
    assert sorted(rt.applied_values(db)) == sorted([f"a{i:03d}" for i in range(30)] + [f"b{i:03d}" for i in range(150)])
    assert _inbox(db, name) == 180
