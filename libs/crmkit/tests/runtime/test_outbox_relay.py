"""The outbox relay against a real nats-server that crashes: nothing committed is lost, nothing
reaches the stream twice."""
from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update

from crmkit import bus
from crmkit.outbox import OutboxRelay
from crmkit.runtime_tables import outbox_row
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration


def _write(db, events) -> None:
    with db.unit_of_work() as uow:
        for event in events:
            uow.emit(event)
        uow.commit()


def _failures(service: str) -> float:
    return REGISTRY.get_sample_value("crm_outbox_publish_failures_total", {"service": service}) or 0.0


def test_relay_keeps_every_row_while_nats_is_down_and_publishes_each_once_after(
        db, killable_nats, background, producer, rt) -> None:
    # One message per row: the client flushes a publish it buffered while NATS was away after the
    # reconnect, so a row the relay then sends again inside a bundle reaches the stream twice (two
    # messages, one event id: the consumers' inbox applies it once, test_bundles.py).
    relay = OutboxRelay(db, nats_url=killable_nats.url, service=producer, publish_timeout=1.0, poll_interval=0.2,
                        bundle_events=1)
    background.start("relay", relay.run(), relay.stop)
    before_crash = [rt.make_event(producer, f"before-{i}") for i in range(5)]
    _write(db, before_crash)
    wait_for(lambda: relay.backlog() == 0, timeout=20, what="first events published")

    killable_nats.kill()
    during = [rt.make_event(producer, f"during-{i}") for i in range(20)]
    for event in during[:10]:
        _write(db, [event])                 # one transaction each
    _write(db, during[10:])                 # and ten in one transaction
    failures = _failures(producer)
    wait_for(lambda: _failures(producer) >= failures + 2, timeout=30, what="the relay retrying while NATS is down")
    assert relay.backlog() == 20            # every row kept, none marked published

    killable_nats.start()                   # same port, same JetStream store
    wait_for(lambda: relay.backlog() == 0, timeout=30, what="outbox drained after NATS came back")

    emitted = before_crash + during
    stored = rt.run_async(rt.read_stream, killable_nats.url, bus.stream_name(producer))
    assert len(stored) == len(emitted)
    assert sorted(env.event_id for _, env in stored) == sorted(e.event_id for e in emitted)
    assert rt.message_ids_hold(stored)
    assert {rt.value_of(env) for _, env in stored} == {f"before-{i}" for i in range(5)} | {
        f"during-{i}" for i in range(20)}


def test_rows_published_twice_are_stored_once(db, killable_nats, background, producer, rt) -> None:
    """Two relay replicas over one outbox (or a crash between publish and mark) send rows
    again; JetStream drops the copies by Nats-Msg-Id. (Bundles the two would compose differently
    are not copies to JetStream: the consumers' inbox drops those, see test_consumer.py.)"""
    events = [rt.make_event(producer, f"e{i}") for i in range(30)]
    _write(db, events)
    first = OutboxRelay(db, nats_url=killable_nats.url, service=producer, batch_size=7, bundle_events=1)
    second = OutboxRelay(db, nats_url=killable_nats.url, service=producer, batch_size=11, bundle_events=1)
    background.start("relay-a", first.run(), first.stop)
    background.start("relay-b", second.run(), second.stop)
    wait_for(lambda: first.backlog() == 0, timeout=20, what="outbox drained")
    # and a row that was published but not marked (crash in between) is sent once more
    with db.unit_of_work() as uow:
        uow.session.execute(update(outbox_row).where(outbox_row.c.event_id == events[3].event_id)
                            .values(published_at=None))
        uow.commit()
    db.notify_committed()
    wait_for(lambda: first.backlog() == 0, timeout=20, what="re-sent row marked")
    stored = rt.run_async(rt.read_stream, killable_nats.url, bus.stream_name(producer))
    assert len(stored) == len(events)
    assert sorted(env.event_id for _, env in stored) == sorted(e.event_id for e in events)


def test_the_local_read_model_is_fed_before_the_rows_are_marked(db, killable_nats, background, producer,
                                                                 rt) -> None:
    """A relay killed after feeding its read model but before marking leaves the rows pending
    (they are relayed and fed again); the other order would leave a shared index without them."""
    from sqlalchemy import select

    from crmkit.runtime_tables import outbox_row

    unmarked_when_fed: list[bool] = []

    def read_model(published: list[tuple[str, bytes]]) -> None:
        with db.read() as session:
            marks = session.execute(select(outbox_row.c.published_at)).scalars().all()
        unmarked_when_fed.append(bool(marks) and all(m is None for m in marks))

    relay = OutboxRelay(db, nats_url=killable_nats.url, service=producer, on_published=read_model)
    background.start("relay", relay.run(), relay.stop)
    _write(db, [rt.make_event(producer, "only")])
    wait_for(lambda: relay.backlog() == 0, timeout=20, what="the row published and marked")
    assert unmarked_when_fed == [True]


def test_a_local_read_model_sees_each_published_row_and_its_failure_holds_nothing_up(
        db, killable_nats, background, producer, rt) -> None:
    """`on_published` gets (subject, envelope) of every row once JetStream acknowledged it; when
    it raises, publishing goes on (the read model owns its retries)."""
    from crmkit.events import parse_envelope

    seen: list[str] = []
    calls = [0]

    def read_model(published: list[tuple[str, bytes]]) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("index briefly unavailable")
        seen.extend(rt.value_of(parse_envelope(payload)) for subject, payload in published
                    if subject.startswith(f"crm.{producer}."))

    relay = OutboxRelay(db, nats_url=killable_nats.url, service=producer, on_published=read_model)
    background.start("relay", relay.run(), relay.stop)
    _write(db, [rt.make_event(producer, "first")])        # its read-model call fails
    wait_for(lambda: relay.backlog() == 0, timeout=20, what="the first row published anyway")
    _write(db, [rt.make_event(producer, f"v{i}") for i in range(5)])
    wait_for(lambda: len(seen) == 5, timeout=20, what="the read model fed the next rows")
    assert seen == [f"v{i}" for i in range(5)]
    assert relay.backlog() == 0
