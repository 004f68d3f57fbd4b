"""The audit log on a real PostgreSQL database migrated by a service's own migrations: the trigger
refuses UPDATE, DELETE and TRUNCATE; concurrent writers on separate connections extend one
unforked chain; retention's pruning is the one DELETE let through, and only for the prefix."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from crmkit import audit, retention
from crmkit.audit import chain
from crmkit.db import Database
from crmkit.migrate import migrations_of
from crmkit.migrations import upgrade
from crmkit.testing import fresh_postgres_database, postgres_reachable

pytestmark = pytest.mark.skipif(not postgres_reachable(), reason="PostgreSQL is not reachable on 127.0.0.1:5432")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def db() -> Iterator[Database]:
    with fresh_postgres_database("crm_audit") as url:
        upgrade(url, migrations_of("sales"))
        database = Database(url)
        yield database
        database.dispose()


def write(db: Database, n: int, actor: str = "rep.north.1", age_days: float = 0) -> None:
    with db.unit_of_work() as uow:
        for i in range(n):
            audit.record(uow, actor, "updated", "lead", f"lead-{i}", at=NOW - timedelta(days=age_days))
        uow.commit()


def refused(db: Database, sql: str) -> str:
    with pytest.raises(DBAPIError) as caught, db.engine.begin() as conn:
        conn.execute(text(sql))
    return str(caught.value)


def intact(db: Database) -> chain.Verification:
    with db.read() as session:
        return chain.verify(session)


def test_update_delete_and_truncate_of_the_audit_log_are_refused(db) -> None:
    write(db, 3)
    assert "append-only: UPDATE refused" in refused(db, "UPDATE crm_audit_log SET actor = 'x' WHERE seq = 2")
    assert "append-only: DELETE refused" in refused(db, "DELETE FROM crm_audit_log WHERE seq = 3")
    assert "append-only: TRUNCATE refused" in refused(db, "TRUNCATE crm_audit_log")
    # the setting alone does not open the table: only rows the anchor already passed may go
    assert "DELETE refused" in refused(db, "SET LOCAL crmkit.audit_prune = 'on'; DELETE FROM crm_audit_log")
    result = intact(db)
    assert (result.intact, result.rows_checked) == (True, 3)


def test_concurrent_writers_on_separate_connections_never_fork_the_chain(db) -> None:
    def writer(n: int) -> None:
        for _ in range(15):
            write(db, 2, actor=f"writer-{n}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = intact(db)
    assert (result.intact, result.rows_checked, result.head_seq) == (True, 180, 180)


def test_a_transaction_of_thousands_of_changes_extends_the_chain_in_order(db) -> None:
    write(db, 2_500)  # more rows than one multi-row INSERT takes
    result = intact(db)
    assert (result.intact, result.rows_checked, result.head_seq) == (True, 2_500, 2_500)


def test_verify_walks_one_snapshot_while_writers_commit(db) -> None:
    write(db, 3)

    class AppendsAfterTheFirstRead:
        def __init__(self, session) -> None:
            self.session, self.written = session, False

        def execute(self, *args, **kwargs):
            result = self.session.execute(*args, **kwargs)
            if not self.written:
                self.written = True
                write(db, 2)
            return result

    with db.snapshot() as session:
        result = chain.verify(AppendsAfterTheFirstRead(session), batch=2)
    assert (result.intact, result.rows_checked, result.head_seq) == (True, 3, 3)
    assert intact(db).rows_checked == 5


def test_retention_prunes_the_oldest_rows_through_the_trigger(db) -> None:
    write(db, 4, age_days=3000)
    write(db, 2, age_days=1)
    job = retention.Retention(db, "sales", retention.RUNTIME_CLASSES, {"audit_log": 7 * 366})
    assert job.run(NOW)["audit_log"] == 4
    result = intact(db)
    assert result.intact and result.rows_checked == 3  # two kept, and the job's own entry
    assert "DELETE refused" in refused(db, "DELETE FROM crm_audit_log")
