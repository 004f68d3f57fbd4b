"""Read entries, appended in batches off the request path.

A read runs on an autocommit connection and must stay cheap: making every GET a write
transaction (on SQLite, an fsync) would cost more than the read. Entries queue in memory and a
thread appends them every `interval` seconds in one transaction; the queue is bounded (a reader
waits when the log falls behind rather than an entry being dropped) and flushed when the service
stops. What a crash loses is at most the last interval's read entries, never a change's entry:
those are in the change's own transaction."""
from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from crmkit import logs
from crmkit.audit import chain
from crmkit.audit.chain import Entry

if TYPE_CHECKING:
    from crmkit.db import Database

log = logs.get("crmkit.audit")
INTERVAL = 0.2
MAX_QUEUED = 20_000


class ReadRecorder:
    def __init__(self, db: Database, interval: float = INTERVAL, max_queued: int = MAX_QUEUED) -> None:
        self._db = weakref.ref(db)
        self.interval, self.max_queued = interval, max_queued
        self._queue: list[Entry] = []
        self._cond = threading.Condition()
        self._write = threading.Lock()  # one flush at a time keeps entries in arrival order
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stop = threading.Event()
        self.appended = 0

    def put(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        with self._cond:
            while len(self._queue) >= self.max_queued and not self._closed:
                self._cond.wait(1.0)
            self._queue.extend(entries)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="audit-reads", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return  # close() flushes what is left
            self._stop.wait(self.interval)  # let a batch gather
            try:
                self.flush()
            except Exception:
                log.exception("appending read entries failed; retrying")
                self._stop.wait(self.interval)

    def flush(self) -> int:
        """Append what is queued now (tests and the stop call it); returns how many."""
        db = self._db()
        with self._write:
            with self._cond:
                batch, self._queue = self._queue, []
            if not batch or db is None:
                return 0
            try:
                with db.unit_of_work() as uow:
                    chain.append(uow.session, batch)
                    uow.commit()
            except Exception:
                with self._cond:  # keep them, in order, for the next try
                    self._queue[:0] = batch
                raise
            with self._cond:
                self.appended += len(batch)
                self._cond.notify_all()
            return len(batch)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        try:
            self.flush()
        except Exception:
            log.exception("read entries lost at stop")


_recorders: weakref.WeakKeyDictionary[Database, ReadRecorder] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def recorder(db: Database) -> ReadRecorder:
    with _lock:
        found = _recorders.get(db)
        if found is None:
            found = _recorders[db] = ReadRecorder(db)
        return found


def flush(db: Database) -> int:
    with _lock:
        found = _recorders.get(db)
    return found.flush() if found is not None else 0


def close(db: Database) -> None:
    with _lock:
        found = _recorders.pop(db, None)
    if found is not None:
        found.close()
