"""Marketing benchmark (issue 10): the send rate of one wave into a local SMTP sink (target
>= 1,000 messages/s, memory flat) and the audience evaluation time at 1M contacts.

    .venv/bin/python bench/marketing_bench.py                       # 100k: embedded, then PostgreSQL with 1 and 2 sender processes
    .venv/bin/python bench/marketing_bench.py --recipients 20000 --pg --processes 1,2 --freeze-contacts 0
    .venv/bin/python bench/marketing_bench.py --recipients 20000 --shapes embedded --workers 2 --freeze-contacts 0
    .venv/bin/python bench/marketing_bench.py --recipients 5000 --audience list --log-batch 1

Without the gateway: a migrated marketing database whose contact projection is filled in bulk
(timed apart), a campaign and a template through the use cases, a wave frozen and started through
usecases.waves (what CreateSendWave / StartSendWave run), and the service's own sender (jobs.Sender:
claim, render, hand over, record) with ports.SmtpRounds against `python -m crmkit.smtp_sink` in its
own process. Two shapes (`--shapes`, default both):
- embedded: SQLite, one process, `--workers` senders on threads, each its slice of the wave, as
  MARKETING_SEND_WORKERS runs them in one replica;
- pg, the production shape: PostgreSQL, `--processes` sender processes (this file, `--sender-process`),
  each slice `marketing-sender-<i>` in its own process as replicas run them.
Each wave prints messages/s, the CPU per mail of every process (senders, PostgreSQL's backends, the
sink) and the senders' RSS over the wave. The outbox relay is not running (its rows stay in the
outbox): in a replica it publishes each email.sent event to NATS on the same cores.
The audience evaluation at scale: marketing's own freeze of a segment + tag - excluded-tag audience
over `--freeze-contacts` (default 1M, BENCH_FREEZE_CONTACTS) contacts, the projection seeded by bulk
insert (a seeding shortcut, labelled as such), and contacts' segments bench
(services/contacts/bench/segments_bench.py) for the segment's own evaluation, run as a subprocess."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).parent))
from procs import cpu_seconds, rss_mb  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from crm.contacts.v1 import contacts_pb2 as cpb  # noqa: E402
from crm.marketing.v1 import marketing_pb2 as pb  # noqa: E402
from crm_marketing import bootstrap, jobs  # noqa: E402
from crm_marketing.ports import SmtpRounds  # noqa: E402
from crm_marketing.rules.campaigns import MAX_AUDIENCE_ITEMS  # noqa: E402
from crm_marketing.rules.eligibility import ConsentState  # noqa: E402
from crm_marketing.rules.tracking import LinkMaker, tracking_key  # noqa: E402
from crm_marketing.store import sending as send_store  # noqa: E402
from crm_marketing.store.projection import consents_json  # noqa: E402
from crm_marketing.tables import audience_contacts, contact_tags  # noqa: E402
from crm_marketing.usecases import campaigns, templates, waves  # noqa: E402
from crmkit.auth import Principal  # noqa: E402
from crmkit.db import Database, UnitOfWork  # noqa: E402
from crmkit.mail import SmtpMailer  # noqa: E402
from crmkit.migrations import upgrade  # noqa: E402
from crmkit.testing import (  # noqa: E402
    free_port,
    fresh_postgres_database,
    migrated_database,
    port_open,
    postgres_reachable,
    wait_for,
)

REPO = Path(__file__).resolve().parents[1]
SEGMENTS_BENCH = REPO / "services" / "contacts" / "bench" / "segments_bench.py"
MKT = Principal("mkt.bench", ("marketing",), "marketing", "east", "bench")
SENDER = "Shuniu 市场部 <marketing@shuniu.example>"
TAG = "bench-wave"
TARGET_RATE = 1000.0
NOW = datetime.now(UTC)
R = TypeVar("R")


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def fill_projection(db: Database, count: int, batch: int = 5000) -> None:
    """`count` contacts with consent for marketing_email and the wave's tag, as the CONTACTS
    stream would have projected them (bulk: projecting one at a time would dominate the run)."""
    consents = consents_json({"marketing_email": ConsentState(True, NOW)})
    for start in range(0, count, batch):
        ids = [f"c{i:08d}" for i in range(start, min(count, start + batch))]
        rows = [{"contact_id": cid, "name": f"客户 {cid}", "email": f"{cid}@bench.example", "language": "zh-CN",
                 "company": "", "title": "", "city": "", "province": "", "owner_id": "", "team": "", "region": "",
                 "custom": "{}", "consents": consents, "suppressed": "", "version": 1, "updated_at": NOW}
                for cid in ids]
        with db.unit_of_work() as uow:
            conn = uow.session.connection()
            conn.execute(insert(audience_contacts), rows)
            conn.execute(insert(contact_tags), [{"contact_id": cid, "tag": TAG} for cid in ids])
            uow.commit()


def write(db: Database, fn: Callable[[UnitOfWork], R]) -> R:
    with db.unit_of_work() as uow:
        result = fn(uow)
        uow.commit()
        return result


def freeze(db: Database, count: int, audience: str) -> pb.SendWave:
    """A campaign, a template and a started wave, through the use cases the servicer calls."""
    campaign = write(db, lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
        name="Bench wave", type="email")))
    template = write(db, lambda uow: templates.create(uow, principal=MKT, now=NOW, template=pb.Template(
        name="bench", contents=[pb.TemplateContent(
            language="zh-CN", subject="{{ name }}，您好", text="详情 https://shop.example/expo",
            html='<p>{{ name }}</p><a href="https://shop.example/expo">展会</a>'
                 '<a href="{{ unsubscribe_url }}">退订</a>')])))
    chosen = (pb.Audience(tags=[TAG]) if audience == "tag"
              else pb.Audience(contact_ids=[f"c{i:08d}" for i in range(count)]))
    request = pb.SendWave(campaign_id=campaign.id, template_id=template.id, audience=chosen)
    with db.read() as session:
        members = waves.prepare(session, None, principal=MKT, wave=request)
    created = write(db, lambda uow: waves.create(uow, principal=MKT, now=NOW, wave=request, members=members,
                                                 default_sender=SENDER))
    return write(db, lambda uow: waves.start(uow, principal=MKT, now=NOW, wave_id=created.id,
                                             expected_version=created.version, mail_enabled=True))


def send(db: Database, url: str, log_batch: int, count: int, connections: int, profile: bool,
         workers: int = 1) -> tuple[float, int, list[tuple[int, float]]]:
    """The wave through the service's sender (`workers` of them on threads, each its slice of the
    wave and its own connections, as MARKETING_SEND_WORKERS runs them in one replica); seconds,
    mails handed over, (sent, RSS MB) samples."""
    links = bench_links()
    handed = [0]
    counted = threading.Lock()

    def counted_mailer() -> Any:
        mailer: Any = SmtpRounds.from_url(url, connections) if connections else SmtpMailer.from_url(url)
        if connections:
            real_exchange = mailer.exchange

            def counting_rounds(mails: Any) -> tuple[list[Any], list[Any]]:
                answers, errors = real_exchange(mails)
                with counted:
                    handed[0] += sum(1 for a in answers if a is None)
                return answers, errors

            mailer.exchange = counting_rounds  # count as we go, for the memory samples
        else:
            real_send = mailer.send

            def counting(mail: Any) -> None:
                real_send(mail)
                with counted:
                    handed[0] += 1

            mailer.send = counting
        return mailer

    senders = [jobs.Sender(db, counted_mailer(), links, lambda: datetime.now(UTC),
                           jobs.SendOptions(rate=1_000_000 / workers, flush_every=log_batch, part=(i, workers)))
               for i in range(workers)]
    samples: list[tuple[int, float]] = [(0, rss_mb(os.getpid()))]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            samples.append((handed[0], rss_mb(os.getpid())))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    profiler = None
    if profile:  # where the sender's time goes (pyinstrument, a tooling dependency)
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.001)
        profiler.start()
    totals = [0] * workers

    def drive(i: int) -> None:
        while sum(totals) < count:  # one run_once mails what it can claim; again in case a claim was released
            n = senders[i].run_once(datetime.now(UTC))
            totals[i] += n
            if not n:
                break

    started = time.perf_counter()
    threads = [threading.Thread(target=drive, args=(i,), name=f"bench-sender-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    total = sum(totals)
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, show_all=False), flush=True)
    done.set()
    sampler.join()
    samples.append((handed[0], rss_mb(os.getpid())))
    for sender in senders:
        sender.close()
        sender.mailer.close()
    return seconds, total, samples


class SegmentMembers:
    """The ContactsPort of the freeze bench: a segment's members as ListSegmentMembers answers
    them, pages of 1,000 snapshots with email and consent, made as they are asked for (the bench
    holds no more of a segment than the service would); contacts' own evaluation and paging of a
    segment at scale is its segments bench (below)."""

    def __init__(self, members: dict[str, range]) -> None:
        self.members = members

    def segment_pages(self, segment_id: str) -> Iterator[list[cpb.Contact]]:
        numbers = self.members[segment_id]
        for start in range(0, len(numbers), 1000):
            yield [snapshot(i) for i in numbers[start:start + 1000]]


class PeakRss:
    """This process's peak RSS (MB) while the block runs, sampled every 0.2 s."""

    def __init__(self) -> None:
        self.start = self.peak = rss_mb(os.getpid())
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, rss_mb(os.getpid()))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(os.getpid()))


