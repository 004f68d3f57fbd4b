"""A consumer batch of contact snapshots applied a run at a time (the composed batch handler) leaves
every read-model table exactly as applying the same events one by one does: new customers,
updates, tag changes, deletions, merges, redeliveries and stale versions, in any batch sizes, on
SQLite and PostgreSQL. And a bulk import's batch costs a few statements, not a few per contact."""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import Contact
from crm_reporting import bootstrap
from crm_reporting.bootstrap import MIGRATIONS
from crm_reporting.handlers import contact_runs, contacts
from crm_reporting.tables import metadata
from crmkit.db import Database
from crmkit.events import new_event, parse_envelope
from crmkit.migrations import upgrade
from crmkit.service import Components
from crmkit.testing import (
    ManualClock,
    fresh_postgres_database,
    in_process_settings,
    migrated_database,
    postgres_reachable,
)

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
PAYLOADS = {"created": ev.ContactCreated, "updated": ev.ContactUpdated, "tagged": ev.ContactTagged,
            "deleted": ev.ContactDeleted}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = migrated_database(MIGRATIONS, tmp_path)
        yield db
        db.dispose()
        return
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with fresh_postgres_database("crm_reporting_runs") as url:
        upgrade(url, MIGRATIONS)
        db = Database(url)
        yield db
        db.dispose()


def _components(db: Database, tmp_path: Path) -> Components:
    spec = bootstrap.spec(clock=ManualClock(NOW))
    return spec.compose(db, in_process_settings("reporting", db.url, "nats://127.0.0.1:1", tmp_path, "s" * 32))


def _event(kind: str, contact: Contact, aggregate_id: str = "") -> EventEnvelope:
    payload: Message = ev.ContactsMerged(survivor=contact) if kind == "merged" else PAYLOADS[kind](contact=contact)
    return parse_envelope(new_event(producer="contacts", event_type=f"crm.contacts.contact.{kind}",
                                    aggregate_type="contact", aggregate_id=aggregate_id or contact.id,
                                    aggregate_version=contact.version, payload=payload).data)


def _snapshot(rnd: random.Random, cid: str, version: int, *, deleted: bool = False) -> Contact:
    team = rnd.randrange(2)
    c = Contact(id=cid, version=version, name="张伟", owner_id=f"rep-{team}-{rnd.randrange(2)}", team=f"team-{team}",
                region=f"region-{rnd.randrange(2)}", source=rnd.choice(("website", "referral", "")),
                level=rnd.choice(("prospect", "vip", "")), deleted=deleted,
                tags=rnd.sample(["vip", "2026", "imp", "华北"], rnd.randrange(4)))
    c.created_at.FromDatetime(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=rnd.randrange(3)))
    return c


def _stream(seed: int) -> list[EventEnvelope]:
    """An import's creations, then later changes of some of them mixed with redeliveries and
    older versions arriving late, a few merges."""
    rnd = random.Random(seed)
    history: dict[str, list[EventEnvelope]] = {}
    for i in range(80):
        cid = f"c{i:03d}"
        events = [_event("created", _snapshot(rnd, cid, 1))]
        for version in range(2, rnd.choice((1, 1, 2, 3, 4))):
            kind = rnd.choice(("updated", "tagged", "deleted" if version > 2 else "updated"))
            events.append(_event(kind, _snapshot(rnd, cid, version, deleted=kind == "deleted")))
        history[cid] = events
    stream = [events[0] for events in history.values()]              # the import, in order
    later = [e for events in history.values() for e in events[1:]]
    later += rnd.sample(stream, 15) + rnd.sample(later, min(10, len(later)))   # redeliveries
    rnd.shuffle(later)                                               # newer versions before older ones
    stream += later
    for i in range(3):                                               # c00i merged into c01i: the survivor's snapshot
        survivor = _snapshot(rnd, f"c{10 + i:03d}", 9)
        stream.insert(rnd.randrange(80, len(stream)), _event("merged", survivor, aggregate_id=f"c{i:03d}"))
    return stream


def _tables(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows, in key order."""
    return {t.name: sorted(tuple(r) for r in session.execute(select(t)))
            for t in metadata.sorted_tables if not t.name.startswith("crm_")}


def _batches(stream: Sequence[EventEnvelope], rnd: random.Random) -> Iterator[Sequence[EventEnvelope]]:
    start = 0
    while start < len(stream):
        size = rnd.choice((1, 7, 50, 200))
        yield stream[start:start + size]
        start += size


@pytest.mark.parametrize("seed", [1, 2])
def test_a_batch_applied_in_runs_leaves_the_tables_one_by_one_leaves(database: Database, tmp_path: Path,
                                                                    seed: int) -> None:
    parts = _components(database, tmp_path)
    assert parts.handler is not None and parts.batch_handler is not None
    stream = _stream(seed)
    with database.unit_of_work() as uow:       # never committed: the next path starts from the same empty tables
        for env in stream:
            parts.handler(uow, env)
        one_by_one = _tables(uow.session)
    with database.unit_of_work() as uow:
        for batch in _batches(stream, random.Random(seed)):
            parts.batch_handler(uow, batch)
        in_runs = _tables(uow.session)
    assert one_by_one["customer_facts"] and one_by_one["customer_tags"] and one_by_one["tagged_customer_rollup"]
    live = metadata.tables["customer_facts"].c.keys().index("live")
    assert any(not row[live] for row in one_by_one["customer_facts"]), "some customers were deleted"
    assert in_runs == one_by_one


def test_an_imported_batch_costs_a_few_statements_not_a_few_per_contact(database: Database, tmp_path: Path) -> None:
    parts = _components(database, tmp_path)
    assert parts.batch_handler is not None
    rnd = random.Random(3)
    batch = [_event("created", _snapshot(rnd, f"imp{i:03d}", 1)) for i in range(200)]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        statements.append(sql)

    with database.unit_of_work() as uow:
        engine = uow.session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            parts.batch_handler(uow, batch)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        held = uow.session.execute(select(metadata.tables["customer_facts"].c.contact_id)).scalars().all()
    assert sorted(held) == [f"imp{i:03d}" for i in range(200)]
    assert len(statements) <= 10, statements


def test_a_customer_twice_in_one_call_is_applied_in_order(database: Database) -> None:
    rnd = random.Random(4)
    snapshots = [_snapshot(rnd, "c1", 1), _snapshot(rnd, "c2", 1), _snapshot(rnd, "c1", 3, deleted=True),
                 _snapshot(rnd, "c1", 2)]
    with database.unit_of_work() as uow:
        for c in snapshots:
            contacts.apply_snapshot(uow.session, c, now=NOW)
        one_by_one = _tables(uow.session)
    with database.unit_of_work() as uow:
        assert contact_runs.apply_snapshots(uow.session, snapshots, now=NOW) == 3   # the stale v2 skipped
        assert _tables(uow.session) == one_by_one
