"""A contact created through the gateway reaches reporting, exactly once, even when nats-server
or the reporting consumer is killed while writes continue."""
from __future__ import annotations

import threading
import time

import pytest

from crmkit.testing import wait_for
from tests.e2e.conftest import count_for, new_contact

pytestmark = pytest.mark.e2e


def test_created_contact_shows_up_in_reporting_counts(api, tag):
    rep, admin = api("rep.south.1"), api("admin")
    before = admin.counts()
    r = rep.post("/contacts", json=new_contact("深圳测试客户", source="ads", level="vip", tags=[tag]))
    assert r.status_code == 201, r.text
    assert r.json()["region"] == "south" and r.json()["owner_id"] == "rep.south.1"
    wait_for(lambda: count_for(admin.counts(), "by_tag", tag) == 1, 20, what="reporting to count the contact")
    after = admin.counts()
    assert after["total"] == before["total"] + 1
    assert count_for(after, "by_source", "ads") == count_for(before, "by_source", "ads") + 1
    assert count_for(after, "by_level", "vip") == count_for(before, "by_level", "vip") + 1
    assert count_for(after, "by_region", "south") == count_for(before, "by_region", "south") + 1
    today = r.json()["created_at"][:10]
    assert any(d["day"] == today and int(d["count"]) >= 1 for d in after["new_per_day"])


def _write_continuously(rep, tag: str, stop: threading.Event, acked: list[str], failed: list[int]) -> None:
    while not stop.is_set():
        r = rep.post("/contacts", json=new_contact("Chaos 客户", tags=[tag]))
        if r.status_code == 201:
            acked.append(r.json()["id"])
        else:
            failed.append(r.status_code)
        time.sleep(0.01)


def test_nats_killed_and_restarted_while_writing_every_ack_counted_once(suite, api, tag):
    rep, admin = api("rep.north.1"), api("admin")
    stop, acked, failed = threading.Event(), [], []
    writer = threading.Thread(target=_write_continuously, args=(rep, tag, stop, acked, failed))
    writer.start()
    try:
        wait_for(lambda: len(acked) >= 20, 20, what="writes before the outage")
        suite.nats.kill()
        during = len(acked)
        time.sleep(2.0)  # writes keep being acknowledged: they wait in the outbox
        assert len(acked) > during, "writes must not stop while NATS is down"
        suite.nats.start()
        time.sleep(2.0)
    finally:
        stop.set()
        writer.join(30)
    assert not failed, f"writes failed during the outage: {failed[:5]}"
    wait_for(lambda: count_for(admin.counts(), "by_tag", tag) >= len(acked), 60, what="reporting to catch up")
    time.sleep(1.0)  # any duplicate delivery would land now
    assert count_for(admin.counts(), "by_tag", tag) == len(set(acked))


def test_reporting_consumer_restarted_mid_stream_does_not_count_twice(suite, api, tag):
    rep, admin = api("rep.north.2"), api("admin")
    stop, acked, failed = threading.Event(), [], []
    writer = threading.Thread(target=_write_continuously, args=(rep, tag, stop, acked, failed))
    writer.start()
    try:
        wait_for(lambda: len(acked) >= 20, 20, what="writes before the restart")
        suite.procs["reporting"].kill()  # SIGKILL: no chance to ack what it was processing
        time.sleep(1.0)
        suite.start_service("reporting")
        time.sleep(1.0)
    finally:
        stop.set()
        writer.join(30)
    assert not failed
    wait_for(lambda: count_for(admin.counts(), "by_tag", tag) >= len(acked), 60, what="reporting to catch up")
    time.sleep(1.0)
    assert count_for(admin.counts(), "by_tag", tag) == len(acked)
