"""The audit log on SQLite: the hash chain and its verification (an edited, removed or replaced
row is found, with its seq), the entries every write and read leaves through ServicerBase and the
unit of work, the verify command, and listing with filters and pages."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import select, text

from crm.common.v1 import audit_pb2
from crm.common.v1.envelope_pb2 import Actor
from crm.contacts.v1 import contacts_pb2 as pb
from crmkit import audit
from crmkit.audit import api, chain, reads
from crmkit.audit.__main__ import main as audit_main
from crmkit.auth import Principal, set_authorization, set_principal
from crmkit.db import Database, UnitOfWork
from crmkit.errors import PermissionDenied
from crmkit.events import new_event
from crmkit.grpc_server import client_addr, current_method
from crmkit.logs import request_id_var
from crmkit.runtime_tables import audit_row, create_runtime_tables
from crmkit.servicer import ServicerBase

NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
AUDITOR = Principal("auditor.hq", ("auditor",), "hq")


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'audit.db'}")
    create_runtime_tables(database.engine)
    yield database
    reads.close(database)
    database.dispose()


@pytest.fixture
def call_context() -> Iterator[None]:
    set_principal(REP)
    set_authorization("Bearer caller-token")
    method = current_method.set("/crm.contacts.v1.ContactsService/UpdateContact")
    rid = request_id_var.set("req-42")
    addr = client_addr.set("203.0.113.7")
    yield
    set_principal(None)
    set_authorization("")
    current_method.reset(method)
    request_id_var.reset(rid)
    client_addr.reset(addr)


def entry(i: int, **kw: object) -> chain.Entry:
    values: dict = {"at": NOW + timedelta(seconds=i), "actor": "rep.north.1", "action": "updated",
                    "record_type": "contact", "record_id": f"c-{i}", "fields": ("title",)}
    values.update(kw)
    return chain.Entry(**values)


def append(db: Database, *entries: chain.Entry) -> None:
    with db.unit_of_work() as uow:
        chain.append(uow.session, list(entries))
        uow.commit()


def verify(db: Database) -> chain.Verification:
    with db.read() as session:
        return chain.verify(session)


def rows(db: Database) -> list:
    with db.read() as session:
        return list(session.execute(select(audit_row).order_by(audit_row.c.seq)).all())


def tamper(db: Database, sql: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql))


def test_each_row_hashes_its_content_and_the_previous_rows_hash(db) -> None:
    append(db, entry(1), entry(2))
    append(db, entry(3))
    first, second, third = rows(db)
    assert [r.seq for r in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == chain.GENESIS
    assert (second.prev_hash, third.prev_hash) == (first.hash, second.hash)
    assert len({first.hash, second.hash, third.hash}) == 3
    result = verify(db)
    assert (result.intact, result.rows_checked, result.head_seq, result.head_hash) == (True, 3, 3, third.hash)


def test_verify_reports_the_first_edited_row(db) -> None:
    append(db, *(entry(i) for i in range(1, 6)))
    tamper(db, "UPDATE crm_audit_log SET actor = 'someone.else' WHERE seq = 3")
    tamper(db, "UPDATE crm_audit_log SET action = 'read' WHERE seq = 4")
    result = verify(db)
    assert (result.intact, result.first_broken_seq, result.rows_checked) == (False, 3, 2)
    assert "edited" in result.problem


def test_an_edit_with_a_recomputed_hash_is_caught_by_the_next_row(db) -> None:
    append(db, *(entry(i) for i in range(1, 4)))
    tamper(db, "UPDATE crm_audit_log SET record_id = 'c-other' WHERE seq = 2")
    with db.engine.begin() as conn:
        row = dict(conn.execute(select(audit_row).where(audit_row.c.seq == 2)).mappings().one())
        conn.execute(text("UPDATE crm_audit_log SET hash = :h WHERE seq = 2"), {"h": chain.row_hash(row)})
    result = verify(db)
    assert (result.intact, result.first_broken_seq) == (False, 2)
    assert "changed or replaced" in result.problem


def test_removed_rows_in_the_middle_and_at_the_end_are_found(db) -> None:
    append(db, *(entry(i) for i in range(1, 6)))
    tamper(db, "DELETE FROM crm_audit_log WHERE seq = 5")
    gone_at_end = verify(db)
    assert (gone_at_end.intact, gone_at_end.first_broken_seq) == (False, 5)
    tamper(db, "DELETE FROM crm_audit_log WHERE seq = 2")
    gone_inside = verify(db)
    assert (gone_inside.intact, gone_inside.first_broken_seq) == (False, 2)
    assert "missing" in gone_inside.problem


def test_the_verify_command_names_the_broken_row_and_exits_1(db, monkeypatch, capsys) -> None:
    append(db, *(entry(i) for i in range(1, 4)))
    monkeypatch.setenv("CONTACTS_DATABASE_URL", db.url)
    assert audit_main(["verify", "contacts"]) == 0
    assert "intact, 3 rows checked" in capsys.readouterr().out
    tamper(db, "UPDATE crm_audit_log SET fields = '[\"email\"]' WHERE seq = 2")
    assert audit_main(["verify", "contacts"]) == 1
    assert "BROKEN at seq 2" in capsys.readouterr().out


class AppendsDuringTheWalk:
    """A session that lets the service append (and commit) right after verify's first read."""

    def __init__(self, session, write) -> None:
        self.session, self.write, self.written = session, write, False

    def execute(self, *args, **kwargs):
        result = self.session.execute(*args, **kwargs)
        if not self.written:
            self.written = True
            self.write()
        return result


