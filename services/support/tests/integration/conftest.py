"""The support service in-process on a free port (crmkit.testing.ServiceHarness), with a real
nats-server, the database under test, a controllable clock and a fake contacts service built
from the contract (crm_fakes.contacts.FakeContacts) as the customer record."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.support.v1.support_pb2_grpc import SupportServiceStub
from crm_fakes.contacts import FakeContacts
from crm_support import bootstrap
from crm_support.ports import GrpcContacts
from crmkit.auth import Principal
from crmkit.config import ServiceSettings
from crmkit.credentials import ServiceCredentials
from crmkit.testing import Caller, ManualClock, ServiceHarness

SECRET = "test-secret-for-shuniu-crm-0123456789"
USERS = {
    "admin": Principal("admin", ("admin",), "hq", "", "Admin"),
    "agent": Principal("agent.1", ("support",), "support", "", "客服小王"),
    "agent2": Principal("agent.2", ("support",), "support", "", "客服小李"),
    "manager": Principal("manager.support", ("manager",), "support", "", "主管"),
    "rep": Principal("rep.north.1", ("rep",), "north-sales", "north", "张伟"),
    "relay": Principal("system", ("service",), "platform", "", "mail relay"),
    "public": Principal("public-web", ("public",), "", "", "visitor"),
}


class SupportHarness(ServiceHarness):
    """ServiceHarness for support: `as_user(name)` is a SupportService caller, `contacts_as(name)`
    a caller of the fake contacts, `clock` the service's time."""

    def __init__(self, url: str, nats_url: str, tmp: Path, contacts: FakeContacts, **overrides: Any) -> None:
        self.clock = ManualClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # Monday 09:00 in Shanghai
        self.contacts = contacts

        def contacts_port(settings: ServiceSettings) -> GrpcContacts:
            return GrpcContacts(contacts.address, ServiceCredentials(settings.auth))

        # The scheduler runs only when a test ticks it.
        super().__init__("support", bootstrap.spec, url=url, nats_url=nats_url, tmp=tmp, secret=SECRET,
                         users=USERS, clock=self.clock, contacts=contacts_port, scheduler_interval=3600,
                         mail_interval=3600, **overrides)

    def as_user(self, name: str, stub: Any = SupportServiceStub) -> Caller:
        return super().as_user(name, stub)

    def contacts_as(self, name: str) -> Caller:
        channel = grpc.insecure_channel(self.contacts.address)
        self._channels.append(channel)
        return Caller(ContactsServiceStub(channel), self.token(name))


@pytest.fixture
def contacts() -> Iterator[FakeContacts]:
    fake = FakeContacts(SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def support_overrides() -> dict[str, Any]:
    """More `bootstrap.spec` overrides (a mailer factory ...): a test module redefines this fixture."""
    return {}


@pytest.fixture
def support(database_url: str, nats_server: Any, tmp_path: Path, contacts: FakeContacts,
            support_overrides: dict[str, Any]) -> Iterator[SupportHarness]:
    harness = SupportHarness(database_url, nats_server.url, tmp_path, contacts, **support_overrides)
    harness.migrate().start()
    yield harness
    harness.stop()


class Api:
    def __init__(self, h: SupportHarness) -> None:
        for name in USERS:
            setattr(self, name, h.as_user(name))


@pytest.fixture
def api(support: SupportHarness) -> Api:
    return Api(support)


@pytest.fixture
def rpc_error() -> Any:
    """rpc_error(fn, request) → the grpc.RpcError the call raised (fails when it succeeded)."""
    def call(fn: Any, *args: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            fn(*args)
        return info.value
    return call