def snapshot(i: int) -> cpb.Contact:
    contact = cpb.Contact(id=f"c{i:08d}", name=f"客户 {i}", version=2, language="zh-CN",
                          emails=[cpb.Email(address=f"c{i:08d}@bench.example")],
                          consents=[cpb.Consent(purpose="marketing_email", granted=True)], tags=[TAG])
    contact.consents[0].at.FromDatetime(NOW)
    return contact


def freeze_at_scale(n: int) -> None:
    """Audience evaluation and freeze at `n` contacts: a segment (members from contacts) + a tag
    - an excluded tag, through waves.prepare / evaluate_audience / waves.create as the servicer
    runs them."""
    segment_share, tag_share, excluded_share = 0.2, 0.3, 0.05
    print(f"\naudience freeze at {n:,} contacts (SQLite): segment ({segment_share:.0%} of them) + tag "
          f"({tag_share:.0%}) - excluded tag ({excluded_share:.0%})", flush=True)
    with tempfile.TemporaryDirectory(prefix="marketing-audience-") as tmp:
        db = migrated_database(bootstrap.MIGRATIONS, Path(tmp))
        started = time.perf_counter()
        # SEEDING SHORTCUT (bench only): the projection and its tag rows inserted in bulk, as if the
        # CONTACTS stream had projected a million snapshots one by one (hours through the API).
        consents = consents_json({"marketing_email": ConsentState(True, NOW)})
        segment_every, excluded_every = round(1 / segment_share), round(1 / excluded_share)
        for start in range(0, n, 20_000):
            ids = range(start, min(n, start + 20_000))
            rows = [{"contact_id": f"c{i:08d}", "name": f"客户 {i}", "email": f"c{i:08d}@bench.example",
                     "language": "zh-CN", "company": "", "title": "", "city": "", "province": "", "owner_id": "",
                     "team": "", "region": "", "custom": "{}", "consents": consents, "suppressed": "", "version": 1,
                     "updated_at": NOW} for i in ids]
            tags = [{"contact_id": f"c{i:08d}", "tag": "vip"} for i in ids if (i * 7919) % 10 < tag_share * 10]
            tags += [{"contact_id": f"c{i:08d}", "tag": "churned"} for i in ids if i % excluded_every == 3]
            with db.unit_of_work() as uow:
                conn = uow.session.connection()
                conn.execute(insert(audience_contacts), rows)
                conn.execute(insert(contact_tags), tags)
                uow.commit()
        members = {"seg-bench": range(0, n, segment_every)}
        seeded = time.perf_counter() - started
        contacts = SegmentMembers(members)
        campaign = write(db, lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="Audience bench", type="email")))
        template = write(db, lambda uow: templates.create(uow, principal=MKT, now=NOW, template=pb.Template(
            name="audience", contents=[pb.TemplateContent(language="zh-CN", subject="{{ name }}", text="hi")])))
        audience = pb.Audience(segment_ids=["seg-bench"], tags=["vip"], exclude_tags=["churned"])
        request = pb.SendWave(campaign_id=campaign.id, template_id=template.id, audience=audience)
        def project(page: Sequence[cpb.Contact]) -> None:  # what the servicer's projector does
            write(db, lambda uow: waves.project_page(uow, page, NOW))

        with PeakRss() as rss:
            started, cpu = time.perf_counter(), time.process_time()
            with db.read() as session:
                prepared = waves.prepare(session, contacts, principal=MKT, wave=request, project=project)
                count = len(waves.evaluate_audience(session, audience, prepared))
            count_s, count_cpu = time.perf_counter() - started, time.process_time() - cpu
            started, cpu = time.perf_counter(), time.process_time()
            with db.read() as session:
                prepared = waves.prepare(session, contacts, principal=MKT, wave=request, project=project)
            created = write(db, lambda uow: waves.create(uow, principal=MKT, now=NOW, wave=request,
                                                         members=prepared, default_sender=SENDER))
            freeze_s, freeze_cpu = time.perf_counter() - started, time.process_time() - cpu
        rss0, rss1 = rss.start, rss.peak
        with db.read() as session:
            stored = send_store.counts(session, [created.id]).recipients
    print(f"  seeding (bulk insert, shortcut) {seeded:6.1f} s; {len(members['seg-bench']):,} segment members "
          "(listed a page at a time, each page projected as it comes)")
    print(f"  evaluate (count)     {count_s:6.1f} s (CPU {count_cpu:.1f} s)   {count:,} recipients")
    print(f"  freeze (waves.create: segment snapshots projected, evaluate, recipient rows) {freeze_s:6.1f} s "
          f"(CPU {freeze_cpu:.1f} s)   {stored:,} rows   RSS {rss0:.0f} MB before, peak {rss1:.0f} MB   "
          f"load {load()}", flush=True)


