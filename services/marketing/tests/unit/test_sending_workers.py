"""Several sender workers on one wave (MARKETING_SEND_WORKERS): each mails its own slice, together
they mail every recipient exactly once, and a worker that dies leaves its slice to whoever takes
its lease over, while the others finish theirs without waiting."""
from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing import bootstrap, jobs
from crm_marketing.usecases import waves
from crmkit.testing import in_process_settings

from .conftest import fakes
from .test_usecases_sending import MKT, World


@pytest.fixture
def world(store: Any, contacts: Any, mailer: Any) -> World:
    return World(store, contacts, mailer)


def slice_sender(world: World, relay: Any, index: int, parts: int = 2) -> jobs.Sender:
    return world.sender(relay, jobs.SendOptions(rate=1_000_000, batch=3, part=(index, parts)))


def addresses(relay: Any) -> set[str]:
    found = (re.search(rb"^To: .*<([^>]+)>", d, re.MULTILINE) for d in relay.delivered)
    return {m.group(1).decode() for m in found if m}


def status(world: World, wave: pb.SendWave) -> str:
    return world.store.read(lambda s: waves.get(s, principal=MKT, wave_id=wave.id)).status


def test_two_workers_on_one_wave_mail_every_recipient_exactly_once(world: World) -> None:
    for i in range(11):
        world.store.contact(f"客户{i}", f"c{i}@example.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    relays = [fakes.FakeRounds(connections=2), fakes.FakeRounds(connections=2)]
    senders = [slice_sender(world, relays[i], i) for i in range(2)]
    threads = [threading.Thread(target=s.run_once, args=(world.clock(),)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ids = relays[0].message_ids() + relays[1].message_ids()
    assert len(ids) == 11 and len(set(ids)) == 11  # everyone once, nobody twice
    assert {len(relays[0].delivered), len(relays[1].delivered)} == {5, 6}  # each worker its own half
    assert not addresses(relays[0]) & addresses(relays[1])
    counts = world.counts(wave)
    assert (counts.delivered, counts.pending) == (11, 0)
    assert status(world, wave) == "completed"
    assert world.store.events().count("crm.marketing.email.sent") == 11


def test_a_killed_worker_s_slice_is_finished_by_the_worker_that_takes_its_lease_over(world: World) -> None:
    for i in range(10):
        world.store.contact(f"客户{i}", f"c{i}@example.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    dying = fakes.FakeRounds(connections=2)
    dying.crash_round = 2  # its first two mails taken, the answers lost; the 3rd's DATA never ended
    with pytest.raises(fakes.Crash):
        slice_sender(world, dying, 0).run_once(world.clock())
    other = fakes.FakeRounds(connections=2)
    assert slice_sender(world, other, 1).run_once(world.clock()) == 5  # its slice, without waiting
    assert status(world, wave) == "sending"  # the dead worker's claims are still live
    world.clock.advance(seconds=61)
    heir = fakes.FakeRounds(connections=2)  # the replica that took the lease of slice 0 over
    slice_sender(world, heir, 0).run_once(world.clock())
    ids = dying.message_ids() + other.message_ids() + heir.message_ids()
    assert len(ids) == 10 and len(set(ids)) == 10  # everyone once, nobody twice
    assert not addresses(heir) & addresses(dying) and not addresses(heir) & addresses(other)
    assert (world.counts(wave).delivered, status(world, wave)) == (10, "completed")
    assert world.store.events().count("crm.marketing.email.sent") == 10


def test_each_worker_has_its_own_lease_and_relay_and_the_rate_stays_the_service_s(store: Any, tmp_path: Any) -> None:
    settings = in_process_settings("marketing", store.db.url, "nats://127.0.0.1:1", tmp_path, "x" * 32)
    relays: list[Any] = []

    def relay(_: Any) -> Any:
        relays.append(fakes.FakeRounds())
        return relays[-1]

    parts = bootstrap.spec(mailer=relay, contacts=lambda _: fakes.FakeContactsPort(), sales=lambda _: None, env={"MARKETING_SEND_WORKERS": "3", "MARKETING_SEND_RATE": "900",
                                              "MARKETING_TOKEN_SECRET": "t" * 32}).compose(store.db, settings)
    senders = [w for w in parts.workers if isinstance(w, jobs.SendWorker)]
    assert [w.name for w in senders] == ["marketing-sender-0", "marketing-sender-1", "marketing-sender-2"]
    assert [w.sender.options.part for w in senders] == [(0, 3), (1, 3), (2, 3)]
    assert sum(w.sender.options.rate for w in senders) == pytest.approx(900)  # a third each, wherever they run
    assert len({id(w.sender.mailer) for w in senders}) == 3 == len(relays)
