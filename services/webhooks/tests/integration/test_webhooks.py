"""The webhooks service in-process on a real nats-server, delivering to a real HTTP receiver on a
local port (allowed through WEBHOOKS_ALLOWED_CIDRS, as an administrator would allow an ERP's
range): a won deal published on SALES reaches the receiver once, signed; internal targets are
refused at creation naming the field; a failing receiver's retries show in the log, it is parked,
and a replay delivers it under the same id. On SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import nats
import pytest
import sqlalchemy as sa

from crm.sales.v1 import events_pb2, sales_pb2
from crm.webhooks.v1 import webhooks_pb2 as pb
from crm.webhooks.v1.webhooks_pb2_grpc import WebhooksServiceStub
from crm_webhooks import bootstrap
from crmkit import bus
from crmkit.auth import Principal
from crmkit.errors import ERROR_FIELD_KEY
from crmkit.events import new_event
from crmkit.testing import Caller, NatsServer, ServiceHarness, wait_for

from ..receiver import Receiver

pytestmark = pytest.mark.integration

SECRET = "webhooks-integration-secret-0123456789abcdef"
USERS = {"erp": Principal("erp.bot", ("integration",)), "rep": Principal("rep.north.1", ("rep",))}
ENV = {"WEBHOOKS_ALLOWED_CIDRS": "127.0.0.1/32", "WEBHOOKS_RETRY_BASE_SECONDS": "0.1",
       "WEBHOOKS_RETRY_HOURS": "0.0005", "WEBHOOKS_POLL_SECONDS": "0.1",  # a "day" of 1.8 s
       "WEBHOOKS_SECRET_KEY": "webhooks-integration-sealing-key-0123456789"}


@pytest.fixture(scope="module")
def own_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("webhooks-nats")).start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


@pytest.fixture
def service(own_nats: NatsServer, tmp_path: Path, database_url: str) -> Iterator[ServiceHarness]:
    """On SQLite, and on PostgreSQL when it is reachable (production's database)."""
    harness = ServiceHarness("webhooks", bootstrap.spec, url=database_url,
                             nats_url=own_nats.url, tmp=tmp_path, secret=SECRET, users=USERS, env=ENV)
    harness.migrate().start()
    yield harness
    harness.stop()


def publish_won(url: str, opp_id: str) -> str:
    env = new_event(producer="sales", event_type="crm.sales.opportunity.won", aggregate_type="opportunity",
                    aggregate_id=opp_id, aggregate_version=3, payload=events_pb2.OpportunityClosed(
                        opportunity=sales_pb2.Opportunity(id=opp_id, name="年度采购", status="won")))

    async def run() -> None:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            await bus.ensure_stream(js, "sales")
            await js.publish(env.subject, env.data, headers={"Nats-Msg-Id": env.event_id})
        finally:
            await nc.close()

    asyncio.run(run())
    return env.event_id


def subscribe(erp: Caller, url: str) -> pb.Subscription:
    return erp.CreateSubscription(pb.CreateSubscriptionRequest(
        subscription=pb.Subscription(target_url=url, event_types=["opportunity.won"])))


def deliveries(erp: Caller, sub_id: str) -> list[pb.Delivery]:
    return list(erp.ListDeliveries(pb.ListDeliveriesRequest(subscription_id=sub_id)).deliveries)


def test_a_won_deal_reaches_the_receiver_once_signed(service: ServiceHarness, receiver: Receiver,
                                                      own_nats: NatsServer) -> None:
    erp = service.as_user("erp", WebhooksServiceStub)
    sub = subscribe(erp, receiver.url)
    receiver.secret = sub.secret
    event_id = publish_won(own_nats.url, "o-int-1")
    wait_for(lambda: len(receiver.got()) == 1, what="the delivery")
    (got,) = receiver.got()
    assert got.verified and got.event_type == "opportunity.won"
    assert got.document["event_id"] == event_id and got.document["data"]["opportunity"]["name"] == "年度采购"
    wait_for(lambda: deliveries(erp, sub.id)[0].status == "delivered", what="the log to say delivered")
    (logged,) = deliveries(erp, sub.id)
    assert logged.id == got.delivery_id and logged.last_status_code == 200 and logged.attempts == 1
    assert "opportunity.won" in {t.name for t in erp.ListEventTypes(pb.ListEventTypesRequest()).event_types}


@pytest.mark.parametrize("url,why", [
    ("http://10.0.0.1/hooks", "private"), ("http://169.254.169.254/latest/meta-data", "metadata"),
    ("http://[::ffff:192.168.0.1]/", "private"), ("http://localhost.invalid/", "resolve"),
    ("ftp://127.0.0.1/", "http and https"),
])
def test_internal_targets_are_refused_at_creation_naming_the_field(service: ServiceHarness, url: str,
                                                                   why: str) -> None:
    erp = service.as_user("erp", WebhooksServiceStub)
    with pytest.raises(grpc.RpcError) as caught:
        subscribe(erp, url)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and why in caught.value.details()
    assert dict(caught.value.trailing_metadata() or ())[ERROR_FIELD_KEY] == "target_url"


def test_a_rep_cannot_subscribe(service: ServiceHarness, receiver: Receiver) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        subscribe(service.as_user("rep", WebhooksServiceStub), receiver.url)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_failing_receiver_is_retried_then_parked_and_a_replay_delivers_it(
        service: ServiceHarness, receiver: Receiver, own_nats: NatsServer) -> None:
    erp = service.as_user("erp", WebhooksServiceStub)
    sub = subscribe(erp, receiver.url)
    receiver.secret, receiver.status = sub.secret, 500
    publish_won(own_nats.url, "o-int-2")
    wait_for(lambda: bool(deliveries(erp, sub.id)) and deliveries(erp, sub.id)[0].status == "parked",
             timeout=30, what="the delivery to be parked")
    (parked,) = deliveries(erp, sub.id)
    assert parked.attempts >= 3 and parked.last_status_code == 500 and "HTTP 500" in parked.last_error
    tries = receiver.got()
    assert len(tries) == parked.attempts and {t.delivery_id for t in tries} == {parked.id}
    receiver.status = 200
    replayed = erp.ReplayDelivery(pb.ReplayDeliveryRequest(subscription_id=sub.id, delivery_id=parked.id))
    assert replayed.status == "pending"
    wait_for(lambda: deliveries(erp, sub.id)[0].status == "delivered", what="the replay to be delivered")
    assert receiver.got()[-1].delivery_id == parked.id and receiver.got()[-1].verified


def test_a_retried_create_gets_the_same_secret_and_no_table_holds_it_in_clear(
        service: ServiceHarness, receiver: Receiver) -> None:
    erp = service.as_user("erp", WebhooksServiceStub)
    request = pb.CreateSubscriptionRequest(subscription=pb.Subscription(target_url=receiver.url,
                                                                       event_types=["opportunity.won"]))
    first = erp.CreateSubscription(request, key="create-sub-1")
    again = erp.CreateSubscription(request, key="create-sub-1")
    assert again.id == first.id and again.secret == first.secret and first.secret.startswith("whsec_")
    rotated = erp.RotateSecret(pb.RotateSecretRequest(id=first.id), key="rotate-1")
    assert erp.RotateSecret(pb.RotateSecretRequest(id=first.id), key="rotate-1").secret == rotated.secret
    engine = sa.create_engine(service.url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            dump = [repr(tuple(row)) for t in tables for row in conn.execute(sa.text(f'SELECT * FROM "{t}"'))]
    finally:
        engine.dispose()
    assert "crm_idempotency_keys" in tables and any("create-sub-1" in d for d in dump)
    for secret in (first.secret, rotated.secret):
        assert not any(secret in d or secret.encode().hex() in d for d in dump), "a secret stored in clear"
