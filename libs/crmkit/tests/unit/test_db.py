"""The database handles every service writes and reads through: a unit of work is all or nothing,
a thread's reads see what was committed since its last read (its session is kept between reads),
and whatever else opens a transaction on `db.engine` is still atomic."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.exc import OperationalError

from crmkit.db import Database

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", String(50)))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'notes.db'}")
    metadata.create_all(database.engine)
    yield database
    database.dispose()


def count(db: Database) -> int:
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(notes)).scalar_one())


def test_a_unit_of_work_keeps_all_or_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work() as uow:
        uow.session.execute(insert(notes), [{"body": "a"}, {"body": "b"}])
        raise RuntimeError("the use case failed half way")
    assert count(db) == 0
    with db.unit_of_work() as uow:
        uow.session.execute(insert(notes), [{"body": "a"}, {"body": "b"}])
        uow.commit()
    assert count(db) == 2


def test_a_unit_of_work_holds_the_write_lock_of_the_file_from_its_start(db: Database) -> None:
    """Another connection cannot start writing while a unit of work is open, even one that has
    only read so far (BEGIN IMMEDIATE): it would otherwise fail later, mid-transaction."""
    other = Database(db.url)
    try:
        with db.unit_of_work() as uow:
            uow.session.execute(select(notes.c.id)).all()
            raw = other.engine.raw_connection()
            try:
                raw.execute("PRAGMA busy_timeout=0")  # type: ignore[attr-defined]  # sqlite3's shortcut
                with pytest.raises(Exception, match="locked"):
                    raw.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
            finally:
                raw.close()
            uow.commit()
    finally:
        other.dispose()


def test_a_thread_reads_what_was_committed_since_its_last_read(db: Database) -> None:
    assert count(db) == 0
    done = threading.Event()

    def write() -> None:
        with db.unit_of_work() as uow:
            uow.session.execute(insert(notes).values(body="from another thread"))
            uow.commit()
        done.set()

    threading.Thread(target=write).start()
    assert done.wait(10)
    assert count(db) == 1


def test_a_read_starts_clean_after_a_failed_one_and_after_one_that_left_something(db: Database) -> None:
    with pytest.raises(OperationalError), db.read() as session:
        session.execute(text("SELECT * FROM no_such_table"))
    with db.read() as session:
        session.info["left by a read"] = True
    with db.read() as session:
        assert "left by a read" not in session.info
    assert count(db) == 0


def test_transactions_opened_on_the_engine_itself_stay_atomic(db: Database) -> None:
    with pytest.raises(RuntimeError), db.engine.begin() as conn:
        conn.execute(insert(notes).values(body="half"))
        raise RuntimeError("failed")
    assert count(db) == 0
