"""The import report's rows (crmkit.imports.store): a progress poll lists a job's first rejected
rows even when many rows kept with remarks come before them, the report lists every row of the
job in row order, each row reads back as it was stored (SQLite and PostgreSQL); on SQLite the
poll reads its rows through the (job_id, kept, row) index, in order, with nothing sorted."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.orm import Session

from crmkit.db import make_engine
from crmkit.imports.store import ImportStore
from crmkit.imports.tables import ImportTables

JOB, OTHER = "sales-job-1", "sales-job-2"


def _doc(n: int, kept: bool) -> dict[str, Any]:
    problem = ["phone", "手机", "kept as typed, unverified", "140"] if kept else ["name", "姓名", "required", ""]
    return {"problems": [problem], "values": [f"客户 {n}", "140"], **({"kept": True} if kept else {})}


# rows 2..31 kept, then rejected and kept rows interleaved; another job's rows beside them
ROWS = [(n, _doc(n, kept=True)) for n in range(2, 32)] + [
    (32, _doc(32, kept=False)), (33, _doc(33, kept=True)), (34, _doc(34, kept=False)), (35, _doc(35, kept=False))]
OTHER_ROWS = [(1, _doc(1, kept=False)), (2, _doc(2, kept=True))]


@pytest.fixture
def store_engine(database_url: str) -> Iterator[tuple[ImportStore, Engine]]:
    metadata = MetaData()
    tables = ImportTables(metadata)
    engine = make_engine(database_url)
    metadata.create_all(engine)
    store = ImportStore(tables)
    with Session(engine) as session:
        store.add_rejects(session, JOB, ROWS[::-1])  # stored out of order: the answers are in row order
        store.add_rejects(session, OTHER, OTHER_ROWS)
        store.add_rejects(session, JOB, [])
        session.commit()
    yield store, engine
    engine.dispose()


def test_the_first_rejected_rows_come_in_row_order_past_the_kept_ones(store_engine: tuple[ImportStore, Engine]) -> None:
    store, engine = store_engine
    with Session(engine) as session:
        assert list(store.rejects(session, JOB, 2, kept=False)) == [(32, _doc(32, False)), (34, _doc(34, False))]
        assert list(store.rejects(session, JOB, kept=False)) == [(n, _doc(n, False)) for n in (32, 34, 35)]
        assert list(store.rejects(session, JOB, 50, kept=False)) == [(n, _doc(n, False)) for n in (32, 34, 35)]
        assert list(store.rejects(session, OTHER, 50, kept=False)) == [(1, _doc(1, False))]


def test_kept_rows_and_every_row_read_back_as_stored(store_engine: tuple[ImportStore, Engine]) -> None:
    store, engine = store_engine
    with Session(engine) as session:
        assert list(store.rejects(session, JOB, 3, kept=True)) == [(n, _doc(n, True)) for n in (2, 3, 4)]
        assert [n for n, _ in store.rejects(session, JOB, kept=True)] == [*range(2, 32), 33]
        assert list(store.rejects(session, JOB)) == sorted(ROWS)  # the report: every row, its "kept" as stored
        assert list(store.rejects(session, JOB, 3)) == sorted(ROWS)[:3]
        assert list(store.rejects(session, OTHER)) == OTHER_ROWS


def test_on_sqlite_the_poll_reads_its_rows_through_the_index(store_engine: tuple[ImportStore, Engine]) -> None:
    store, engine = store_engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the query plan checked is SQLite's")
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    with Session(engine) as session:
        list(store.rejects(session, JOB, 2, kept=False))
    event.remove(engine, "before_cursor_execute", seen)
    [(statement, parameters)] = statements
    with engine.connect() as conn:
        plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "USING INDEX ix_import_rejects_kept (job_id=? AND kept=?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # already in row order: nothing sorted, the LIMIT stops the scan
    assert "LIMIT" in statement
