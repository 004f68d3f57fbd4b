"""The marketing service in-process on a free port (crmkit.testing.ServiceHarness), with a real
nats-server, the database under test, a real SMTP sink (crmkit.testing.SmtpSink) that keeps every
message it receives, and fakes of contacts and sales built from their contracts
(crm_fakes.contacts.FakeContacts for segment members, consent and form contacts;
crm_fakes.sales.FakeSales for the leads of forms and qualified contacts)."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crm.marketing.v1 import marketing_pb2 as pb
from crm.marketing.v1.marketing_pb2_grpc import MarketingServiceStub
from crm_fakes.contacts import FakeContacts
from crm_fakes.sales import FakeSales
from crm_marketing import bootstrap, jobs
from crm_marketing.ports import GrpcContacts, GrpcSales, SmtpRounds
from crmkit import bus
from crmkit.auth import Principal
from crmkit.config import ServiceSettings
from crmkit.credentials import ServiceCredentials
from crmkit.events import EventTypes, new_event
from crmkit.testing import Caller, ServiceHarness, SmtpSink

SECRET = "test-secret-for-shuniu-crm-0123456789"
CONTACTS = EventTypes(cev.EventType)
USERS = {
    "admin": Principal("admin", ("admin",), "hq", "", "Admin"),
    "mkt": Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李"),
    "manager": Principal("mgr.1", ("marketing", "manager"), "marketing", "east", "市场经理"),
    "analyst": Principal("ana.1", ("analyst",), "bi", "", "分析师"),
    "rep": Principal("rep.north.1", ("rep",), "north-sales", "north", "张伟"),
    "public": Principal("public-web", ("public",), "", "", "visitor"),
}


class MarketingHarness(ServiceHarness):
    """ServiceHarness for marketing: `as_user(name)` is a MarketingService caller; the sender looks
    for work every 0.1 s; the consent scheduler runs only when a test ticks it."""

    def __init__(self, url: str, nats_url: str, tmp: Path, contacts: FakeContacts, sink: SmtpSink,
                 send_options: jobs.SendOptions, sales: FakeSales, **overrides: Any) -> None:
        self.contacts, self.sink, self.sales = contacts, sink, sales

        def contacts_port(settings: ServiceSettings) -> GrpcContacts:
            return GrpcContacts(contacts.address, ServiceCredentials(settings.auth), timeout=3.0)

        def sales_port(settings: ServiceSettings) -> GrpcSales:
            return GrpcSales(sales.address, ServiceCredentials(settings.auth), timeout=3.0)

        super().__init__("marketing", bootstrap.spec, url=url, nats_url=nats_url, tmp=tmp, secret=SECRET,
                         users=USERS, contacts=contacts_port, mailer=lambda settings: SmtpRounds.from_url(sink.url, 4),
                         sales=sales_port, send_options=send_options, sender_interval=0.1,
                         scheduler_interval=3600, automation_interval=3600, env={}, **overrides)

    def as_user(self, name: str, stub: Any = MarketingServiceStub) -> Caller:
        return super().as_user(name, stub)

    def publish_contacts(self, *contacts: cpb.Contact) -> None:
        """Each contact as contacts publishes it on its stream (crm.contacts.contact.created)."""
        envelopes = [new_event(producer="contacts", event_type=CONTACTS.CONTACT_CREATED, aggregate_type="contact",
                               aggregate_id=c.id, aggregate_version=c.version,
                               payload=cev.ContactCreated(contact=c)) for c in contacts]
        publish(self.nats_url, [(e.subject, e.event_id, e.data) for e in envelopes])

    def publish_event(self, producer: str, event_type: str, aggregate_id: str, payload: Any) -> None:
        """One event as `producer` (sales, support) publishes it on its stream."""
        envelope = new_event(producer=producer, event_type=event_type, aggregate_type=event_type.split(".")[2],
                             aggregate_id=aggregate_id, aggregate_version=1, payload=payload)
        publish(self.nats_url, [(envelope.subject, envelope.event_id, envelope.data)], producer)


def publish(nats_url: str, messages: list[tuple[str, str, bytes]], producer: str = "contacts") -> None:
    async def send() -> None:
        nc = await bus.connect(nats_url, f"test-{producer}")
        try:
            js = nc.jetstream()
            await bus.ensure_stream(js, producer)
            for subject, event_id, data in messages:
                await js.publish(subject, data, headers={"Nats-Msg-Id": event_id})
        finally:
            await nc.close()
    asyncio.run(send())


def consented(name: str, email: str, *, granted: bool = True, **fields: Any) -> cpb.Contact:
    contact = cpb.Contact(name=name, emails=[cpb.Email(address=email)], version=1, **fields)
    consent = contact.consents.add(purpose="marketing_email", granted=granted, source="web_form")
    consent.at.GetCurrentTime()
    return contact


def template(name: str = "邀请") -> pb.Template:
    return pb.Template(name=name, contents=[
        pb.TemplateContent(language="zh-CN", subject="{{ name }}，诚邀您参加{{ campaign_name }}",
                           text="尊敬的{{ name }}：详情见 https://shop.example/expo",
                           html='<p>尊敬的{{ name }}</p><a href="https://shop.example/expo">展会详情</a>'),
        pb.TemplateContent(language="en", subject="{{ name }}, join us at {{ campaign_name }}",
                           text="Dear {{ name }}, see https://shop.example/expo")])


@pytest.fixture
def contacts() -> Iterator[FakeContacts]:
    fake = FakeContacts(SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def sales() -> Iterator[FakeSales]:
    fake = FakeSales(SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    server = SmtpSink(tmp_path / "mail").start()
    yield server
    server.stop()


@pytest.fixture
def send_options() -> jobs.SendOptions:
    return jobs.SendOptions(rate=500)


@pytest.fixture
def overrides() -> dict[str, Any]:
    """More overrides of bootstrap.spec for one test module (a ManualClock)."""
    return {}


@pytest.fixture
def marketing(database_url: str, nats_server: Any, tmp_path: Path, contacts: FakeContacts, sink: SmtpSink,
              send_options: jobs.SendOptions, sales: FakeSales, overrides: dict[str, Any]) -> Iterator[MarketingHarness]:
    harness = MarketingHarness(database_url, nats_server.url, tmp_path, contacts, sink, send_options, sales,
                               **overrides)
    harness.migrate().start()
    yield harness
    harness.stop()


class Api:
    def __init__(self, h: MarketingHarness) -> None:
        for name in USERS:
            setattr(self, name, h.as_user(name))


@pytest.fixture
def api(marketing: MarketingHarness) -> Api:
    return Api(marketing)


@pytest.fixture
def rpc_error() -> Any:
    """rpc_error(fn, request) → the grpc.RpcError the call raised (fails when it succeeded)."""
    def call(fn: Any, *args: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            fn(*args)
        return info.value
    return call

