"""`import_bench.py --job-only [--pg]`: the contacts import runner alone, in this process.

The file goes through the same use cases as the gateway's upload (create, chunks, start), then
the service's ImportRunner runs it on a migrated SQLite file or a fresh PostgreSQL database. No
relay, search index or consumer shares the process, so the figures are the job's own cost: rows/s
committed (wall and per CPU second of this process), the rate over the first and the last tenth
of the file (a rate that falls with the table's size is a lookup that scans), and this process's
resident memory sampled while the job runs."""
from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from google.protobuf import json_format
from import_bench import MAPPING, TARGET_RPS, PeakRss  # bench/ is on the path (import_bench runs this)

from crm.common.v1.imports_pb2 import ColumnMapping, CreateImportRequest
from crm_contacts.bootstrap import MIGRATIONS
from crm_contacts.jobs.imports import ImportRunner
from crm_contacts.usecases import imports
from crm_devtools.users import DEMO_USERS
from crmkit.db import Database
from crmkit.migrations import upgrade
from crmkit.testing import fresh_postgres_database

CHUNK = 4 * 1024 * 1024


@contextmanager
def _database(pg: bool) -> Iterator[str]:
    if pg:
        with fresh_postgres_database("crm_import_bench") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'contacts.db'}"


def _submit(db: Database, content: bytes) -> str:
    principal, now = DEMO_USERS["admin"], datetime.now(UTC)
    mapping = json_format.ParseDict(json.loads(json.dumps(MAPPING)), ColumnMapping())
    request = CreateImportRequest(entity="contact", file_name="bench.csv", mapping=mapping, on_duplicate="flag",
                                  content_sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content))
    with db.unit_of_work() as uow:
        job = imports.create_import(uow, principal=principal, now=now, request=request)
        uow.commit()
    for offset in range(0, len(content), CHUNK):
        with db.unit_of_work() as uow:
            imports.append_chunk(uow, principal=principal, job_id=job.id, offset=offset,
                                 data=content[offset:offset + CHUNK])
            uow.commit()
    with db.unit_of_work() as uow:
        imports.start_import(uow, principal=principal, now=now, job_id=job.id)
        uow.commit()
    return job.id


def _rows_done(db: Database, job_id: str) -> int:
    with db.read() as session:
        found = imports.import_store.load_job(session, job_id)
    return found[0].rows_done if found else 0


def run_job_only(content: bytes, rows: int, *, pg: bool, load: Callable[[], str]) -> int:
    import os

    with _database(pg) as url:
        upgrade(url, MIGRATIONS)
        db = Database(url)
        try:
            job_id = _submit(db, content)
            runner = ImportRunner(db, lambda: datetime.now(UTC))
            peak = PeakRss(os.getpid())
            samples: list[tuple[float, int]] = []
            worker = threading.Thread(target=runner.tick, args=(datetime.now(UTC),))
            cpu0, t0 = time.process_time(), time.perf_counter()
            worker.start()
            while worker.is_alive():
                samples.append((time.perf_counter() - t0, _rows_done(db, job_id)))
                worker.join(1.0)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            samples.append((wall, _rows_done(db, job_id)))
            with db.read() as session:
                job = imports.get_import(session, principal=DEMO_USERS["admin"], now=datetime.now(UTC), job_id=job_id)
        finally:
            db.dispose()
    engine = "PostgreSQL" if pg else "SQLite"
    rps = job.rows_done / wall
    print(f"  job only, {engine}: {job.rows_done:,} rows in {wall:.1f}s = {rps:,.0f} rows/s committed "
          f"(>= {TARGET_RPS:,} {'met' if rps >= TARGET_RPS else 'MISSED'}); CPU {cpu:.1f}s = "
          f"{cpu / max(job.rows_done, 1) * 1e6:.0f} us/row ({job.rows_done / max(cpu, 1e-3):,.0f} rows per CPU-second)"
          f"; status {job.status}, accepted {job.accepted:,}, rejected {job.rejected:,}")
    tenth = max(rows // 10, 1)
    print(f"  rate over the first / last tenth of the file: {_rate(samples, 0, tenth):,.0f} / "
          f"{_rate(samples, rows - tenth, rows):,.0f} rows/s")
    print(f"  this process's peak RSS during the job: {peak.stop():.0f} MB (the CSV itself is {len(content) / 1e6:.0f} "
          f"MB of it); load after: {load()}")
    return 0 if job.status == "done" else 1


def _rate(samples: list[tuple[float, int]], low: int, high: int) -> float:
    """Rows/s from the last sample at or before `low` rows to the first at or past `high` (samples
    move a batch at a time)."""
    start = next(((t, n) for t, n in reversed(samples) if n <= low), samples[0])
    end = next(((t, n) for t, n in samples if n >= high), samples[-1])
    return (end[1] - start[1]) / (end[0] - start[0]) if end[0] > start[0] else 0.0
