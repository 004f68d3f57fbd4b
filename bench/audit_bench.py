"""What the audit log costs (`.venv/bin/python bench/audit_bench.py`): a write transaction with one
event on SQLite with its audit entry (chain append: head read, insert, head update, in the same
transaction) against the same commit with the append switched off, and the request thread's share
of auditing a read of a 50-row page (building the entries; the flusher appends them later).
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

from crm.common.v1.envelope_pb2 import Actor  # noqa: E402
from crm.contacts.v1 import contacts_pb2 as pb  # noqa: E402
from crmkit import db as crm_db  # noqa: E402
from crmkit.audit import Personal, read_entries  # noqa: E402
from crmkit.auth import Principal  # noqa: E402
from crmkit.events import new_event  # noqa: E402
from crmkit.runtime_tables import create_runtime_tables  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
N = 2000


def cpu_per(fn: Callable[[int], None], n: int = N) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.process_time()
        for i in range(n):
            fn(i)
        samples.append((time.process_time() - start) / n * 1e6)
    return statistics.median(samples)


def main() -> None:
    database = crm_db.Database(f"sqlite:///{tempfile.mkdtemp()}/audit.db", sqlite_synchronous="NORMAL")
    create_runtime_tables(database.engine)
    contact = pb.Contact(id="c", name="张伟", title="采购总监")

    def commit(i: int) -> None:
        with database.unit_of_work() as uow:
            uow.emit(new_event(producer="contacts", event_type="crm.contacts.contact.updated",
                               aggregate_type="contact", aggregate_id=f"c{i}", aggregate_version=1,
                               payload=contact, actor=Actor(user_id="rep.north.1")))
            uow.commit()

    cpu_per(commit, 200)  # warm up
    audited = cpu_per(commit)
    real = crm_db.append_pending
    crm_db.append_pending = lambda session, events: None  # type: ignore[assignment]
    plain = cpu_per(commit)
    crm_db.append_pending = real
    print(f"commit with one event: {audited:.0f} µs CPU with its audit entry, {plain:.0f} µs without "
          f"(+{audited - plain:.0f} µs, x{audited / plain:.2f})")
    page = ([pb.Contact(id=f"c{i}", name="x") for i in range(50)], "")
    rep, personal = Principal("rep.north.1"), (Personal(pb.Contact),)
    reading = cpu_per(lambda i: read_entries(rep, datetime.now(UTC), page, personal) and None, 500)
    print(f"auditing a read of 50 contacts on the request thread: {reading:.0f} µs CPU ({reading / 50:.1f} per row)")
    database.dispose()


if __name__ == "__main__":
    main()
