"""crmkit.privacy on a real database (SQLite, and PostgreSQL when reachable): holdings found by
the person's identifiers and by ids collected on the way, deleted or anonymized; the runtime
tables' rows that carry an identifier go, the others stay; erasing again finds nothing; on SQLite
no byte of the person is left in the file; the suppression list refuses an erased address."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, func, insert, select
from sqlalchemy.engine import Row

from crm.privacy.v1 import privacy_pb2 as ppb
from crmkit.db import Database
from crmkit.privacy import (
    CONTACT,
    EMAIL,
    Found,
    Holding,
    SuppressionList,
    compact,
    erase,
    export,
    suppression_hash,
    suppression_hashes,
)
from crmkit.runtime_tables import dead_letter_row, idempotency_row, outbox_row, runtime_metadata, subject_key_row

NOW = datetime(2026, 12, 1, tzinfo=UTC)
metadata = MetaData()
people = Table("people", metadata, Column("id", String(36), primary_key=True), Column("email", String(100)),
               Column("data", LargeBinary, nullable=False))
notes = Table("notes", metadata, Column("seq", Integer, primary_key=True), Column("person_id", String(36)),
              Column("text", String(200)))
deals = Table("deals", metadata, Column("id", String(36), primary_key=True), Column("person_id", String(36)),
              Column("title", String(200)))
PERSON = ppb.Subject(contact_ids=["contact-0001"], emails=["Li.Lei@Example.com"], names=["李雷"])


def _deal(row: Row[Any], found: Found) -> dict[str, Any]:
    return {"person_id": "", "title": found.redact(row.title)}


HOLDINGS = (
    Holding("people", people, {"email": EMAIL}, scan=True, collect=("person", "id")),
    Holding("notes", notes, {"person_id": "person"}),
    Holding("deals", deals, {"person_id": CONTACT}, anonymize=_deal),
)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    runtime_metadata.create_all(database.engine)
    metadata.create_all(database.engine)
    with database.unit_of_work() as uow:
        s = uow.session
        s.execute(insert(people), [
            {"id": "person-0001", "email": "li.lei@example.com", "data": b"\x0a\x0cli.lei@example.com"},
            {"id": "p-2", "email": "", "data": b"\x12\x0ccontact-0001 phone +8613800138000"},  # names the contact
            {"id": "person-0003", "email": "han.meimei@example.com", "data": b"someone else"},
        ])
        s.execute(insert(notes), [{"person_id": "person-0001", "text": "called"},
                                  {"person_id": "person-0003", "text": "kept"}])
        s.execute(insert(deals), [{"id": "d-1", "person_id": "contact-0001", "title": "李雷 - 天津港 采购"}])
        s.execute(insert(outbox_row), [
            {"event_id": "e-1", "subject": "x", "payload": b"\x00li.lei@example.com\x00", "created_at": NOW},
            {"event_id": "e-2", "subject": "x", "payload": b"\x00nobody\x00", "created_at": NOW}])
        s.execute(insert(dead_letter_row), [{"consumer": "c", "event_id": "e-3", "subject": "x",
                                             "payload": b"person-0001 was here", "reason": "r", "deliveries": 5,
                                             "parked_at": NOW}])
        s.execute(insert(idempotency_row), [{"principal": "rep", "key": "k", "method": "m", "request_hash": "h",
                                             "response": b"contact-0001", "created_at": NOW}])
        # Keys of sealed event fields (crmkit.shredding): the erased person's, the anonymized
        # deal's, the contact's; and someone else's, which stays.
        s.execute(insert(subject_key_row), [
            {"key_id": f"svc/{kind}/{rid}", "record_id": rid, "key": b"k" * 32, "wrapped": 0, "created_at": NOW}
            for kind, rid in (("person", "person-0001"), ("deal", "d-1"), ("contact", "contact-0001"),
                              ("person", "person-0003"))])
        uow.commit()
    yield database
    database.dispose()


def count(db: Database, table: Table) -> int:
    with db.read() as s:
        return int(s.execute(select(func.count()).select_from(table)).scalar_one())


def test_export_finds_the_person_by_email_by_bytes_and_by_collected_ids(db: Database) -> None:
    with db.read() as s:
        found = export(s, HOLDINGS, PERSON)
    assert sorted(r["id"] for r in found.sections["people"]) == ["p-2", "person-0001"]
    assert [r["text"] for r in found.sections["notes"]] == ["called"]
    assert [r["title"] for r in found.sections["deals"]] == ["李雷 - 天津港 采购"]


def test_erase_deletes_anonymizes_and_scrubs_the_runtime_tables_once(db: Database) -> None:
    with db.unit_of_work() as uow:
        found = erase(uow.session, HOLDINGS, PERSON)
        uow.commit()
    assert found.counts == {"people": 2, "notes": 1, "deals": 1, "outbox": 1, "dead letters": 1,
                            "idempotency answers": 1, "subject keys": 3}
    with db.read() as s:
        assert [r.id for r in s.execute(select(people.c.id))] == ["person-0003"]
        assert [r.text for r in s.execute(select(notes.c.text))] == ["kept"]
        assert s.execute(select(deals.c.person_id, deals.c.title)).one() == ("", "[erased] - 天津港 采购")
        assert [r.event_id for r in s.execute(select(outbox_row.c.event_id))] == ["e-2"]
        assert [r.key_id for r in s.execute(select(subject_key_row.c.key_id))] == ["svc/person/person-0003"]
    assert count(db, dead_letter_row) == 0 and count(db, idempotency_row) == 0
    with db.unit_of_work() as uow:
        again = erase(uow.session, HOLDINGS, PERSON)
        uow.commit()
    assert sum(again.counts.values()) == 0


def test_compaction_leaves_no_byte_of_the_person_in_the_sqlite_file(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL reclaims dead tuples with vacuum")
    path = Path(db.url.removeprefix("sqlite:///"))
    with db.unit_of_work() as uow:
        erase(uow.session, HOLDINGS, PERSON)
        uow.commit()
    compact(db)
    wal = path.with_name(path.name + "-wal")
    raw = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"li.lei@example.com" not in raw and "李雷".encode() not in raw
    assert b"han.meimei@example.com" in raw  # the file is still there, with everyone else


def test_the_suppression_list_refuses_an_erased_address_and_nothing_else() -> None:
    key = b"k" * 32
    hashes = suppression_hashes(key, ["Li.Lei@Example.com "], ["+8613800138000"])
    assert hashes == sorted([suppression_hash(key, "email", "li.lei@example.com"),
                             suppression_hash(key, "phone", "+8613800138000")])
    listed = SuppressionList(key, None, lambda: "")
    assert listed.suppressed(emails=["li.lei@example.com"]) is None
    listed.add(hashes)
    assert listed.suppressed(emails=["LI.LEI@example.com"]) == "email"
    assert listed.suppressed(emails=["han@example.com"], phones=["+8613800138000"]) == "phone"
    assert listed.suppressed(emails=["han@example.com"], phones=["+8613800138001"]) is None
    other_key = SuppressionList(b"x" * 32, None, lambda: "")
    other_key.add(hashes)
    assert other_key.suppressed(emails=["li.lei@example.com"]) is None
