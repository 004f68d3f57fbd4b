"""The event rows of `make bench`: the lag from an acknowledged create to the reporting read
model at a paced write rate, and the outbox relay's drain rate, pipelined vs one publish at a time."""
from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import uuid

import requests

from crm_devtools.devrun import Suite
from crmkit.testing import wait_for


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def measure_event_lag(suite: Suite, token: str, rate: int = 200, seconds: int = 8) -> tuple[float, float, int]:
    """Writers pace creates at `rate`/s through the gateway and note when each was acknowledged;
    reporting stamps when its read model first held each customer (inside the applying
    transaction). Lag = stamp - ack. Nothing polls the service under measurement."""
    from datetime import datetime

    from sqlalchemy import create_engine, text

    tag = f"lag-{uuid.uuid4().hex[:8]}"
    acks: dict[str, float] = {}
    lock = threading.Lock()
    n_writers = 16  # enough in flight to hold the rate even when a create takes 50 ms
    per_writer = rate * seconds // n_writers

    def writer(w: int) -> None:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        start = time.perf_counter()
        for i in range(per_writer):
            delay = start + i * n_writers / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            r = s.post(f"{suite.gateway_url}/api/v1/contacts?allow_duplicate=true",
                       json={"name": f"Lag {w}-{i}", "source": "website", "tags": [tag]}, timeout=10)
            if r.status_code == 201:
                with lock:
                    acks[r.json()["id"]] = time.time()

    begin = time.perf_counter()
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(n_writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    achieved = len(acks) / (time.perf_counter() - begin)
    engine = create_engine(suite.database_url("reporting"))
    stamps: dict[str, datetime] = {}

    def all_seen() -> bool:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT f.contact_id, f.first_seen_at FROM customer_facts f JOIN customer_tags t"
                " ON t.contact_id = f.contact_id WHERE t.tag = :tag"), {"tag": tag}).all()
        stamps.update({r[0]: r[1] for r in rows})
        return len(stamps) >= len(acks)

    wait_for(all_seen, 60, interval=0.5, what="reporting to hold every acknowledged write")
    engine.dispose()
    lags = []
    for contact_id, acked in acks.items():
        seen = stamps[contact_id]
        seen_ts = (seen if isinstance(seen, datetime) else datetime.fromisoformat(str(seen)))
        if seen_ts.tzinfo is None:
            from datetime import UTC

            seen_ts = seen_ts.replace(tzinfo=UTC)
        # may be slightly negative: reporting can apply the event before the HTTP answer arrives
        lags.append(max(0.0, seen_ts.timestamp() - acked) * 1000)
    print(f"  (lag run: {len(acks)} writes at {achieved:.0f}/s achieved)")
    return percentile(lags, 50), percentile(lags, 99), len(acks)


def measure_relay(nats_url: str, events: int = 20000) -> tuple[float, float]:
    """Pipelined relay drain rate vs. one awaited publish at a time, same payloads."""
    import nats as nats_client

    from crm.common.v1.types_pb2 import Money
    from crmkit.bus import LoopThread
    from crmkit.db import Database
    from crmkit.events import new_event
    from crmkit.outbox import OutboxRelay
    from crmkit.runtime_tables import create_runtime_tables

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/relay.db")
        create_runtime_tables(db.engine)
        with db.unit_of_work() as uow:
            for i in range(events):
                uow.emit(new_event(producer="benchrelay", event_type="crm.benchrelay.thing.happened",
                                   aggregate_type="thing", aggregate_id=str(i), aggregate_version=1,
                                   payload=Money(currency_code="CNY", amount=str(i))))
            uow.commit()
        relay = OutboxRelay(db, nats_url=nats_url, service="benchrelay", batch_size=500)
        loop = LoopThread("bench-relay").start()
        start = time.perf_counter()
        loop.submit(relay.run())
        wait_for(lambda: relay.backlog() == 0, 120, interval=0.01, what="outbox drained")
        pipelined = events / (time.perf_counter() - start)
        relay.stop()
        time.sleep(0.6)
        loop.stop()
        db.dispose()

    async def sequential(n: int = 3000) -> float:
        nc = await nats_client.connect(nats_url)
        js = nc.jetstream()
        begin = time.perf_counter()
        for i in range(n):
            await js.publish("crm.benchrelay.thing.seq", b"x" * 120, headers={"Nats-Msg-Id": f"seq-{i}-{begin}"})
        elapsed = time.perf_counter() - begin
        await nc.close()
        return n / elapsed

    return pipelined, asyncio.run(sequential())
