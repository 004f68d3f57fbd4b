"""The one transaction owner (crmkit.idempotency.run_write) as a retrying client meets it: the
stored answer comes first, before any call to another service, for a key matched against the
request as it was received."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from crmkit.auth import Principal, set_principal
from crmkit.db import Database, UnitOfWork
from crmkit.errors import Conflict
from crmkit.grpc_server import current_method, idempotency_key
from crmkit.idempotency import run_write
from crmkit.runtime_tables import create_runtime_tables
from crmkit.testing import wait_for

ALICE = Principal("alice", ("rep",), "north-sales", "north")
BOB = Principal("bob", ("rep",), "north-sales", "north")
METHOD = "/crm.test.v1.TestService/CreateThing"

rows = MetaData()
things = Table("things", rows, Column("seq", Integer, primary_key=True, autoincrement=True),
               Column("value", String(200), nullable=False))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.engine.begin() as conn:
        create_runtime_tables(conn)
        rows.create_all(conn)
    yield database
    database.dispose()


@contextmanager
def grpc_call(principal: Principal, key: str = "", method: str = METHOD) -> Iterator[None]:
    """What the server interceptor sets for one call."""
    set_principal(principal)
    current_method.set(method)
    idempotency_key.set(key)
    try:
        yield
    finally:
        set_principal(None)
        current_method.set("")
        idempotency_key.set("")


class Backend:
    """A write that first asks another service (`prepare`) and fills the request from its
    answer in place, as the create-ticket bug did; counts what ran."""

    def __init__(self) -> None:
        self.prepared = 0
        self.written = 0
        self.level = "regular"  # what the other service says now; changes between calls

    def prepare(self) -> str:
        self.prepared += 1
        return self.level

    def write(self, uow: UnitOfWork, level: str, request: StringValue) -> StringValue:
        self.written += 1
        request.value = f"{request.value} ({level})"  # the request changes after it was received
        uow.session.execute(insert(things).values(value=request.value))
        return StringValue(value=f"created {request.value} #{self.written}")


def create(db: Database, backend: Backend, value: str) -> StringValue:
    request = StringValue(value=value)
    return run_write(db, request, StringValue, lambda uow, level: backend.write(uow, level, request),
                     backend.prepare)


def count_things(db: Database) -> int:
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(things)).scalar_one())


def test_a_retry_with_the_same_key_gets_the_first_answer_without_asking_again(db):
    backend = Backend()
    with grpc_call(ALICE, key="retry-1"):
        first = create(db, backend, "printer down")
        backend.level = "vip"  # the other service's answer changed since
        again = create(db, backend, "printer down")
    assert again == first
    assert (backend.prepared, backend.written) == (1, 1), "the retry ran prepare or the write again"
    assert count_things(db) == 1


def test_the_key_is_matched_against_the_request_as_received_not_as_filled(db):
    """The write filled the request in place; the retry's identical bytes still match."""
    backend = Backend()
    with grpc_call(ALICE, key="as-received"):
        first = create(db, backend, "printer down")
        assert first.value == "created printer down (regular) #1"
        assert create(db, backend, "printer down") == first


def test_another_body_with_the_same_key_is_a_conflict_naming_the_header(db):
    backend = Backend()
    with grpc_call(ALICE, key="reused"):
        create(db, backend, "printer down")
        with pytest.raises(Conflict) as refused:
            create(db, backend, "screen broken")
    assert refused.value.field == "Idempotency-Key"
    assert backend.prepared == 1, "a refused retry must not call the other service"
    assert count_things(db) == 1


def test_another_method_with_the_same_key_and_body_is_a_conflict(db):
    backend = Backend()
    with grpc_call(ALICE, key="k"):
        create(db, backend, "same bytes")
    with grpc_call(ALICE, key="k", method="/crm.test.v1.TestService/DeleteThing"), pytest.raises(Conflict):
        create(db, backend, "same bytes")


def test_keys_belong_to_the_caller(db):
    backend = Backend()
    with grpc_call(ALICE, key="shared-key"):
        mine = create(db, backend, "printer down")
    with grpc_call(BOB, key="shared-key"):
        theirs = create(db, backend, "printer down")
    assert mine != theirs and backend.written == 2


def test_without_a_key_every_call_prepares_and_writes(db):
    backend = Backend()
    with grpc_call(ALICE):
        create(db, backend, "a")
        create(db, backend, "a")
    assert (backend.prepared, backend.written) == (2, 2)
    assert count_things(db) == 2


def test_a_write_without_preparations_is_stored_and_replayed(db):
    calls: list[int] = []

    def write(uow: UnitOfWork, prepared: None) -> StringValue:
        assert prepared is None
        calls.append(1)
        uow.session.execute(insert(things).values(value="plain"))
        return StringValue(value=f"plain #{len(calls)}")

    with grpc_call(ALICE, key="plain"):
        first = run_write(db, StringValue(value="x"), StringValue, write)
        assert run_write(db, StringValue(value="x"), StringValue, write) == first
    assert len(calls) == 1


def test_a_failed_write_stores_nothing_and_the_retry_runs_again(db):
    backend = Backend()

    def failing(uow: UnitOfWork, level: str) -> StringValue:
        uow.session.execute(insert(things).values(value="half done"))
        raise RuntimeError("the write failed after a row")

    with grpc_call(ALICE, key="fails-once"):
        with pytest.raises(RuntimeError):
            run_write(db, StringValue(value="x"), StringValue, failing, backend.prepare)
        assert count_things(db) == 0, "the half-done write was committed"
        answer = create(db, backend, "x")
    assert answer.value.startswith("created x")


def test_a_concurrent_duplicate_gets_the_first_answer(db):
    """Two calls with one key arrive together: both find no stored answer and prepare; the one
    that writes second gets the first's answer (SQLite: found inside its transaction, which
    waits for the first; PostgreSQL: its own write is rolled back when the key collides)."""
    backend = Backend()
    second_prepared = threading.Event()
    results: dict[str, StringValue] = {}
    lock = threading.Lock()

    def prepare_for(name: str) -> Callable[[], str]:
        def prepare() -> str:
            with lock:
                backend.prepared += 1
            if name == "second":
                second_prepared.set()
            return "regular"
        return prepare

    def write(uow: UnitOfWork, level: str, request: StringValue) -> StringValue:
        second_prepared.wait(10)  # the duplicate is past its lookup before the first commits
        return backend.write(uow, level, request)

    def call(name: str) -> None:
        with grpc_call(ALICE, key="together"):
            request = StringValue(value="printer down")
            results[name] = run_write(db, request, StringValue, lambda uow, lv: write(uow, lv, request),
                                      prepare_for(name))

    first = threading.Thread(target=call, args=("first",))
    first.start()
    wait_for(lambda: backend.prepared >= 1, what="the first call to prepare")
    second = threading.Thread(target=call, args=("second",))
    second.start()
    first.join(20)
    second.join(20)
    assert set(results) == {"first", "second"}
    assert results["second"] == results["first"]
    assert count_things(db) == 1, "the duplicate's effects were committed too"
    if db.is_sqlite:
        assert backend.written == 1