def test_appends_committed_while_verify_walks_are_not_reported_as_breaks(db) -> None:
    append(db, *(entry(i) for i in range(1, 4)))
    with db.snapshot() as session:
        result = chain.verify(AppendsDuringTheWalk(session, lambda: append(db, entry(4))), batch=2)
    assert (result.intact, result.rows_checked, result.head_seq) == (True, 3, 3)
    with db.read() as session:  # statement by statement, the same walk sees a chain longer than its head
        raced = chain.verify(AppendsDuringTheWalk(session, lambda: append(db, entry(5))), batch=2)
    assert not raced.intact and "head says 4" in raced.problem
    assert verify(db).rows_checked == 5


def test_concurrent_writers_extend_one_chain(db) -> None:
    def writer(n: int) -> None:
        for i in range(20):
            append(db, entry(i, actor=f"writer-{n}"))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify(db)
    assert (result.intact, result.rows_checked) == (True, 80)


def test_pruning_the_oldest_rows_keeps_the_rest_verifiable(db) -> None:
    append(db, *(entry(i) for i in range(1, 11)))
    with db.unit_of_work() as uow:
        removed = chain.prune(uow.session, before=NOW + timedelta(seconds=6), limit=3, postgres=False)
        uow.commit()
    assert removed == 3 and [r.seq for r in rows(db)][0] == 4
    with db.unit_of_work() as uow:
        assert chain.prune(uow.session, before=NOW + timedelta(seconds=6), limit=100, postgres=False) == 2
        uow.commit()
    assert [r.seq for r in rows(db)][0] == 6
    assert verify(db).intact
    tamper(db, "DELETE FROM crm_audit_log WHERE seq = 6")
    assert verify(db).first_broken_seq == 6, "removing the new first row is still found"


def test_a_write_leaves_one_entry_per_event_with_the_requests_fields_context_and_event(db, call_context) -> None:
    servicer = ServicerBase(db, clock=lambda: NOW)
    contact = pb.Contact(id="c-1", name="张伟", title="采购总监", version=2)
    request = pb.UpdateContactRequest(contact=contact, update_mask=FieldMask(paths=["title"]))

    def use_case(uow: UnitOfWork, call: object) -> pb.Contact:
        uow.emit(new_event(producer="contacts", event_type="crm.contacts.contact.updated", aggregate_type="contact",
                           aggregate_id="c-1", aggregate_version=2, payload=contact,
                           actor=Actor(user_id=REP.user_id), occurred_at=NOW))
        return contact

    servicer.write(request, pb.Contact, use_case)
    [row] = rows(db)
    assert (row.actor, row.action, row.record_type, row.record_id) == ("rep.north.1", "updated", "contact", "c-1")
    assert json.loads(row.fields) == ["title"]
    assert (row.request_id, row.client_addr) == ("req-42", "203.0.113.7")
    assert row.method == "/crm.contacts.v1.ContactsService/UpdateContact" and row.event_id
    assert "张伟" not in row.details and "采购总监" not in row.details, "no personal data values"


def test_a_write_without_events_is_still_recorded_and_a_use_cases_note_joins_its_event(db, call_context) -> None:
    servicer = ServicerBase(db, clock=lambda: NOW)
    current_method.set("/crm.sales.v1.SalesService/UpsertRep")

    def upsert(uow: UnitOfWork, call: object) -> pb.Contact:
        return pb.Contact(id="rep.north.2")

    servicer.write(pb.GetContactRequest(id="rep.north.2"), pb.Contact, upsert)

    def transfer(uow: UnitOfWork, call: object) -> pb.Contact:
        uow.emit(new_event(producer="contacts", event_type="crm.contacts.contact.updated", aggregate_type="contact",
                           aggregate_id="c-9", aggregate_version=3, payload=pb.Contact(id="c-9"), occurred_at=NOW))
        audit.record(uow, REP, "transfer", "contact", "c-9", at=NOW, details={"to": "rep.north.2"})
        audit.record(uow, REP, "transfer", "user", "rep.north.1", at=NOW, details={"to": "rep.north.2"})
        return pb.Contact(id="c-9")

    servicer.write(pb.GetContactRequest(id="c-9"), pb.Contact, transfer)
    upserted, moved, user = rows(db)
    assert (upserted.action, upserted.record_type, upserted.record_id) == ("upsert", "contact", "rep.north.2")
    assert (moved.action, moved.record_id) == ("updated", "c-9")
    assert json.loads(moved.details)["action"] == "transfer" and json.loads(moved.details)["to"] == "rep.north.2"
    assert (user.action, user.record_type, user.record_id) == ("transfer", "user", "rep.north.1")