def audience_at_scale(contacts: int, timeout: float) -> None:
    if not SEGMENTS_BENCH.exists():
        print("  (services/contacts/bench/segments_bench.py not found)")
        return
    print(f"\ncontacts' segments bench at {contacts:,} contacts (SQLite, admin and regional manager):", flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(SEGMENTS_BENCH), "--contacts", str(contacts)],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"  did not finish within {timeout:.0f} s")
        return
    print("  " + done.stdout.strip().replace("\n", "\n  "))
    if done.returncode:
        print(f"  exit {done.returncode}: {done.stderr.strip()[-500:]}")
    print(f"  (whole subprocess {time.perf_counter() - started:.0f} s, generation included)")
    if contacts < 1_000_000:
        print(f"  measured at {contacts:,} contacts (seeding 1M takes too long for every bench run); the 1M "
              "figure: BENCH_AUDIENCE_CONTACTS=1000000, noted in services/marketing/README.md")


# -- the production shape: sender processes -------------------------------------------------------
# Each sender process is this file run as `marketing_bench.py --sender-process DATABASE_URL SMTP_URL
# i n CONNECTIONS`: the service's own jobs.Sender for slice (i, n) says `ready` on stdout, waits for
# `go` on stdin (every process starts the clock together), mails its slice until nothing is left and
# prints one JSON line: mails handed over, seconds, its own CPU seconds, RSS samples and the pids of
# the database's PostgreSQL backends (whose CPU the parent reads while they still run).

