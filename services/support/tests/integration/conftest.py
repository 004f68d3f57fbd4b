"""The support service in-process on a free port, with a real nats-server, the database under
test, a controllable clock and the real contacts service (on SQLite) as the customer record."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.support.v1.support_pb2_grpc import SupportServiceStub
from crm_contacts.bootstrap import SPEC as CONTACTS_SPEC
from crm_support.bootstrap import make_spec
from crm_support.contacts_port import GrpcContacts
from crm_support.scheduler import SchedulerWorker
from crmkit.auth import Principal, mint_token
from crmkit.config import ServiceSettings
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import Caller, ManualClock, in_process_settings, wait_for

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


def Clock() -> ManualClock:  # noqa: N802 - used as a class-like factory by the harness
    return ManualClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))


def settings_for(service: str, url: str, nats_url: str, data_dir: Path) -> ServiceSettings:
    return in_process_settings(service, url, nats_url, data_dir, SECRET)


@dataclass
class SupportHarness:
    url: str
    nats_url: str
    tmp: Path
    clock: Clock = field(default_factory=Clock)
    runtime: ServiceRuntime | None = None
    contacts: ServiceRuntime | None = None
    worker: SchedulerWorker | None = None
    channels: list[grpc.Channel] = field(default_factory=list)

    def start_contacts(self) -> None:
        url = f"sqlite:///{self.tmp / 'contacts.db'}"
        upgrade(url, CONTACTS_SPEC.migrations)
        self.contacts = ServiceRuntime(CONTACTS_SPEC, settings_for("contacts", url, self.nats_url, self.tmp)).start()

    def start(self) -> SupportHarness:
        assert self.contacts is not None
        addr = self.contacts.address
        spec = make_spec(clock=self.clock, contacts=lambda s: GrpcContacts(addr, s.auth.jwt_secret),
                         scheduler_interval=3600, on_scheduler=lambda w: setattr(self, "worker", w))
        self.runtime = ServiceRuntime(spec, settings_for("support", self.url, self.nats_url, self.tmp)).start()
        return self

    def restart(self) -> None:
        assert self.runtime is not None
        self.runtime.stop()
        self.start()

    def tick(self) -> None:
        """Run the scheduler once now and wait until that run finished."""
        assert self.worker is not None
        before = self.worker.ticks
        self.worker.tick()
        wait_for(lambda: self.worker.ticks > before, what="a scheduler run")  # type: ignore[union-attr]

    def as_user(self, name: str) -> Caller:
        assert self.runtime is not None
        channel = grpc.insecure_channel(self.runtime.address)
        self.channels.append(channel)
        return Caller(SupportServiceStub(channel), mint_token(USERS[name], SECRET))

    def contacts_as(self, name: str) -> Caller:
        assert self.contacts is not None
        channel = grpc.insecure_channel(self.contacts.address)
        self.channels.append(channel)
        return Caller(ContactsServiceStub(channel), mint_token(USERS[name], SECRET))

    def events(self) -> list[str]:
        """Subjects written to the outbox so far, in order."""
        from sqlalchemy import select

        from crmkit.runtime_tables import outbox_row

        assert self.runtime is not None
        with self.runtime.db.read() as session:
            return list(session.execute(select(outbox_row.c.subject).order_by(outbox_row.c.id)).scalars())

    def stop(self) -> None:
        for channel in self.channels:
            channel.close()
        for runtime in (self.runtime, self.contacts):
            if runtime is not None:
                runtime.stop()


@pytest.fixture
def support(database_url: str, nats_server: Any, tmp_path: Path) -> Iterator[SupportHarness]:
    upgrade(database_url, make_spec().migrations)
    harness = SupportHarness(database_url, nats_server.url, tmp_path)
    harness.start_contacts()
    harness.start()
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
