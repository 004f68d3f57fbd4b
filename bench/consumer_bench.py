"""Consumer benchmark: CPU per event, event lag and batch sizes of crmkit's EventConsumer.

    .venv/bin/python bench/consumer_bench.py                        # 200 events/s for 15 s, a burst of 2,000
    .venv/bin/python bench/consumer_bench.py --rate 100 --seconds 10
    .venv/bin/python bench/consumer_bench.py --consumer-file /tmp/old_consumer.py   # another EventConsumer
    .venv/bin/python bench/consumer_bench.py --opt linger=0.005     # a keyword for EventConsumer

A real nats-server, a SQLite database with the runtime tables and the consumer in a child process of
its own (as in a service: the consumer on an event-loop thread), with a handler that writes one row
per event. The parent publishes to JetStream at a fixed rate, then a burst, then stops and restarts
the consumer in the middle of a trickle. CPU is the child's utime + stime from /proc, so the
producer's and the bench's own work never count; lag is from just before the publish to just after
the commit that applied the event.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "libs" / "crmkit" / "src"))

from google.protobuf.wrappers_pb2 import StringValue  # noqa: E402
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, event  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from crm.common.v1.envelope_pb2 import EventEnvelope  # noqa: E402
from crmkit.events import new_event  # noqa: E402

PRODUCER, SINK = "benchsrc", "benchsink"
TARGET_CPU_US, TARGET_LAG_P99_MS = 300.0, 50.0
TICK = os.sysconf("SC_CLK_TCK")

tables = MetaData()
applied = Table(  # what the trivial handler does: one row per event
    "bench_applied", tables,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("sent", Float, nullable=False),
)


# --- the consumer process ---------------------------------------------------------------------

def load_consumer(path: str | None) -> Any:
    if not path:
        from crmkit.consumer import EventConsumer
        return EventConsumer
    spec = importlib.util.spec_from_file_location("bench_consumer_impl", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.EventConsumer


def child(args: argparse.Namespace) -> None:
    from crmkit.bus import LoopThread
    from crmkit.db import Database, UnitOfWork

    db = Database(args.db)
    records: list[tuple[str, float, int]] = []   # (phase, lag ms, size of the batch it was in)

    def handler(uow: UnitOfWork, env: EventEnvelope) -> None:
        body = StringValue()
        env.payload.Unpack(body)
        phase, sent = body.value.split("|")
        uow.session.execute(applied.insert(), {"event_id": env.event_id, "phase": phase, "sent": float(sent)})
        uow.session.info.setdefault("bench", []).append((phase, float(sent)))

    @event.listens_for(Session, "after_commit")
    def _committed(session: Session) -> None:
        batch = session.info.pop("bench", None)
        if batch:
            now = time.time()
            records.extend((phase, (now - sent) * 1000, len(batch)) for phase, sent in batch)

    options = {k: float(v) for k, v in (o.split("=", 1) for o in args.opt)}
    consumer = load_consumer(args.consumer_file)(db, args.nats, SINK, [PRODUCER], handler, **options)
    loop = LoopThread("bench-consumer").start()
    running = loop.submit(consumer.run())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    snapshot = Path(args.result).with_suffix(".threads")
    signal.signal(signal.SIGUSR1, lambda *_: snapshot.write_text(json.dumps(_own_threads())))
    stop.wait()
    consumer.stop()
    running.result(timeout=15)
    loop.stop()
    Path(args.result).write_text(json.dumps(records))


# --- the bench ----------------------------------------------------------------------------------

def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def thread_cpu(pid: int, snapshot: Path) -> Counter[str]:
    """CPU seconds by thread (the event loop, the executor's workers, the main thread), as the
    child reports them on SIGUSR1 (thread names are not visible from outside)."""
    snapshot.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while not snapshot.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    return Counter(json.loads(snapshot.read_text()))


def _own_threads() -> dict[str, float]:
    out: Counter[str] = Counter()
    for thread in threading.enumerate():
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
            out[thread.name.rstrip("0123456789_")] += (int(fields[11]) + int(fields[12])) / TICK
    return dict(out)


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def applied_count(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM bench_applied").fetchone()[0])


def wait_applied(db_path: Path, n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while applied_count(db_path) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {applied_count(db_path)} of {n} events applied")
        time.sleep(0.05)


class Publisher:
    """JetStream publishes from the parent, like an outbox relay (Nats-Msg-Id = event id)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def open(self) -> None:
        import nats

        from crmkit import bus

        self.nc = await nats.connect(self.url)
        self.js = self.nc.jetstream()
        await bus.ensure_stream(self.js, PRODUCER)

    def _event(self, phase: str) -> tuple[str, bytes, str]:
        env = new_event(producer=PRODUCER, event_type=f"crm.{PRODUCER}.thing.happened", aggregate_type="thing",
                        aggregate_id="t", aggregate_version=1,
                        payload=StringValue(value=f"{phase}|{time.time():.6f}"))
        return env.subject, env.data, env.event_id

    async def trickle(self, phase: str, rate: float, seconds: float, clump: int = 1) -> int:
        """`rate` events a second, `clump` at a time (an outbox relay publishes what committed
        since its last cycle together; 1 is the worst case for batching)."""
        n = int(rate * seconds) // clump * clump
        start = time.monotonic()
        for i in range(0, n, clump):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            futures = []
            for _ in range(clump):
                subject, data, event_id = self._event(phase)
                futures.append(await self.js.publish_async(subject, data, headers={"Nats-Msg-Id": event_id}))
            await asyncio.gather(*futures)
        return n

    async def burst(self, phase: str, n: int) -> int:
        futures = []
        for _ in range(n):
            subject, data, event_id = self._event(phase)
            futures.append(await self.js.publish_async(subject, data, headers={"Nats-Msg-Id": event_id}))
        await asyncio.gather(*futures)
        return n

    async def close(self) -> None:
        await self.nc.close()


def start_child(args: argparse.Namespace, db_url: str, nats_url: str, result: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, __file__, "--child", "--db", db_url, "--nats", nats_url, "--result", str(result)]
    if args.consumer_file:
        cmd += ["--consumer-file", args.consumer_file]
    for opt in args.opt:
        cmd += ["--opt", opt]
    return subprocess.Popen(cmd, env={**os.environ, "LOG_LEVEL": "WARNING"})


def stop_child(proc: subprocess.Popen[bytes], result: Path) -> list[tuple[str, float, int]]:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    return [tuple(r) for r in json.loads(result.read_text())]  # type: ignore[misc]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def batch_histogram(records: list[tuple[str, float, int]], phase: str) -> str:
    """How many events were applied in batches of each size bucket."""
    buckets = [(1, 1), (2, 3), (4, 7), (8, 15), (16, 63), (64, 199), (200, 10**9)]
    sizes = Counter(size for p, _, size in records if p == phase)
    total = sum(sizes.values()) or 1
    parts = []
    for lo, hi in buckets:
        n = sum(c for size, c in sizes.items() if lo <= size <= hi)
        if n:
            label = str(lo) if lo == hi else (f"{lo}+" if hi > 10**8 else f"{lo}-{hi}")
            parts.append(f"{label}: {100 * n / total:.0f}%")
    weighted = sum(size * c for size, c in sizes.items()) / total
    return f"mean batch (per event) {weighted:.1f}; " + ", ".join(parts)


def relay_bench(nats_url: str, tmp: Path, rate: float, seconds: float) -> dict[str, float]:
    """CPU of this process per event while a writer commits one event per transaction at `rate`
    and an OutboxRelay publishes them: with no relay (the writer's own share), with a mark
    transaction per relay cycle (mark_interval 0, as before) and with marks every 100 ms."""
    import resource

    from crmkit.bus import LoopThread
    from crmkit.db import Database
    from crmkit.outbox import OutboxRelay
    from crmkit.runtime_tables import create_runtime_tables
    from crmkit.testing import wait_for

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    out: dict[str, float] = {}
    for label, interval in (("writer alone", None), ("mark every cycle", 0.0), ("marks every 100 ms", 0.1)):
        db = Database(f"sqlite:///{tmp}/relay-{label.replace(' ', '-')}.db")
        create_runtime_tables(db.engine)
        relay = loop = None
        if interval is not None:
            relay = OutboxRelay(db, nats_url=nats_url, service="benchrelay", mark_interval=interval)
            loop = LoopThread("bench-relay").start()
            loop.submit(relay.run())
        n = int(rate * seconds)
        start, cpu0 = time.monotonic(), cpu()
        for i in range(n):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with db.unit_of_work() as uow:
                uow.emit(new_event(producer="benchrelay", event_type="crm.benchrelay.thing.happened",
                                   aggregate_type="thing", aggregate_id=str(i), aggregate_version=1,
                                   payload=StringValue(value="x" * 100)))
                uow.commit()
        if relay is not None:
            wait_for(lambda r=relay: r.backlog() == 0, 60, interval=0.01, what="outbox drained")
        out[label] = (cpu() - cpu0) / n * 1e6
        if relay is not None and loop is not None:
            relay.stop()
            time.sleep(0.6)
            loop.stop()
        db.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--clump", type=int, default=1, help="publish the trickle this many events at a time")
    parser.add_argument("--consumer-file", help="a module file whose EventConsumer to run instead of crmkit's")
    parser.add_argument("--opt", action="append", default=[], help="key=value keyword for EventConsumer")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--relay", action="store_true",
                        help="measure the outbox relay's marks instead (one commit per event at --rate)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--nats", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0

    from crmkit.db import Database
    from crmkit.runtime_tables import create_runtime_tables
    from crmkit.testing import NatsServer

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        nats_server = NatsServer(tmp).start()
        db_path = tmp / "sink.db"
        db_url = f"sqlite:///{db_path}"
        database = Database(db_url)
        with database.engine.begin() as conn:
            create_runtime_tables(conn)
            tables.create_all(conn)
        database.dispose()
        if args.relay:
            try:
                figures = relay_bench(nats_server.url, tmp, args.rate, args.seconds)
            finally:
                nats_server.stop()
            print(f"outbox relay, {args.rate:.0f} commits/s of one event each, CPU per event of the process:")
            for label, us in figures.items():
                extra = "" if label == "writer alone" else f"  (relay {us - figures['writer alone']:.0f} µs)"
                print(f"  {label:<22} {us:6.0f} µs{extra}")
            return 0
        pub = Publisher(nats_server.url)
        pub.run(pub.open())
        assert nats_server.proc is not None
        nats_pid = nats_server.proc.pid
        figures: dict[str, Any] = {"rate": args.rate, "clump": args.clump, "consumer": args.consumer_file or "crmkit", "opts": args.opt}
        records: list[tuple[str, float, int]] = []
        try:
            result = tmp / "records-1.json"
            proc = start_child(args, db_url, nats_server.url, result)
            total = pub.run(pub.trickle("warm", args.rate, 1.0))
            wait_applied(db_path, total)

            snapshot = result.with_suffix(".threads")
            wait_applied(db_path, total)
            threads0 = thread_cpu(proc.pid, snapshot)
            (user0, sys0), ncpu0, t0 = cpu_times(proc.pid), cpu_seconds(nats_pid), time.monotonic()
            n = pub.run(pub.trickle("trickle", args.rate, args.seconds, args.clump))
            total += n
            wait_applied(db_path, total)
            user1, sys1 = cpu_times(proc.pid)
            trickle_user, trickle_sys = (user1 - user0) / n * 1e6, (sys1 - sys0) / n * 1e6
            trickle_cpu = trickle_user + trickle_sys
            by_thread = {name: round((cpu - threads0[name]) / n * 1e6)
                         for name, cpu in thread_cpu(proc.pid, snapshot).items()}
            trickle_nats = (cpu_seconds(nats_pid) - ncpu0) / n * 1e6
            trickle_wall = time.monotonic() - t0

            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            n = pub.run(pub.burst("burst", args.burst))
            total += n
            wait_applied(db_path, total)
            burst_cpu = (cpu_seconds(proc.pid) - cpu0) / n * 1e6
            burst_s = time.monotonic() - t0

            # A graceful stop and a restart while events flow: nothing may wait out ack_wait (30 s).
            sent: list[int] = []
            flow = threading.Thread(target=lambda: sent.append(pub.run(pub.trickle("restart", args.rate, 4.0))))
            flow.start()
            time.sleep(1.0)
            records += stop_child(proc, result)
            result = tmp / "records-2.json"
            proc = start_child(args, db_url, nats_server.url, result)
            flow.join()
            total += sent[0]
            wait_applied(db_path, total)
            records += stop_child(proc, result)
        finally:
            pub.run(pub.close())
            if proc.poll() is None:
                proc.kill()
            nats_server.stop()

    def lags(phase: str) -> list[float]:
        return [lag for p, lag, _ in records if p == phase]

    trickle_lags, burst_lags, restart_lags = lags("trickle"), lags("burst"), lags("restart")
    figures.update(
        trickle_cpu_us=round(trickle_cpu), trickle_sys_cpu_us=round(trickle_sys), trickle_cpu_us_by_thread=by_thread,
        trickle_nats_cpu_us=round(trickle_nats),
        trickle_lag_p50_ms=round(pct(trickle_lags, 50), 1), trickle_lag_p99_ms=round(pct(trickle_lags, 99), 1),
        trickle_lag_max_ms=round(max(trickle_lags), 1),
        burst_cpu_us=round(burst_cpu), burst_drain_s=round(burst_s, 2),
        burst_lag_p99_ms=round(pct(burst_lags, 99), 1),
        restart_lag_max_ms=round(max(restart_lags), 1),
    )
    print(f"consumer: {figures['consumer']} {' '.join(args.opt)}")
    print(f"  {args.rate:.0f} events/s ({args.clump} at a time) for {args.seconds:.0f} s ({trickle_wall:.1f} s until all applied)")
    print(f"    CPU per event, consumer process  {trickle_cpu:7.0f} µs   (target ≤ {TARGET_CPU_US:.0f}; "
          f"user {trickle_user:.0f}, system {trickle_sys:.0f})")
    print("    ... by thread                    " + ", ".join(f"{k} {v}" for k, v in by_thread.items() if v))
    print(f"    CPU per event, nats-server       {trickle_nats:7.0f} µs   (publishing included)")
    print(f"    lag p50 / p99 / max              {pct(trickle_lags, 50):5.1f} / {pct(trickle_lags, 99):5.1f} / "
          f"{max(trickle_lags):5.1f} ms   (target p99 ≤ {TARGET_LAG_P99_MS:.0f})")
    print(f"    batches                          {batch_histogram(records, 'trickle')}")
    print(f"  burst of {args.burst}")
    print(f"    CPU per event, consumer process  {burst_cpu:7.0f} µs")
    print(f"    drained in                       {burst_s:7.2f} s   (lag p99 {pct(burst_lags, 99):.0f} ms)")
    print(f"    batches                          {batch_histogram(records, 'burst')}")
    print("  4 s of events, the consumer stopped after 1 s and started again (a process start takes ~1 s)")
    print(f"    lag p99 / max                    {pct(restart_lags, 99):5.1f} / {max(restart_lags):5.1f} ms"
          "   (ack_wait is 30 s)")
    print(f"    batches                          {batch_histogram(records, 'restart')}")
    print(f"  load average {os.getloadavg()[0]:.2f} (another process on the cores moves the figures)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