SENDER_PROCESS = "--sender-process"
HERE = Path(__file__)


def bench_links() -> LinkMaker:
    return LinkMaker("http://127.0.0.1:8080" + bootstrap.PUBLIC_PATH, tracking_key("bench-secret"))


class CountedRounds:
    """SmtpRounds counting the mails the relay took, as they go (for the memory samples)."""

    def __init__(self, url: str, connections: int) -> None:
        self.rounds = SmtpRounds.from_url(url, connections)
        self.handed = 0
        self._lock = threading.Lock()
        real = self.rounds.exchange

        def counting(mails: Any) -> tuple[list[Any], list[Any]]:
            answers, errors = real(mails)
            with self._lock:
                self.handed += sum(1 for a in answers if a is None)
            return answers, errors

        self.rounds.exchange = counting  # type: ignore[method-assign]


def sender_process(url: str, smtp_url: str, index: int, parts: int, connections: int) -> int:
    db = Database(url)
    mailer = CountedRounds(smtp_url, connections)
    sender = jobs.Sender(db, mailer.rounds, bench_links(), lambda: datetime.now(UTC),
                         jobs.SendOptions(rate=1_000_000, part=(index, parts)))
    with db.read() as session:  # the connection the sender's reads use, opened before the clock starts
        session.execute(text("SELECT 1"))
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    samples: list[tuple[int, float]] = [(0, rss_mb(os.getpid()))]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            samples.append((mailer.handed, rss_mb(os.getpid())))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started, cpu = time.perf_counter(), time.process_time()
    total = 0
    while True:  # one run_once mails what it can claim; again in case a claim was released
        n = sender.run_once(datetime.now(UTC))
        total += n
        if not n:
            break
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    done.set()
    sampler.join()
    samples.append((mailer.handed, rss_mb(os.getpid())))
    with db.read() as session:
        backends = [int(p) for p in session.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()]
    sender.close()
    mailer.rounds.close()
    print(json.dumps({"handed": mailer.handed, "total": total, "seconds": seconds, "cpu": cpu_s,
                      "samples": samples, "backends": backends}), flush=True)
    sys.stdin.read()  # exit once the parent has read our backends' CPU (they end with us)
    return 0


