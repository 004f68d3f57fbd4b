"""The sales service in-process on a free port (crmkit.testing.ServiceHarness): its real runtime
on the database under test and a real nats-server, a controllable clock, a scheduler that runs
only when a test ticks it, and a fake contacts service built from the contacts contract."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.sales.v1.sales_pb2_grpc import SalesServiceStub
from crm_fakes.contacts import FakeContacts
from crm_sales import bootstrap
from crm_sales.ports import GrpcContacts
from crmkit.auth import Principal
from crmkit.testing import Caller, ManualClock, ServiceHarness

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


class SalesHarness(ServiceHarness):
    """`as_user(name)` is a sales stub; `contacts` the fake contacts service (its `calls` count
    what sales asked of it); `contacts_as(name)` a stub on it."""

    def __init__(self, *, url: str, nats_url: str, tmp: Path) -> None:
        self.clock = Clock()
        self.contacts = FakeContacts(SECRET).start()
        address = self.contacts.address
        # The scheduler runs once at start and then only when a test ticks it.
        super().__init__("sales", bootstrap.spec, url=url, nats_url=nats_url, tmp=tmp, secret=SECRET, users=REPS,
                         clock=self.clock, contacts=lambda: GrpcContacts(address), scheduler_interval=3600)

    def as_user(self, name: str, stub: Callable[[Any], Any] = SalesServiceStub) -> Caller:
        return super().as_user(name, stub)

    def contacts_as(self, name: str) -> Caller:
        channel = grpc.insecure_channel(self.contacts.address)
        self._channels.append(channel)
        return Caller(ContactsServiceStub(channel), self.token(name))

    def stop(self) -> None:
        super().stop()
        self.contacts.stop()


@pytest.fixture
def sales(database_url: str, nats_server: Any, tmp_path: Path) -> Iterator[SalesHarness]:
    harness = SalesHarness(url=database_url, nats_url=nats_server.url, tmp=tmp_path)
    try:
        harness.migrate().start()
        yield harness
    finally:
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
