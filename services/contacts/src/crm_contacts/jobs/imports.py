"""The import worker: a crmkit PeriodicWorker whose tick runs every queued or interrupted import
to its end, a batch (usecases.imports.BATCH_ROWS rows) per transaction. The job's checkpoint
commits with its rows, so after a restart the tick finds the job still `running`, reads the file
again from the database, skips the rows already done and goes on."""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime

from crm_contacts.rules import import_rows
from crm_contacts.store import imports as import_store
from crm_contacts.usecases import imports
from crmkit import logs
from crmkit.db import Database
from crmkit.errors import DomainError
from crmkit.imports import files
from crmkit.imports.runner import wait_for_relay
from crmkit.privacy import SuppressionList
from crmkit.scheduler import PeriodicWorker
from crmkit.servicer import Clock

log = logs.get("crm_contacts.imports")


class ImportRunner:
    def __init__(self, db: Database, clock: Clock, *, batch_rows: int = imports.BATCH_ROWS,
                 interval: float = 1.0, suppression: SuppressionList | None = None, backpressure: bool = False) -> None:
        self.db, self.clock, self.batch_rows = db, clock, batch_rows
        self.backpressure = backpressure  # wait for the outbox relay between batches (the service's own runner)
        self.suppression = suppression   # erased people's emails and phones are rejected rows
        self.worker = PeriodicWorker("contacts-imports", self.tick, clock, interval)
        self._stopping = False

    # crmkit.service worker protocol
    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self._stopping = True
        self.worker.stop()

    def wake(self) -> None:
        self.worker.tick()

    def tick(self, now: datetime) -> None:
        while not self._stopping:
            with self.db.read() as session:
                job_id = import_store.next_runnable(session)
            if job_id is None:
                return
            self.run(job_id)

    def run(self, job_id: str) -> None:
        with self.db.read() as session:
            found = import_store.load_job(session, job_id)
        if found is None:
            return
        job = found[0]

        def chunks() -> Iterator[bytes]:  # the file streamed from the database (flat memory)
            return import_store.STORE.chunks(self.db, job_id)

        try:
            encoding, total = files.encoding_and_count(job.file_name, chunks)
            rows = files.stream_rows(job.file_name, chunks, encoding)
            header = next(rows)
            targets, _ = import_rows.resolve_mapping(job.entity, header, job.mapping)
        except (import_rows.FileError, DomainError, StopIteration) as exc:
            with self.db.unit_of_work() as uow:
                imports.fail_run(uow, now=self.clock(), job_id=job_id, error=str(exc) or "the file has no header")
                uow.commit()
            return
        with self.db.unit_of_work() as uow:
            started = imports.begin_run(uow, now=self.clock(), job_id=job_id, rows_total=total)
            uow.commit()
        if started is None:
            return
        state = imports.RunState(header=header, targets=targets)
        done = started.rows_done
        # a resumed run skips what the checkpoint says is committed (without rebuilding those records)
        for _ in itertools.islice(rows, done):
            pass
        batch = list(itertools.islice(rows, self.batch_rows))
        while not self._stopping:
            following = list(itertools.islice(rows, self.batch_rows))
            with self.db.unit_of_work() as uow:
                answer = imports.run_batch(uow, now=self.clock(), job_id=job_id, first_row=done + 1, rows=batch,
                                           state=state, last=not following, suppression=self.suppression)
                uow.commit()
            if answer is None or not following:
                if answer is not None:
                    log.info("import %s done: %d accepted, %d merged, %d rejected", job_id, answer.accepted,
                             answer.merged, answer.rejected)
                return
            done += len(batch)
            batch = following
            if not started.dry_run:
                state.seen.clear()  # earlier batches are committed: their duplicates are found in the database
                # backpressure: the relay publishes (search, reporting) while the run goes on
                if self.backpressure:
                    wait_for_relay(self.db, 2 * self.batch_rows, lambda: self._stopping)