@dataclass
class ProcessesResult:
    seconds: float
    handed: int
    sender_cpu: list[float]  # CPU seconds of each sender process
    postgres_cpu: float  # CPU seconds of the PostgreSQL backends while the wave went out
    samples: list[list[tuple[int, float]]]  # each process's (mails handed, RSS MB)


def postgres_backends(db: Database) -> dict[int, float]:
    """This database's PostgreSQL backends (local processes) and their CPU seconds so far."""
    with db.read() as session:
        pids = [int(p) for p in session.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()]
    return {pid: cpu_seconds(pid) for pid in pids}


def run_processes(db: Database, url: str, smtp_url: str, processes: int, connections: int) -> ProcessesResult:
    """The wave (already started in `db`) through `processes` sender processes, started together."""
    procs = [subprocess.Popen([sys.executable, str(HERE), SENDER_PROCESS, url, smtp_url, str(i), str(processes),
                               str(connections)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "LOG_LEVEL": "WARNING"})
             for i in range(processes)]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"sender process {proc.pid} did not start: {line!r}")
        before = postgres_backends(db)
        started = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        after: dict[int, float] = {}
        for proc in procs:
            assert proc.stdout is not None
            result = json.loads(proc.stdout.readline())
            # read while the child still holds its connections: a backend's CPU is gone with it
            after.update({pid: cpu_seconds(pid) for pid in result["backends"]})
            results.append(result)
            assert proc.stdin is not None
            proc.stdin.close()
        seconds = time.perf_counter() - started
        for proc in procs:
            proc.wait(30)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    postgres = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
    return ProcessesResult(seconds, sum(r["handed"] for r in results), [r["cpu"] for r in results], postgres,
                           [[tuple(s) for s in r["samples"]] for r in results])


