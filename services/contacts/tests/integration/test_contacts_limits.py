"""What bounds one call, through the real gRPC API on SQLite and PostgreSQL: the documented maxima
refused before any work, NUL and odd field names answered as the caller's mistake, page tokens
nobody issued, and a write whose caller gave up (the gateway's 504) rolled back, not committed."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct
from grpc import StatusCode
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from crm.common.v1.types_pb2 import PageRequest
from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm_contacts.tables import contacts as contacts_table
from crmkit import limits
from crmkit.service import ServiceRuntime
from crmkit.testing import Caller, ServiceHarness, wait_for

pytestmark = pytest.mark.integration

HUGE_TOKEN = "czk5OTk5OTk5OTk5OTk5OTk5OTk"  # "s9999999999999999999": past any BIGINT
CREATE = "/crm.contacts.v1.ContactsService/CreateContact"


def phones(n: int) -> list[pb.Phone]:
    return [pb.Phone(number=f"+86 139{i:08d}") for i in range(n)]


def test_more_phones_than_documented_are_refused_before_any_work(api, fails, row_counts) -> None:
    before = row_counts()
    rep = api("rep.north.1")
    for count in (limits.MAX_PHONES + 1, 3_000):  # 3,000 took 5 s and answered 504 after storing
        failure = fails(StatusCode.INVALID_ARGUMENT, rep.CreateContact,
                        pb.CreateContactRequest(contact=pb.Contact(name="总机", phones=phones(count))))
        assert failure.field == "phones" and f"at most {limits.MAX_PHONES}" in failure.message
    assert row_counts() == before
    at_limit = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(
        name="二十个号码", phones=[pb.Phone(number=f"+86 137{i:08d}") for i in range(limits.MAX_PHONES)])))
    assert len(at_limit.phones) == limits.MAX_PHONES


def test_a_duplicates_check_with_thousands_of_candidates_is_refused(api, fails) -> None:
    failure = fails(StatusCode.INVALID_ARGUMENT, api("rep.north.1").FindDuplicates,
                    pb.FindDuplicatesRequest(candidate=pb.Contact(phones=phones(5_000))))
    assert failure.field == "phones"


def test_a_custom_field_key_in_chinese_is_named_in_the_answer(api, fails) -> None:
    custom = Struct()
    custom.update({"键": 1})
    rep = api("rep.north.1")
    for create, request in (
        (rep.CreateContact, pb.CreateContactRequest(contact=pb.Contact(name="自定义", custom_fields=custom))),
        (rep.CreateAccount, pb.CreateAccountRequest(account=pb.Account(name="自定义", custom_fields=custom))),
    ):
        failure = fails(StatusCode.INVALID_ARGUMENT, create, request)  # was INTERNAL: a non-ASCII trailer
        assert failure.field == "custom_fields.键"


def test_nul_in_any_text_is_refused_naming_the_field(api, fails, row_counts) -> None:
    before = row_counts()
    rep = api("rep.north.1")
    failure = fails(StatusCode.INVALID_ARGUMENT, rep.CreateContact,
                    pb.CreateContactRequest(contact=pb.Contact(name="张\x00伟")))
    assert failure.field == "name"
    failure = fails(StatusCode.INVALID_ARGUMENT, rep.CreateContact, pb.CreateContactRequest(contact=pb.Contact(
        name="张伟", addresses=[pb.Address(country="CN", city="北京", street="中关村\x00大街")])))
    assert failure.field == "addresses[0].street"
    failure = fails(StatusCode.INVALID_ARGUMENT, rep.ListContacts,
                    pb.ListContactsRequest(filter=pb.ListFilter(tag="v\x00ip")))
    assert failure.field == "tag"
    assert row_counts() == before


def test_a_page_token_past_any_sequence_is_the_callers_mistake(api, fails) -> None:
    rep = api("rep.north.1")
    contact = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="翻页")))
    page = PageRequest(page_token=HUGE_TOKEN)
    for call, request in (
        (rep.ListContacts, pb.ListContactsRequest(page=page)),
        (rep.ListAccounts, pb.ListAccountsRequest(page=page)),
        (rep.ListTimeline, pb.ListTimelineRequest(contact_id=contact.id, page=page)),
        (rep.ListSegments, pb.ListSegmentsRequest(page=page)),
    ):
        assert fails(StatusCode.INVALID_ARGUMENT, call, request).field == "page_token"


# -- the caller's deadline ---------------------------------------------------------------------

@contextmanager
def writes_blocked(runtime: ServiceRuntime) -> Iterator[None]:
    """Every write of the service waits until the block ends, as behind a slow database: on
    SQLite its one writer lock, on PostgreSQL a table lock no INSERT into contacts passes."""
    db = runtime.db
    if db.write_lock is not None:
        db.write_lock.acquire()
        try:
            yield
        finally:
            db.write_lock.release()
        return
    with db.engine.connect() as conn:
        conn.execute(text("LOCK TABLE contacts IN SHARE ROW EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()


def _answered(code: StatusCode) -> float:
    return REGISTRY.get_sample_value(
        "crm_grpc_requests_total", {"service": "contacts", "method": CREATE, "code": code.name}) or 0.0


def _stored(runtime: ServiceRuntime, name: str) -> int:
    with runtime.db.read() as session:
        return int(session.execute(select(func.count()).select_from(contacts_table)
                                   .where(contacts_table.c.name == name)).scalar_one())


def test_a_write_that_answered_deadline_exceeded_is_not_committed_afterwards(
        harness: ServiceHarness, contacts: ServiceRuntime, api: Any) -> None:
    name, key = f"迟到的客户 {uuid.uuid4().hex[:8]}", f"late-{uuid.uuid4()}"
    request = pb.CreateContactRequest(contact=pb.Contact(name=name))
    channel = grpc.insecure_channel(harness.address)
    impatient = Caller(ContactsServiceStub(channel), harness.token("rep.north.1"), timeout=0.5)
    def finished() -> float:  # the service's own count of calls it finished, whatever the answer
        return _answered(StatusCode.DEADLINE_EXCEEDED) + _answered(StatusCode.OK)

    finished_before = finished()
    try:
        with writes_blocked(contacts):
            with pytest.raises(grpc.RpcError) as gave_up:
                impatient.CreateContact(request, key=key)  # the 504 a gateway would answer
            assert gave_up.value.code() == StatusCode.DEADLINE_EXCEEDED
        # The service got its turn only now, long after its caller left: it must roll back.
        wait_for(lambda: finished() > finished_before, timeout=20, what="the late call finished in the service")
    finally:
        channel.close()
    assert _stored(contacts, name) == 0

    # Nothing was stored under the idempotency key either: the client's retry does the work once.
    retried = api("rep.north.1").CreateContact(request, key=key)
    assert retried.name == name and _stored(contacts, name) == 1
    assert api("rep.north.1").CreateContact(request, key=key) == retried
    assert _stored(contacts, name) == 1
