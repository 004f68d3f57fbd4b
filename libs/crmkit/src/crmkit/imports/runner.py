"""The import worker: a crmkit PeriodicWorker whose tick runs every queued or interrupted import
to its end, a batch per transaction. The job's checkpoint commits with its rows, so after a
restart the tick finds the job still `running`, reads the file again from the database, skips
the rows already done and goes on. A run that raises anything but a database outage fails its
job (the cause in the log, not on the job): it would raise again on every resume and, the oldest
runnable job, keep every later import of the service waiting."""
from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError

from crmkit import logs
from crmkit.db import Database
from crmkit.errors import DomainError
from crmkit.imports import files, jobs, mapping
from crmkit.runtime_tables import outbox_row
from crmkit.scheduler import PeriodicWorker
from crmkit.servicer import Clock

log = logs.get("crmkit.imports")
BACKLOG_WAIT = 30.0  # seconds a run waits at most for the relay per batch (NATS away: it goes on)


def outbox_backlog(db: Database) -> int:
    """Events written and not yet published (the partial index on published_at IS NULL)."""
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(outbox_row)
                                   .where(outbox_row.c.published_at.is_(None))).scalar_one())


def wait_for_relay(db: Database, limit: int, stopping: Callable[[], bool], timeout: float = BACKLOG_WAIT) -> None:
    """Backpressure: a batch waits until the outbox relay has published all but `limit` events. A
    run would otherwise take the database's write lock batch after batch and starve the relay
    (which needs it to mark what it published): nothing imported would be searchable or counted
    in reporting until the job's end. The run's rate is then what the whole path sustains."""
    deadline = time.monotonic() + timeout
    while not stopping() and time.monotonic() < deadline and outbox_backlog(db) > limit:
        time.sleep(0.05)
STOPPED = "an internal error stopped the import: the rows done are imported, the rest are not (the log says why)"
SWEEP_EVERY = timedelta(minutes=10)  # how often uploads left unfinished are looked for
BATCH_ROWS = 2000  # rows per transaction: big enough to amortize the commit, small enough to resume cheaply


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch runs: its thousands of rows, records, events and
    audit entries all live until the commit, and the collector's passes over them (and the whole
    heap) cost about a seventh of an imported row's CPU. A batch leaves little cyclic garbage; it
    is collected after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ImportRunner:
    def __init__(self, name: str, db: Database, clock: Clock, *, kind: jobs.ImportKind, importer: jobs.Importer,
                 batch_rows: int = BATCH_ROWS, interval: float = 1.0, backpressure: bool = False) -> None:
        """`backpressure`: wait for the outbox relay between batches (wait_for_relay); a service
        sets it, as its relay runs in the process; a test driving the runner alone does not."""
        self.db, self.clock, self.kind, self.importer, self.batch_rows = db, clock, kind, importer, batch_rows
        self.backpressure = backpressure
        self.worker = PeriodicWorker(name, self.tick, clock, interval)
        self._stopping = False
        self._swept_at: datetime | None = None

    # crmkit.service worker protocol
    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self._stopping = True
        self.worker.stop()

    def wake(self) -> None:
        self.worker.tick()

    def tick(self, now: datetime) -> None:
        if self._swept_at is None or now - self._swept_at >= SWEEP_EVERY:
            self._swept_at = now
            with self.db.unit_of_work() as uow:
                failed = jobs.fail_abandoned_uploads(uow, store=self.kind.store, now=now)
                uow.commit()
            if failed:
                log.info("imports failed as abandoned uploads: %s", ", ".join(failed))
        while not self._stopping:
            with self.db.read() as session:
                job_id = self.kind.store.next_runnable(session)
            if job_id is None:
                return
            try:
                self.run(job_id)
            except (OperationalError, InterfaceError):
                raise  # the database away: the job resumes from its checkpoint at a later tick
            except Exception:
                # Anything else comes back on every resume: left running, this job would be the
                # oldest runnable one forever and no later import of the service would run.
                log.exception("import %s stopped by an error", job_id)
                with self.db.unit_of_work() as uow:
                    jobs.fail_run(uow, store=self.kind.store, now=self.clock(), job_id=job_id, error=STOPPED)
                    uow.commit()

    def run(self, job_id: str) -> None:
        store = self.kind.store
        with self.db.read() as session:
            found = store.load_job(session, job_id)
        if found is None:
            return
        job = found[0]

        def chunks() -> Iterator[bytes]:
            return store.chunks(self.db, job_id)

        try:
            encoding, total = files.encoding_and_count(job.file_name, chunks)
            rows = files.stream_rows(job.file_name, chunks, encoding)
            header = next(rows)
            rules = self.kind.entities[job.entity]
            targets, _ = mapping.resolve(job.entity, rules.targets, rules.picklists, header, job.mapping,
                                         custom_fields=rules.custom_fields)
        except (files.FileError, DomainError, StopIteration) as exc:
            with self.db.unit_of_work() as uow:
                jobs.fail_run(uow, store=store, now=self.clock(), job_id=job_id,
                              error=str(exc) or "the file has no header")
                uow.commit()
            return
        with self.db.unit_of_work() as uow:
            started = jobs.begin_run(uow, store=store, now=self.clock(), job_id=job_id, rows_total=total)
            uow.commit()
        if started is None:
            return
        # duplicates within the file: a run keeps the identities of the rows it has not committed
        # yet (its batch); earlier batches are found in the database (flat memory). A dry run
        # commits nothing, so it keeps them all.
        state = jobs.RunState(header=header, targets=targets)
        done = started.rows_done
        # a resumed run skips what the checkpoint says is committed
        for _ in itertools.islice(rows, done):
            pass
        batch = list(itertools.islice(rows, self.batch_rows))
        while not self._stopping:
            following = list(itertools.islice(rows, self.batch_rows))
            with collector_paused(), self.db.unit_of_work() as uow:
                answer = jobs.run_batch(uow, store=store, importer=self.importer, now=self.clock(), job_id=job_id,
                                        first_row=done + 1, rows=batch, state=state, last=not following)
                uow.commit()
            if answer is None or not following:
                if answer is not None:
                    log.info("import %s done: %d accepted, %d merged, %d rejected", job_id, answer.accepted,
                             answer.merged, answer.rejected)
                return
            done += len(batch)
            batch = following
            if not started.dry_run:
                state.seen.clear()
                if self.backpressure:
                    wait_for_relay(self.db, 2 * self.batch_rows, lambda: self._stopping)