def wave_run(args: argparse.Namespace, workers: int, pg: bool = False) -> tuple[bool, float]:
    """One wave of `--recipients`: embedded (SQLite, `workers` sender workers on threads of this
    process) or in the production shape (`pg`: PostgreSQL, `workers` sender processes); prints its
    figures; (every recipient mailed once, messages/s)."""
    with tempfile.TemporaryDirectory(prefix="marketing-bench-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        rss_start = rss_mb(os.getpid())
        if pg:
            url = stack.enter_context(fresh_postgres_database("crm_marketing_bench"))
            upgrade(url, bootstrap.MIGRATIONS)
            db = Database(url)
            stack.callback(db.engine.dispose)
        else:
            db = migrated_database(bootstrap.MIGRATIONS, root)
        return _wave(args, workers, db, root, rss_start)


def _wave(args: argparse.Namespace, workers: int, db: Database, root: Path, rss_start: float) -> tuple[bool, float]:
    n = args.recipients
    pg = not db.is_sqlite
    started = time.perf_counter()
    fill_projection(db, n)
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    with PeakRss() as freeze_rss:
        wave = freeze(db, n, args.audience)
    freeze_s = time.perf_counter() - started
    assert wave.counts.pending == n, f"{wave.counts.pending} of {n} recipients pending: {wave.counts}"

    mail_dir = root / "mail"
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "crmkit.smtp_sink", "--dir", str(mail_dir), "--port",
                             str(port)], env={**os.environ, "LOG_LEVEL": "WARNING"})
    smtp_url = f"smtp://127.0.0.1:{port}"
    try:
        wait_for(lambda: port_open(port), 15, what="the SMTP sink")
        sink_cpu0, own_cpu0 = cpu_seconds(sink.pid), cpu_seconds(os.getpid())
        postgres_us = 0.0
        if pg:
            result = run_processes(db, db.url, smtp_url, workers, args.connections)
            seconds, handed = result.seconds, result.handed
            sender_us = [cpu * 1e6 / max(1, handed) for cpu in result.sender_cpu]
            postgres_us = result.postgres_cpu * 1e6 / max(1, handed)
            samples = result.samples[0]  # the first process's: each holds its own slice
            rss_lines = [_rss_line(f"sender process {i}", s) for i, s in enumerate(result.samples)]
        else:
            seconds, handed, samples = send(db, smtp_url, args.log_batch, n, args.connections, args.profile,
                                            workers)
            sender_us = [(cpu_seconds(os.getpid()) - own_cpu0) * 1e6 / max(1, handed)]
            rss_lines = [f"before the db {rss_start:.0f}; " + _rss_line("", samples)]
        sink_us = (cpu_seconds(sink.pid) - sink_cpu0) * 1e6 / max(1, handed)
        kept = len(list(mail_dir.glob("*.eml")))
    finally:
        sink.terminate()
        sink.wait(10)
    with db.read() as session:
        final = waves.get(session, principal=MKT, wave_id=wave.id)

    rate = handed / seconds if seconds else 0.0
    start_rss, end_rss = samples[0][1], samples[-1][1]
    flat = end_rss - start_rss <= max(20.0, 0.1 * start_rss)
    shape = (f"PostgreSQL, {workers} sender process(es)" if pg else
             f"SQLite, one process, {workers} sender worker thread(s)")
    print(f"Marketing send wave — {os.cpu_count()} cores, {shape} x {args.connections} connections, "
          f"audience {args.audience}, {n:,} recipients"
          + ("" if pg else f", send log batch {args.log_batch}"))
    print(f"  set-up (bulk projection of {n:,} consented contacts) {setup_s:8.1f} s")
    print(f"  freeze (waves.create: evaluate, {n:,} recipient rows)  {freeze_s:8.1f} s   RSS {freeze_rss.start:.0f} MB "
          f"before, peak {freeze_rss.peak:.0f} MB")
    print(f"  send {handed:,} mails into the SMTP sink            {seconds:8.1f} s   {rate:,.0f} messages/s   "
          f">= {TARGET_RATE:,.0f}/s {verdict(rate >= TARGET_RATE)}")
    senders = ", ".join(f"{us:,.0f}" for us in sender_us)
    print(f"  CPU per mail: sender{'s' if len(sender_us) > 1 else ''} {senders} µs"
          + (f" (together {sum(sender_us):,.0f}), PostgreSQL backends {postgres_us:,.0f} µs" if pg else "")
          + f", the sink {sink_us:,.0f} µs; all {sum(sender_us) + postgres_us + sink_us:,.0f} µs"
          f"   (load average {load()})")
    for line in rss_lines:
        print(f"  RSS MB: {line}")
    print(f"  flat (end - start <= max(20 MB, 10%)) {verdict(flat)}")
    print(f"  the sink kept {kept:,} messages; wave {final.status}, sent {final.counts.sent:,}   "
          f"== {n:,} {verdict(kept == n and final.counts.sent == n)}", flush=True)
    return kept == n and final.counts.sent == n, rate


