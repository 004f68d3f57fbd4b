"""Engines, sessions and the unit of work.

SQLite (embedded default) runs in WAL mode with full fsync, and write transactions start with
BEGIN IMMEDIATE: a deferred transaction that later upgrades to a writer fails instantly with
SQLITE_BUSY instead of waiting, which would turn concurrency into random errors."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, insert, text
from sqlalchemy.orm import Session, sessionmaker

from crmkit.audit.record import append_pending
from crmkit.config import SQLITE_SYNC_LEVELS
from crmkit.deadlines import check_before_commit
from crmkit.events import Envelope
from crmkit.runtime_tables import outbox_row

_OUTBOX_INSERT = insert(outbox_row)  # built once: every write transaction runs it


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", begin_event: bool = True, **kwargs: Any) -> Engine:
    """`sqlite_synchronous`: FULL, an acknowledged write survives power loss; NORMAL survives a crash
    of the process but not of the machine (PostgreSQL is for production). Services take it from
    SQLITE_SYNCHRONOUS through their settings.

    SQLite: with `begin_event` (the default) every transaction opened on the engine starts with a
    BEGIN of our own. Without it the caller issues BEGIN itself (Database's units of work do): any
    connection event on an engine makes SQLAlchemy dispatch its empty before/after-execute hooks
    on every statement, 5-15 µs each (docs/performance.md)."""
    if url.startswith("sqlite"):
        sync = sqlite_synchronous.upper()
        if sync not in SQLITE_SYNC_LEVELS:
            raise ValueError(f"SQLite synchronous must be FULL, NORMAL or EXTRA, not {sqlite_synchronous!r}")
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=16,
            max_overflow=16, **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        if begin_event:
            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Any) -> None:
                options = conn.get_execution_options()
                if options.get("isolation_level") == "AUTOCOMMIT":
                    return  # read connections: each statement is its own snapshot, no BEGIN/ROLLBACK
                conn.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")

        return engine
    # Each server thread may hold one read connection (see Database.read), writes need their own.
    return create_engine(url, pool_size=20, max_overflow=10, pool_pre_ping=True, **kwargs)


class Database:
    """Owns the engine and hands out read sessions and write units of work."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
        self.is_sqlite = url.startswith("sqlite")
        # Reads and units of work, the hot paths, go through an engine without connection events
        # (on SQLite the unit of work issues its BEGIN IMMEDIATE itself); `engine` keeps the BEGIN
        # event for everything else that opens transactions on it. PostgreSQL needs no events.
        self._hot = (make_engine(url, sqlite_synchronous=sqlite_synchronous, begin_event=False)
                     if self.is_sqlite else self.engine)
        self._write = sessionmaker(self._hot, expire_on_commit=False)
        self._on_commit: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        # SQLite has one writer at a time; queueing writers here avoids its busy handler, which
        # sleeps in growing steps and turns contention into second-long tail latencies.
        self.write_lock: threading.RLock | None = threading.RLock() if self.is_sqlite else None
        self._held: list[Connection] = []

    def on_events_committed(self, callback: Callable[[], None]) -> None:
        """Called after a commit that wrote outbox rows (wakes the relay)."""
        with self._lock:
            self._on_commit.append(callback)

    def read(self) -> Session:
        """A session for reads, on this thread's own autocommit connection: checking a connection
        out of the pool and BEGIN/ROLLBACK around every point read cost more than the read itself.
        Each statement sees committed data; use a unit of work when reads must be consistent.
        The session is the thread's too, kept from one read to the next (see _ReadSession):
        building and closing one per read cost ~70 µs, three times a point read's SQL."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._hot.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._local.conn = conn
            self._local.session = _ReadSession(bind=conn, expire_on_commit=False)
            with self._lock:
                self._held.append(conn)
        session: _ReadSession = self._local.session
        return session

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only transaction whose statements all see one snapshot (SQLite WAL: from the
        first read on, writers never blocked; PostgreSQL: REPEATABLE READ). For reads that walk
        many rows and must agree with each other, such as verifying the audit chain while the
        service keeps appending to it."""
        options: dict[str, Any] = {} if self.is_sqlite else {"isolation_level": "REPEATABLE READ"}
        conn = self.engine.connect().execution_options(**options)
        session = Session(bind=conn)
        try:
            session.begin()
            if not self.is_sqlite:
                session.execute(text("SET TRANSACTION READ ONLY"))
            yield session
        finally:
            session.rollback()
            session.close()
            conn.close()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)

    def notify_committed(self) -> None:
        for callback in list(self._on_commit):
            callback()

    def dispose(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            with contextlib.suppress(Exception):  # another thread may still be using it
                conn.close()
        self.engine.dispose()
        if self._hot is not self.engine:
            self._hot.dispose()


class _ReadSession(Session):
    """A thread's read session on its autocommit connection, reused by its next read. Leaving a
    `with` block forgets what the read left behind (its `info`, any loaded objects) instead of
    closing; an error closes it as a plain Session would (it works again on the next read)."""

    def __exit__(self, type_: Any, value: Any, traceback: Any) -> None:
        if type_ is not None:
            self.close()
            return
        self.info.clear()
        if self.identity_map:
            self.expunge_all()


class UnitOfWork:
    """One write transaction. Events collected with `emit` are written to the outbox in the
    same transaction as the business rows, and their audit entries (crmkit.audit) to the audit
    log; nothing is published until the commit succeeded."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.session: Session = db._write()
        self._events: list[Envelope] = []
        self._committed = False
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> UnitOfWork:
        if self._db.write_lock is not None:
            self._db.write_lock.acquire()
        try:
            self.session.begin()
            if self._db.is_sqlite:  # the hot engine has no BEGIN event: a writer from the start
                self.session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.session.close()
            self._release()
            raise
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            if not self._committed:
                self.session.rollback()
        finally:
            self.session.close()
            self._release()

    def _release(self) -> None:
        if self._db.write_lock is not None:
            self._db.write_lock.release()

    def emit(self, envelope: Envelope) -> None:
        self._events.append(envelope)

    def commit(self) -> None:
        check_before_commit()  # the caller gave up (504): roll back rather than commit afterwards
        if self._events:
            self.session.execute(_OUTBOX_INSERT, [e.to_outbox_values() for e in self._events])
        # Last before the commit: the audit head stays locked only as long as the commit takes.
        append_pending(self.session, self._events)
        self.session.commit()
        self._committed = True
        if self._events:
            self._db.notify_committed()  # the relay wakes; it takes the write lock after us
        for callback in self._after_commit:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction committed (never on a rollback): a business
        metric counts what happened, not what was tried."""
        self._after_commit.append(callback)

    @property
    def events(self) -> list[Envelope]:
        """What this unit of work emitted, as consumers see it (sealed personal fields opened);
        the outbox rows hold them sealed."""
        return [replace(e, data=e.opened(), unsealed=None) for e in self._events]
