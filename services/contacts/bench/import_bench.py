"""Customer import throughput: a generated CSV of N contacts (5% bad rows, 3% duplicates, 2%
phones that do not validate) run through the import job exactly as the service runs it (the
use cases and ImportRunner on a migrated database), timing rows/s committed and where the time
goes (reading and validating rows vs writing records, events and audit rows vs commit).

    .venv/bin/python services/contacts/bench/import_bench.py                 # 100k rows, SQLite
    .venv/bin/python services/contacts/bench/import_bench.py --rows 1000000
    .venv/bin/python services/contacts/bench/import_bench.py --url postgresql+psycopg://127.0.0.1:5432/bench
    .venv/bin/python services/contacts/bench/import_bench.py --batch 1000 --profile

Prints figures; asserts nothing about time."""
from __future__ import annotations

import argparse
import cProfile
import csv
import hashlib
import io
import pstats
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from crm.common.v1.imports_pb2 import ColumnMapping, CreateImportRequest, ValueMap
from crm_contacts.bootstrap import MIGRATIONS
from crm_contacts.jobs.imports import ImportRunner
from crm_contacts.usecases import imports
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.migrations import upgrade
from crmkit.testing import migrated_database

NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
SOURCES = ("website", "referral", "trade_show", "webinar", "cold_call")


def generate(rows: int, seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["客户名称", "手机", "邮箱", "来源", "城市", "标签"])
    for i in range(rows):
        phone = f"13{rnd.randrange(10**9):09d}"
        roll = rnd.random()
        if roll < 0.02:
            phone = f"140{rnd.randrange(10**8):08d}"  # no such mobile prefix: kept unverified
        elif roll < 0.05 and i:
            phone = f"13{(i - 1) % 10**9:09d}"  # a duplicate of nothing in particular, often unique
        name = "" if roll > 0.95 else f"客户{i}"
        email = f"c{i}@example.cn" if roll < 0.97 or i == 0 else f"c{i - 1}@example.cn"  # 3% duplicates
        writer.writerow([name, phone, email, rnd.choice(SOURCES), "北京市", "导入,2026"])
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=imports.BATCH_ROWS)
    parser.add_argument("--url", default="", help="a PostgreSQL URL (an empty database); default a SQLite file")
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    args = parser.parse_args()
    t0 = time.perf_counter()
    content = generate(args.rows)
    print(f"generated {args.rows:,} rows ({len(content) / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f}s")
    if args.url:
        upgrade(args.url, MIGRATIONS)
        db = Database(args.url)
    else:
        db = migrated_database(MIGRATIONS, Path(tempfile.mkdtemp(prefix="import-bench-")))
    mapping = ColumnMapping(columns={"客户名称": "name", "手机": "mobile", "邮箱": "email", "来源": "source",
                                     "城市": "city", "标签": "tags"},
                            values={"source": ValueMap(values={"webinar": "event", "cold_call": "other"})})
    request = CreateImportRequest(entity="contact", file_name="bench.csv", mapping=mapping, on_duplicate="flag",
                                  content_sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content))
    t0 = time.perf_counter()
    with db.unit_of_work() as uow:
        job = imports.create_import(uow, principal=REP, now=NOW, request=request)
        uow.commit()
    for offset in range(0, len(content), imports.MAX_CHUNK_BYTES):
        with db.unit_of_work() as uow:
            imports.append_chunk(uow, principal=REP, job_id=job.id, offset=offset,
                                 data=content[offset:offset + imports.MAX_CHUNK_BYTES])
            uow.commit()
    with db.unit_of_work() as uow:
        imports.start_import(uow, principal=REP, now=NOW, job_id=job.id)
        uow.commit()
    print(f"upload (chunks into the database): {time.perf_counter() - t0:.2f}s")

    # where the time goes: the same run split into its parts by wrapping the two halves
    spent = {"validate": 0.0, "write": 0.0}
    original_build, original_insert = imports.import_rows.build_row, imports.import_store.insert_records

    def timed_build(*a, **kw):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return original_build(*a, **kw)
        finally:
            spent["validate"] += time.perf_counter() - t

    def timed_insert(*a, **kw):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return original_insert(*a, **kw)
        finally:
            spent["write"] += time.perf_counter() - t

    imports.import_rows.build_row = timed_build  # type: ignore[assignment]
    imports.import_store.insert_records = timed_insert  # type: ignore[assignment]
    runner = ImportRunner(db, lambda: datetime.now(UTC), batch_rows=args.batch)
    profiler = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    runner.run(job.id)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - t0
    with db.read() as session:
        done = imports.get_import(session, principal=REP, now=datetime.now(UTC), job_id=job.id)
    print(f"{done.status}: {done.rows_done:,} rows in {elapsed:.1f}s = {done.rows_done / elapsed:,.0f} rows/s committed "
          f"(batch {args.batch}, {'PostgreSQL' if args.url else 'SQLite'})")
    print(f"  accepted {done.accepted:,}  rejected {done.rejected:,}  warnings (unverified phones) {done.warnings:,}")
    print(f"  validating rows {spent['validate']:.1f}s ({spent['validate'] / elapsed:.0%}), inserting records and "
          f"side tables {spent['write']:.1f}s ({spent['write'] / elapsed:.0%}), the rest (events, audit rows, "
          f"duplicate lookups, rejects, commit) {elapsed - spent['validate'] - spent['write']:.1f}s")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
    db.dispose()


if __name__ == "__main__":
    main()
