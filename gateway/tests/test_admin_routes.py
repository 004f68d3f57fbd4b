"""Offboarding through the gateway against fake services on real gRPC servers: one request calls
sales' transfer and every other service's Reassign with keys derived from the operation; a
service that is down stops it with a 503 naming that service and what was already done, and
the retry with the same Idempotency-Key sends the same keys (each service replays its part)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from crm.common.v1.ownership_pb2 import ReassignResponse
from crm.contacts.v1 import contacts_pb2_grpc
from crm.marketing.v1 import marketing_pb2_grpc
from crm.sales.v1 import sales_pb2 as spb
from crm.sales.v1 import sales_pb2_grpc
from crm.support.v1 import support_pb2_grpc
from crmkit.auth import Principal, TokenVerifier, mint_token
from crmkit.errors import PermissionDenied
from crmkit.grpc_server import GrpcServer, idempotency_key

from .conftest import SECRET

MOVED = {"contacts": {"accounts": 2, "contacts": 3}, "support": {"tickets": 1}, "marketing": {"campaigns": 1}}


class Part:
    """One service's side of offboarding: records each call's request and idempotency key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[Any, str]] = []
        self.down = False

    def answer(self, request: Any, context: Any) -> Any:
        if self.down:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.name} is down (fake)")
        self.calls.append((request, idempotency_key.get()))
        if self.name == "sales":
            if request.from_user_id == "rep.north.1" and request.to_user_id == "nobody":
                raise PermissionDenied("only a manager or an admin can move a rep's work")
            return spb.TransferOwnershipResponse(leads=1, opportunities=2, tasks=3, quotes=0)
        return ReassignResponse(service=self.name, moved=MOVED[self.name])


def _servicer(base: type, part: Part, method: str) -> Any:
    return type(f"Fake{part.name}", (base,), {method: lambda self, request, context: part.answer(request, context)})()


@pytest.fixture
def parts(settings: Any) -> Iterator[dict[str, Part]]:
    made = {name: Part(name) for name in ("sales", "contacts", "support", "marketing")}
    wiring: list[tuple[str, str, Callable[..., None], Any]] = [
        ("sales", "crm.sales.v1.SalesService", sales_pb2_grpc.add_SalesServiceServicer_to_server,
         _servicer(sales_pb2_grpc.SalesServiceServicer, made["sales"], "TransferOwnership")),
        ("contacts", "crm.contacts.v1.ContactsService", contacts_pb2_grpc.add_ContactsServiceServicer_to_server,
         _servicer(contacts_pb2_grpc.ContactsServiceServicer, made["contacts"], "Reassign")),
        ("support", "crm.support.v1.SupportService", support_pb2_grpc.add_SupportServiceServicer_to_server,
         _servicer(support_pb2_grpc.SupportServiceServicer, made["support"], "Reassign")),
        ("marketing", "crm.marketing.v1.MarketingService", marketing_pb2_grpc.add_MarketingServiceServicer_to_server,
         _servicer(marketing_pb2_grpc.MarketingServiceServicer, made["marketing"], "Reassign")),
    ]
    servers = []
    for name, service_name, register, fake in wiring:
        servers.append(GrpcServer(service=name, port=0, host="127.0.0.1", verifier=TokenVerifier(settings.auth),
                                  registrations=[lambda s, r=register, f=fake: r(f, s)],
                                  service_names=[service_name], max_workers=4).start())
    for part, server in zip(made.values(), servers, strict=True):
        part.addr = f"127.0.0.1:{server.port}"  # type: ignore[attr-defined]
    yield made
    for server in servers:
        server.server.stop(0)


@pytest.fixture
def admin_client(make_client: Any, settings: Any, parts: dict[str, Part]) -> Any:
    return make_client(settings, contacts_addr=parts["contacts"].addr,  # type: ignore[attr-defined]
                       optional_addrs={n: p.addr for n, p in parts.items() if n != "contacts"})  # type: ignore[attr-defined]


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(Principal('admin', ('admin',), 'hq', ''), SECRET)}"}


BODY = {"from_user_id": "rep.north.9", "to_user_id": "rep.north.2", "reason": "离职"}


def test_one_request_moves_the_work_in_every_service_and_lists_each_count(admin_client, admin, parts) -> None:
    r = admin_client.post("/api/v1/admin/offboarding", headers={**admin, "Idempotency-Key": "op-7"}, json=BODY)
    assert r.status_code == 200, r.get_data(as_text=True)
    doc = r.get_json()
    assert doc["operation_id"] == "op-7" and doc["total"] == 1 + 2 + 3 + 0 + 2 + 3 + 1 + 1
    assert [(p["service"], p["moved"]) for p in doc["services"]] == [
        ("sales", {"leads": 1, "opportunities": 2, "tasks": 3, "quotes": 0}),
        ("contacts", {"accounts": 2, "contacts": 3}), ("support", {"tickets": 1}), ("marketing", {"campaigns": 1})]
    for name, part in parts.items():
        [(request, key)] = part.calls
        assert key == f"offboarding-op-7-{name}"
        assert (request.from_user_id, request.to_user_id) == ("rep.north.9", "rep.north.2")
    assert parts["support"].calls[0][0].operation_id == "op-7"


def test_a_service_down_stops_with_503_naming_it_and_the_retry_finishes(admin_client, admin, parts) -> None:
    parts["support"].down = True
    headers = {**admin, "Idempotency-Key": "op-8"}
    r = admin_client.post("/api/v1/admin/offboarding", headers=headers, json=BODY)
    assert r.status_code == 503 and r.mimetype == "application/problem+json"
    problem = r.get_json()
    assert problem["failed_service"] == "support"
    assert [p["service"] for p in problem["completed"]] == ["sales", "contacts"]
    assert parts["marketing"].calls == []                     # nothing after the failure
    parts["support"].down = False
    again = admin_client.post("/api/v1/admin/offboarding", headers=headers, json=BODY)
    assert again.status_code == 200
    # the same keys again: each service answers its part once (its idempotency store replays it)
    assert [key for _, key in parts["sales"].calls] == ["offboarding-op-8-sales"] * 2
    assert [key for _, key in parts["marketing"].calls] == ["offboarding-op-8-marketing"]


def test_a_refusal_by_a_service_is_its_status_and_names_the_service(admin_client, admin, parts) -> None:
    r = admin_client.post("/api/v1/admin/offboarding", headers=admin,
                          json={"from_user_id": "rep.north.1", "to_user_id": "nobody"})
    assert r.status_code == 403 and r.get_json()["failed_service"] == "sales"
    assert parts["contacts"].calls == []


def test_a_bad_body_is_named_before_any_service_is_asked(admin_client, admin, parts) -> None:
    r = admin_client.post("/api/v1/admin/offboarding", headers=admin, json={"from_user_id": "rep.north.9"})
    assert r.status_code == 400
    assert [e["field"] for e in r.get_json()["errors"]] == ["to_user_id"]
    assert all(not p.calls for p in parts.values())
