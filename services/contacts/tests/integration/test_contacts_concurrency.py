"""Writes racing on one customer: optimistic concurrency holds, no change is lost, and the
events carry one distinct version each (read models order by it)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_pb2 as pb

pytestmark = pytest.mark.integration

RACERS = 8


def _race(calls) -> list:
    """Runs the calls at the same time; returns each result or RpcError."""
    def attempt(call):
        try:
            return call()
        except grpc.RpcError as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(attempt, calls))


def test_concurrent_updates_with_the_same_expected_version_let_exactly_one_win(api, contacts, stream) -> None:
    rep = api("rep.north.1")
    for _ in range(3):
        c = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="抢单客户")))
        results = _race([
            (lambda i=i, c=c: rep.UpdateContact(pb.UpdateContactRequest(
                contact=pb.Contact(id=c.id, title=f"title {i}"), update_mask=FieldMask(paths=["title"]),
                expected_version=1)))
            for i in range(RACERS)])
        won = [r for r in results if isinstance(r, pb.Contact)]
        lost = [r for r in results if isinstance(r, grpc.RpcError)]
        assert [e.code() for e in lost] == [grpc.StatusCode.ABORTED] * (RACERS - 1)
        assert len(won) == 1 and won[0].version == 2
        assert rep.GetContact(pb.GetContactRequest(id=c.id)) == won[0]
        assert stream.subjects(contacts, c.id) == ["crm.contacts.contact.created", "crm.contacts.contact.updated"]


def test_concurrent_tagging_loses_no_tag_and_versions_stay_distinct(api, contacts, stream) -> None:
    rep = api("rep.north.1")
    c = rep.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name="多人打标签")))
    results = _race([(lambda i=i: rep.TagContact(pb.TagContactRequest(id=c.id, add=[f"tag{i}"])))
                     for i in range(RACERS)])
    assert all(isinstance(r, pb.Contact) for r in results), results
    final = rep.GetContact(pb.GetContactRequest(id=c.id))
    assert sorted(final.tags) == sorted(f"tag{i}" for i in range(RACERS))
    assert final.version == 1 + RACERS
    versions = [env.aggregate_version for _, env in stream.events(contacts, c.id)]
    assert sorted(versions) == list(range(1, RACERS + 2))


def test_concurrent_creates_with_the_same_phone_make_one_contact(api, contacts, new_phone) -> None:
    rep = api("rep.north.1")
    for _ in range(5):
        phone = new_phone()
        results = _race([(lambda i=i, phone=phone: rep.CreateContact(pb.CreateContactRequest(
            contact=pb.Contact(name=f"同一个人 {i}", phones=[pb.Phone(number=phone)])))) for i in range(RACERS)])
        created = [r for r in results if isinstance(r, pb.Contact)]
        refused = [r.code() for r in results if isinstance(r, grpc.RpcError)]
        assert len(created) == 1, f"{len(created)} contacts created with the same phone"
        assert refused == [grpc.StatusCode.ALREADY_EXISTS] * (RACERS - 1)
