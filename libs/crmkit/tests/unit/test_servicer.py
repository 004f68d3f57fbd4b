"""ServicerBase: what every servicer passes a use case (who calls, when, with which bearer
header), through a read session or the one write path."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import text
from sqlalchemy.orm import Session

from crmkit.auth import Principal, set_authorization, set_principal
from crmkit.db import Database, UnitOfWork
from crmkit.errors import Unauthenticated
from crmkit.grpc_server import current_method, idempotency_key
from crmkit.runtime_tables import create_runtime_tables
from crmkit.servicer import Call, ServicerBase, copy, system_clock

NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")


@pytest.fixture
def servicer(tmp_path) -> Iterator[ServicerBase]:
    db = Database(f"sqlite:///{tmp_path / 's.db'}")
    create_runtime_tables(db.engine)
    set_principal(REP)
    set_authorization("Bearer caller-token")
    current_method.set("/crm.test.v1.TestService/Do")
    yield ServicerBase(db, clock=lambda: NOW)
    set_principal(None)
    set_authorization("")
    idempotency_key.set("")
    db.dispose()


def test_read_hands_the_use_case_a_session_and_the_call(servicer):
    seen: list[tuple[object, Call]] = []

    def use_case(session: Session, call: Call) -> int:
        seen.append((session, call))
        return int(session.execute(text("SELECT 41 + 1")).scalar_one())

    assert servicer.read(use_case) == 42
    ((session, call),) = seen
    assert isinstance(session, Session)
    assert call == Call(REP, NOW, "Bearer caller-token")


def test_write_hands_the_use_case_a_unit_of_work_and_the_call(servicer):
    seen: list[Call] = []

    def use_case(uow: UnitOfWork, call: Call) -> StringValue:
        assert isinstance(uow, UnitOfWork)
        seen.append(call)
        return StringValue(value="done")

    assert servicer.write(StringValue(value="req"), StringValue, use_case).value == "done"
    assert seen == [Call(REP, NOW, "Bearer caller-token")]


def test_write_after_prepares_with_the_call_then_writes_with_what_it_got(servicer):
    order: list[str] = []

    def prepare(call: Call) -> str:
        assert call == Call(REP, NOW, "Bearer caller-token")
        order.append("prepare")
        return "from contacts"

    def use_case(uow: UnitOfWork, call: Call, prepared: str) -> StringValue:
        order.append("write")
        assert call.principal == REP and call.now == NOW
        return StringValue(value=prepared)

    idempotency_key.set("k-1")
    first = servicer.write_after(StringValue(value="req"), StringValue, prepare, use_case)
    again = servicer.write_after(StringValue(value="req"), StringValue, prepare, use_case)
    assert first == again == StringValue(value="from contacts")
    assert order == ["prepare", "write"], "the keyed retry prepared or wrote again"


def test_a_call_without_a_verified_principal_is_refused(servicer):
    set_principal(None)
    with pytest.raises(Unauthenticated):
        servicer.read(lambda session, call: None)


def test_copy_is_independent_of_the_request():
    request = StringValue(value="as received")
    clone = copy(request)
    clone.value = "changed by a use case"
    assert request.value == "as received" and type(clone) is StringValue


def test_the_system_clock_is_aware_utc():
    assert system_clock().tzinfo is UTC
