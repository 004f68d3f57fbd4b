"""Retention on SQLite: each runtime data class loses what is past its age and keeps the rest,
what was removed is counted per data class, the audit log's chain stays verifiable, and the
settings are read per class (0 keeps forever; a bad value names its variable)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, insert, select

from crmkit import retention
from crmkit.audit import chain
from crmkit.db import Database
from crmkit.runtime_tables import audit_row, create_runtime_tables, dead_letter_row, idempotency_row, outbox_row

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    create_runtime_tables(database.engine)
    yield database
    database.dispose()


def removed_metric(service: str, data_class: str) -> float:
    value = REGISTRY.get_sample_value("crm_retention_removed_total", {"service": service, "data_class": data_class})
    return value or 0.0


def count(db: Database, table) -> int:
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def seed(db: Database) -> None:
    with db.unit_of_work() as uow:
        s = uow.session
        for i, age in enumerate((1, 6, 8, 30)):
            s.execute(insert(idempotency_row), {"principal": "rep", "key": f"k{i}", "method": "/m", "request_hash": "h",
                                                "response": b"{}", "created_at": NOW - timedelta(days=age)})
        for i, (age, published) in enumerate(((1, True), (9, True), (9, False))):
            s.execute(insert(outbox_row), {"event_id": f"e{i}", "subject": "crm.x.y.z", "payload": b"p",
                                           "created_at": NOW - timedelta(days=age), "attempts": 0,
                                           "published_at": NOW - timedelta(days=age) if published else None})
        s.execute(insert(dead_letter_row), {"consumer": "c", "event_id": "d", "subject": "s", "payload": b"p",
                                            "reason": "poison", "deliveries": 5, "parked_at": NOW - timedelta(days=40)})
        chain.append(s, [chain.Entry(at=NOW - timedelta(days=age), actor="a", action="updated", record_type="contact",
                                     record_id=f"c{age}") for age in (4000, 3000, 10)])  # 11 and 8 years, 10 days
        uow.commit()


def test_each_class_loses_only_what_is_past_its_age_and_it_is_counted(db) -> None:
    seed(db)
    before = removed_metric("svc-a", "idempotency_keys")
    job = retention.Retention(db, "svc-a", retention.RUNTIME_CLASSES,
                              {"idempotency_keys": 7, "outbox_published": 7, "dead_letters": 30, "inbox": 45,
                               "audit_log": 7 * 366}, batch=1)  # batches of one: the loop must go on
    removed = job.run(NOW)
    assert removed == {"idempotency_keys": 2, "outbox_published": 1, "dead_letters": 1, "inbox": 0, "audit_log": 2}
    assert count(db, idempotency_row) == 2 and count(db, dead_letter_row) == 0
    with db.read() as session:
        left = set(session.execute(select(outbox_row.c.event_id)).scalars())
        assert left == {"e0", "e2"}, "an unpublished row stays whatever its age"
        kept = list(session.execute(select(audit_row.c.record_id).order_by(audit_row.c.seq)).scalars())
        assert chain.verify(session).intact
    # the job's own entries (one per class it purged) follow the row kept
    assert kept == ["c10", "idempotency_keys", "outbox_published", "dead_letters", "audit_log"]
    assert removed_metric("svc-a", "idempotency_keys") - before == 2
    assert job.run(NOW) == {"idempotency_keys": 0, "outbox_published": 0, "dead_letters": 0, "inbox": 0,
                            "audit_log": 0}, "a second run finds nothing"


def test_zero_days_keeps_a_class_forever(db) -> None:
    seed(db)
    job = retention.Retention(db, "svc-b", retention.RUNTIME_CLASSES, {"idempotency_keys": 0, "outbox_published": 0,
                                                                      "dead_letters": 0, "inbox": 0, "audit_log": 0})
    assert job.run(NOW) == {}
    assert count(db, idempotency_row) == 4 and count(db, audit_row) == 3


def test_settings_come_from_one_variable_per_class() -> None:
    env = {"RETENTION_IDEMPOTENCY_KEYS_DAYS": "2", "RETENTION_AUDIT_LOG_DAYS": "0", "RETENTION_STREAM_DAYS": "3"}
    ages = retention.ages(retention.RUNTIME_CLASSES, env)
    assert ages["idempotency_keys"] == 2 and ages["audit_log"] == 0 and ages["dead_letters"] == 30
    assert retention.stream_max_age(env) == 3 * 86400 and retention.stream_max_age({}) == 30 * 86400
    with pytest.raises(ValueError, match="RETENTION_INBOX_DAYS"):
        retention.ages(retention.RUNTIME_CLASSES, {"RETENTION_INBOX_DAYS": "a week"})
    with pytest.raises(ValueError, match="RETENTION_INBOX_DAYS"):
        retention.ages(retention.RUNTIME_CLASSES, {"RETENTION_INBOX_DAYS": "-1"})
