"""Sealed events end to end in the runtime: a producer's events reach a real nats-server without
a readable personal field, a consumer opens them with keys asked of the producer's SubjectKeys
gRPC service (services only), and after the key is destroyed it still applies the event, with the
marker, instead of failing or parking it."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import pytest
from sqlalchemy import func, select

from crm.common.v1 import subject_keys_pb2 as kpb
from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.common.v1.subject_keys_pb2_grpc import SubjectKeysStub
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crmkit import bus, shredding
from crmkit.auth import SYSTEM, Principal, TokenVerifier, mint_token
from crmkit.config import AuthSettings
from crmkit.consumer import EventConsumer
from crmkit.db import Database, UnitOfWork
from crmkit.events import Emitter, EventTypes, unpack_payload
from crmkit.grpc_server import GrpcServer
from crmkit.runtime_tables import create_runtime_tables, dead_letter_row, outbox_row
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration

SECRET = "s" * 32
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
emit = Emitter("contacts", EventTypes(cev.EventType))


@pytest.fixture
def keys_server(db: Database) -> Iterator[GrpcServer]:
    server = GrpcServer(service="contacts", port=0, verifier=TokenVerifier(AuthSettings(SECRET, None, None, None)),
                        registrations=[shredding.registration(db)], service_names=[shredding.SERVICE_NAME],
                        host="127.0.0.1", max_workers=4).start()
    yield server
    server.server.stop(0)


def _outbox(db: Database) -> list[tuple[str, bytes, str]]:
    with db.read() as session:
        rows = session.execute(select(outbox_row.c.subject, outbox_row.c.payload, outbox_row.c.event_id)
                               .order_by(outbox_row.c.id))
        return [(r.subject, r.payload, r.event_id) for r in rows]


def test_a_consumer_reads_the_person_while_the_key_exists_and_the_marker_after(
        db, tmp_path, killable_nats, background, keys_server, rt) -> None:
    with db.unit_of_work() as uow:
        for version, name in ((1, "李雷"), (2, "李雷 (天津港)")):
            contact = cpb.Contact(id="c-0001", name=name, region="north", version=version,
                                  emails=[cpb.Email(address="li.lei@tjport.example")])
            emit(uow, REP, "crm.contacts.contact.created" if version == 1 else "crm.contacts.contact.updated",
                 "c-0001", version, cev.ContactCreated(contact=contact) if version == 1
                 else cev.ContactUpdated(contact=contact), NOW)
        uow.commit()
    first, second = _outbox(db)
    rt.run_async(rt.publish, killable_nats.url, "contacts", [first])
    raw = rt.run_async(rt.read_stream, killable_nats.url, bus.stream_name("contacts"))
    assert raw and all(b"li.lei" not in env.SerializeToString() for _, env in raw)

    consumer_db = Database(f"sqlite:///{tmp_path / 'consumer.db'}")
    with consumer_db.engine.begin() as conn:
        create_runtime_tables(conn)
        rt.applied.metadata.create_all(conn)

    def handler(uow: UnitOfWork, env: EventEnvelope) -> None:
        contact = unpack_payload(env).contact
        value = f"{contact.id}|{contact.name}|{','.join(e.address for e in contact.emails)}|{shredding.erased(env)}"
        uow.session.execute(rt.applied.insert().values(event_id=env.event_id, value=value))

    token = mint_token(SYSTEM, SECRET)
    keys = shredding.KeyClient(lambda: f"Bearer {token}",
                               env={"CONTACTS_SERVICE_ADDR": f"127.0.0.1:{keys_server.port}"}, ttl=0.0)
    name = f"consumer-{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(consumer_db, killable_nats.url, name, ["contacts"], handler, keys=keys,
                             max_deliveries=2)
    background.start("consumer", consumer.run(), consumer.stop)
    wait_for(lambda: len(rt.applied_values(consumer_db)) == 1, what="the created event applied")
    assert rt.applied_values(consumer_db) == ["c-0001|李雷|li.lei@tjport.example|False"]

    with db.unit_of_work() as uow:  # the erasure
        assert shredding.destroy(uow.session, ["c-0001"]) == 1
        uow.commit()
    rt.run_async(rt.publish, killable_nats.url, "contacts", [second])
    wait_for(lambda: len(rt.applied_values(consumer_db)) == 2, what="the update applied without its key")
    assert rt.applied_values(consumer_db)[1] == "c-0001|||True"
    with consumer_db.read() as session:
        assert session.execute(select(func.count()).select_from(dead_letter_row)).scalar_one() == 0
    assert keys.calls == 2
    consumer_db.dispose()


def test_subject_keys_answer_services_only(db, keys_server) -> None:
    with db.unit_of_work() as uow:
        emit(uow, REP, "crm.contacts.contact.created", "c-0001", 1,
             cev.ContactCreated(contact=cpb.Contact(id="c-0001", name="李雷")), NOW)
        uow.commit()
    channel = grpc.insecure_channel(f"127.0.0.1:{keys_server.port}")
    stub = SubjectKeysStub(channel)
    ask = kpb.GetSubjectKeysRequest(key_ids=["contacts/contact/c-0001", "contacts/contact/c-gone"])

    admin = mint_token(Principal("admin", ("admin",), "", ""), SECRET)
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetSubjectKeys(ask, metadata=(("authorization", f"Bearer {admin}"),), timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

    answer = stub.GetSubjectKeys(ask, metadata=(("authorization", f"Bearer {mint_token(SYSTEM, SECRET)}"),),
                                 timeout=5)
    assert [k.key_id for k in answer.keys] == ["contacts/contact/c-0001"] and len(answer.keys[0].key) == 32
    assert list(answer.erased) == ["contacts/contact/c-gone"]
    channel.close()


def test_a_producer_that_cannot_be_asked_makes_the_event_wait_not_park() -> None:
    keys = shredding.KeyClient(lambda: "", env={})
    env = EventEnvelope(event_id="e-1")
    env.sealed.key_id, env.sealed.ciphertext = "nowhere/contact/c-1", b"x" * 20
    with pytest.raises(shredding.KeysUnavailable, match="NOWHERE_SERVICE_ADDR"):
        keys.open_all([env])