def test_every_note_about_an_events_record_joins_the_first_event_of_it_in_order(db, call_context) -> None:
    servicer = ServicerBase(db, clock=lambda: NOW)
    current_method.set("/crm.contacts.v1.ContactsService/UpdateContact")

    def change(uow: UnitOfWork, call: object) -> pb.Contact:
        for version in (3, 4):
            uow.emit(new_event(producer="contacts", event_type="crm.contacts.contact.updated", aggregate_type="contact",
                               aggregate_id="c-9", aggregate_version=version, payload=pb.Contact(id="c-9"),
                               occurred_at=NOW))
        audit.record(uow, REP, "updated", "contact", "c-9", at=NOW, fields=["title"], details={"note": "first"})
        audit.record(uow, REP, "tagged", "contact", "c-9", at=NOW, fields=["tags"], details={"note": "second"})
        audit.record(uow, REP, "viewed", "contact", "c-10", at=NOW)
        return pb.Contact(id="c-9")

    servicer.write(pb.GetContactRequest(id="c-9"), pb.Contact, change)
    first, second, other = rows(db)
    assert json.loads(first.details) == {"event": "crm.contacts.contact.updated", "version": 3, "note": "second",
                                         "action": "tagged"}
    assert first.action == "updated" and json.loads(first.fields) == ["id", "tags", "title"]
    assert json.loads(second.details) == {"event": "crm.contacts.contact.updated", "version": 4}
    assert (other.action, other.record_id) == ("viewed", "c-10")


def test_a_rolled_back_write_leaves_no_entry(db, call_context) -> None:
    servicer = ServicerBase(db, clock=lambda: NOW)

    def refused(uow: UnitOfWork, call: object) -> pb.Contact:
        audit.record(uow, REP, "updated", "contact", "c-1")
        raise PermissionDenied("no")

    with pytest.raises(PermissionDenied):
        servicer.write(pb.GetContactRequest(id="c-1"), pb.Contact, refused)
    assert rows(db) == []


class Contacts(ServicerBase):
    personal_data = (audit.Personal(pb.Contact), audit.Personal(pb.TimelineEntry, "contact", "contact_id"))


def test_reads_of_personal_records_leave_one_entry_per_record(db, call_context) -> None:
    servicer = Contacts(db, clock=lambda: NOW)
    current_method.set("/crm.contacts.v1.ContactsService/GetContact")
    servicer.read(lambda session, call: pb.Contact(id="c-1", name="张伟", emails=[pb.Email(address="z@x.cn")]))
    current_method.set("/crm.contacts.v1.ContactsService/ListContacts")
    servicer.read(lambda session, call: ([pb.Contact(id="c-1"), pb.Contact(id="c-2")], "next"))
    current_method.set("/crm.contacts.v1.ContactsService/ListTimeline")
    servicer.read(lambda session, call: ([pb.TimelineEntry(id="t-1", contact_id="c-3"),
                                          pb.TimelineEntry(id="t-2", contact_id="c-3")], ""))
    current_method.set("/crm.contacts.v1.ContactsService/ListCustomFields")
    servicer.read(lambda session, call: pb.CustomFieldDefinition(key="wechat"))
    assert reads.flush(db) == 4
    got = [(r.action, r.record_id, json.loads(r.fields)) for r in rows(db)]
    assert got == [("read", "c-1", ["emails", "id", "name"]), ("list", "c-1", []), ("list", "c-2", []),
                   ("list", "c-3", [])]
    assert {r.request_id for r in rows(db)} == {"req-42"} and verify(db).intact


def test_the_audit_api_filters_pages_and_refuses_who_is_not_an_auditor(db) -> None:
    append(db, *(entry(i, actor="rep.north.1" if i % 2 else "rep.north.2") for i in range(1, 8)))
    servicer = api.AuditLogServicer(db, "contacts")
    set_principal(AUDITOR)
    try:
        first = servicer.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
            actor="rep.north.1", page={"page_size": 2}), None)
        assert [e.seq for e in first.entries] == [7, 5] and first.page.next_page_token
        rest = servicer.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
            actor="rep.north.1", page={"page_size": 2, "page_token": first.page.next_page_token}), None)
        assert [e.seq for e in rest.entries] == [3, 1] and not rest.page.next_page_token
        assert rest.entries[0].service == "contacts" and list(rest.entries[0].fields) == ["title"]
        one = audit_pb2.ListAuditEntriesRequest(record_id="c-4")
        assert [e.seq for e in servicer.ListAuditEntries(one, None).entries] == [4]
        assert servicer.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest(), None).intact
        set_principal(REP)
        with pytest.raises(PermissionDenied):
            servicer.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(), None)
    finally:
        set_principal(None)
    with db.read() as session:
        about = api.entries_about(session, service="contacts", record_ids=["c-2", "c-6"])
    assert [e.record_id for e in about] == ["c-2", "c-6"]
