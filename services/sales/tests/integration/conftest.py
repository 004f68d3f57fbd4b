"""The sales service in-process on a free port, with a real nats-server, the database under
test, a controllable clock and the real contacts service (on SQLite) for conversions."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.sales.v1.sales_pb2_grpc import SalesServiceStub
from crm_contacts.bootstrap import SPEC as CONTACTS_SPEC
from crm_sales.bootstrap import make_spec
from crm_sales.contacts_port import GrpcContacts
from crm_sales.jobs import SchedulerWorker
from crmkit.auth import Principal, mint_token
from crmkit.config import ServiceSettings
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import Caller, ManualClock, in_process_settings, wait_for

SECRET = "test-secret-for-shuniu-crm-0123456789"
REPS = {
    "admin": Principal("admin", ("admin",), "hq", "", "Admin"),
    "manager.north": Principal("manager.north", ("manager",), "north-sales", "north", "王经理"),
    "rep.north.1": Principal("rep.north.1", ("rep",), "north-sales", "north", "张伟"),
    "rep.north.2": Principal("rep.north.2", ("rep",), "north-sales", "north", "李娜"),
    "rep.south.1": Principal("rep.south.1", ("rep",), "south-sales", "south", "刘洋"),
    "legal": Principal("legal.1", ("legal",), "hq", "", "法务"),
    "finance": Principal("finance.1", ("finance",), "hq", "", "财务"),
    "marketing": Principal("marketing.1", ("marketing",), "marketing", "", "市场"),
}


def Clock() -> ManualClock:  # noqa: N802 - used as a class-like factory by the harness
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def settings_for(service: str, url: str, nats_url: str, data_dir: Path) -> ServiceSettings:
    return in_process_settings(service, url, nats_url, data_dir, SECRET)


@dataclass
class SalesHarness:
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

    def start(self) -> SalesHarness:
        assert self.contacts is not None
        addr = self.contacts.address
        spec = make_spec(clock=self.clock, contacts=lambda: GrpcContacts(addr), scheduler_interval=3600,
                         on_scheduler=lambda w: setattr(self, "worker", w))
        self.runtime = ServiceRuntime(spec, settings_for("sales", self.url, self.nats_url, self.tmp)).start()
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
        return Caller(SalesServiceStub(channel), mint_token(REPS[name], SECRET))

    def contacts_as(self, name: str) -> Caller:
        assert self.contacts is not None
        channel = grpc.insecure_channel(self.contacts.address)
        self.channels.append(channel)
        return Caller(ContactsServiceStub(channel), mint_token(REPS[name], SECRET))

    def stop(self) -> None:
        for channel in self.channels:
            channel.close()
        for runtime in (self.runtime, self.contacts):
            if runtime is not None:
                runtime.stop()


@pytest.fixture
def sales(database_url: str, nats_server: Any, tmp_path: Path) -> Iterator[SalesHarness]:
    upgrade(database_url, make_spec().migrations)
    harness = SalesHarness(database_url, nats_server.url, tmp_path)
    harness.start_contacts()
    harness.start()
    yield harness
    harness.stop()


class Api:
    """Every demo user's stub on one object: api.admin, api.rep1, api.manager ..."""

    def __init__(self, h: SalesHarness) -> None:
        self.admin = h.as_user("admin")
        self.manager = h.as_user("manager.north")
        self.rep1 = h.as_user("rep.north.1")
        self.rep2 = h.as_user("rep.north.2")
        self.south = h.as_user("rep.south.1")
        self.legal = h.as_user("legal")
        self.finance = h.as_user("finance")
        self.marketing = h.as_user("marketing")


@pytest.fixture
def api(sales: SalesHarness) -> Api:
    return Api(sales)


@pytest.fixture
def rpc_error() -> Any:
    """rpc_error(fn, request) → the grpc.RpcError the call raised (fails when it succeeded)."""
    def call(fn: Any, *args: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            fn(*args)
        return info.value
    return call