def _rss_line(who: str, samples: list[tuple[int, float]]) -> str:
    handed = samples[-1][0]
    middle = min(samples, key=lambda s: abs(s[0] - handed / 2))
    return (f"{who + ' ' if who else ''}wave start {samples[0][1]:.0f}, middle ({middle[0]:,} sent) {middle[1]:.0f}, "
            f"end {samples[-1][1]:.0f}, peak {max(s[1] for s in samples):.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--audience", choices=("tag", "list"), default="tag",
                        help="freeze over a tag of the projection or an explicit list of contact ids")
    parser.add_argument("--log-batch", type=int, default=100,
                        help="MARKETING_SEND_LOG_BATCH: sent marks per transaction (the service's default is 1)")
    parser.add_argument("--audience-contacts", type=int, default=int(os.environ.get("BENCH_AUDIENCE_CONTACTS",
                                                                                    "100000")),
                        help="contacts for the segment evaluation (1000000 for the 1M figure, about ten times "
                             "longer to seed; 0 skips it)")
    parser.add_argument("--audience-timeout", type=float, default=900.0)
    parser.add_argument("--freeze-contacts", type=int, default=int(os.environ.get("BENCH_FREEZE_CONTACTS",
                                                                                  "1000000")),
                        help="contacts in marketing's projection for the audience evaluation and freeze "
                             "(segment + tag - excluded tag); 0 skips it")
    parser.add_argument("--only-freeze", action="store_true", help="skip the send wave")
    parser.add_argument("--connections", type=int, default=32,
                        help="MARKETING_SEND_CONNECTIONS of each sender (SmtpRounds; 32: a round's commit and "
                             "exchange serve twice the mails of the service's default 16); 0: crmkit's SmtpMailer, "
                             "one mail at a time (embedded only)")
    parser.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")],
                        default=os.environ.get("BENCH_MARKETING_WORKERS", "1"),
                        help="sender workers sharing the wave on threads of this process (MARKETING_SEND_WORKERS), "
                             "a comma-separated list: one wave per count (BENCH_MARKETING_WORKERS, default 1)")
    parser.add_argument("--profile", action="store_true", help="print the sender's pyinstrument profile")
    parser.add_argument("--shapes", default=os.environ.get("BENCH_MARKETING_SHAPES", "embedded,pg"),
                        help="embedded (SQLite, one process, --workers threads) and/or pg (the production shape: "
                             "PostgreSQL, --processes sender processes), comma-separated (BENCH_MARKETING_SHAPES)")
    parser.add_argument("--pg", action="store_true", help="the production shape only (--shapes pg)")
    parser.add_argument("--processes", type=lambda v: [int(x) for x in v.split(",")],
                        default=os.environ.get("BENCH_MARKETING_PROCESSES", "1,2"),
                        help="sender processes of the production shape, one wave per count, comma-separated "
                             "(BENCH_MARKETING_PROCESSES, default 1,2)")
    args = parser.parse_args()
    n = args.recipients
    if args.only_freeze:
        freeze_at_scale(args.freeze_contacts)
        return 0
    if args.audience == "list" and n > MAX_AUDIENCE_ITEMS:  # the service caps explicit lists too
        parser.error(f"--audience list takes at most {MAX_AUDIENCE_ITEMS} recipients (the service's limit); "
                     "use --audience tag for more")
    shapes = ["pg"] if args.pg else args.shapes.split(",")
    if "pg" in shapes and args.connections < 1:
        parser.error("the production shape sends through SmtpRounds: --connections must be at least 1")
    runs = [(f"{w} thread(s)", w, False) for w in args.workers] if "embedded" in shapes else []
    if "pg" in shapes:
        if postgres_reachable():
            runs += [(f"PostgreSQL {p} process(es)", p, True) for p in args.processes]
        else:
            print("(PostgreSQL not reachable: the production-shape wave is left out)", flush=True)
    results = [(label, *wave_run(args, w, pg)) for label, w, pg in runs]
    if len(results) > 1:
        print("  send rate per shape: " + ", ".join(f"{label}: {rate:,.0f}/s" for label, _, rate in results)
              + f"   (load average {load()})", flush=True)
    if args.freeze_contacts > 0:
        freeze_at_scale(args.freeze_contacts)
    if args.audience_contacts > 0:
        audience_at_scale(args.audience_contacts, args.audience_timeout)
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == [SENDER_PROCESS]:
        database_url, smtp, index, parts, connections = sys.argv[2:7]
        sys.exit(sender_process(database_url, smtp, int(index), int(parts), int(connections)))
    sys.exit(main())
