"""What crypto-shredding costs on the create path (`.venv/bin/python bench/shredding_bench.py`):
contacts' create-contact use case (normalize, duplicate check, insert, timeline, outbox row, audit
entry, one SQLite commit) with the payload's personal fields sealed (AES-256-GCM under the
contact's new data key, the key row inserted in the same transaction) against the same create
with sealing switched off; then sealing alone (split + encrypt, the key already cached) and
opening alone (decrypt + merge, what a consumer adds per event once it has the key).
Figures, not assertions: CPU microseconds per operation, median of BENCH_RUNS (3)."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "gen" / "python")]

from crm.contacts.v1 import contacts_pb2 as pb  # noqa: E402
from crm.contacts.v1 import events_pb2 as ev  # noqa: E402
from crm_contacts.bootstrap import MIGRATIONS  # noqa: E402
from crm_contacts.usecases import records  # noqa: E402
from crm_devtools.users import DEMO_USERS  # noqa: E402
from crmkit import shredding  # noqa: E402
from crmkit.events import parse_envelope  # noqa: E402
from crmkit.testing import migrated_database  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
N = int(os.environ.get("SHREDDING_BENCH_CREATES", "1500"))
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def cpu_per(fn: Callable[[int], None], n: int) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.process_time()
        for i in range(n):
            fn(i)
        samples.append((time.process_time() - start) / n * 1e6)
    return statistics.median(samples)


def person(i: int) -> pb.Contact:
    return pb.Contact(name=f"张伟{i}", title="采购总监", company_name="天津港集团",
                      phones=[pb.Phone(raw=f"139{i:08d}")], emails=[pb.Email(address=f"zhang.wei.{i}@tjport.example")],
                      addresses=[pb.Address(country="CN", province="天津", city="天津", street=f"滨海新区 港湾路 {i} 号")],
                      tags=["展会"], source="trade_show")


def main() -> None:
    database = migrated_database(MIGRATIONS, Path(tempfile.mkdtemp()))
    rep = DEMO_USERS["rep.north.1"]
    counter = iter(range(10**9))

    def create(_: int) -> None:
        with database.unit_of_work() as uow:
            records.create_record(uow, principal=rep, now=NOW, record=person(next(counter)), allow_duplicate=True)
            uow.commit()

    for _ in range(200):  # warm up: statement caches, the first pages of every index
        create(0)
    sealed_runs, plain_runs = [], []
    for _ in range(RUNS):  # interleaved, so the machine's load moves both alike
        shredding.settings.enabled = True
        sealed_runs.append(cpu_per(create, N // RUNS))
        shredding.settings.enabled = False
        plain_runs.append(cpu_per(create, N // RUNS))
    shredding.settings.enabled = True
    sealed, plain = statistics.median(sealed_runs), statistics.median(plain_runs)

    payload = ev.ContactCreated(contact=person(1))
    payload.contact.id = "c-bench"
    with database.unit_of_work() as uow:
        shredding.key_for(uow.session, "contacts/contact/c-bench", "c-bench")
        uow.commit()

    with database.read() as session:
        def seal_only(_: int) -> None:
            shredding.seal(session, producer="contacts", event_id="e-1", aggregate_type="contact",
                           aggregate_id="c-bench", payload=payload)
        session.info[shredding._CACHE] = {"contacts/contact/c-bench": shredding.get_keys(
            session, ["contacts/contact/c-bench"])["contacts/contact/c-bench"]}
        seal_cpu = cpu_per(seal_only, 5000)
        plain_part, sealed_block = shredding.seal(session, producer="contacts", event_id="e-1",
                                                  aggregate_type="contact", aggregate_id="c-bench", payload=payload)
        key = session.info[shredding._CACHE]["contacts/contact/c-bench"]
    from crmkit.events import new_event

    data = new_event(producer="contacts", event_type="crm.contacts.contact.created", aggregate_type="contact",
                     aggregate_id="c-bench", aggregate_version=1, payload=plain_part, event_id="e-1",
                     sealed=sealed_block).data

    def open_only(_: int) -> None:
        shredding.open_envelope(parse_envelope(data), key)

    def parse_only(_: int) -> None:
        parse_envelope(data)

    open_cpu = cpu_per(open_only, 5000) - cpu_per(parse_only, 5000)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"create contact (use case + one SQLite commit): {sealed:.0f} µs CPU sealed, {plain:.0f} µs plain (+{sealed - plain:.0f} µs, x{sealed / plain:.2f}); "
          f"{N} creates, median of {RUNS}")
    print(f"sealing one ContactCreated (key cached): {seal_cpu:.0f} µs CPU; opening it (consumer, key cached): "
          f"{open_cpu:.0f} µs; sealed block {len(sealed_block.ciphertext) if sealed_block else 0} bytes")
    print(f"load average during the run: {' '.join(load)}")
    database.dispose()


if __name__ == "__main__":
    main()
