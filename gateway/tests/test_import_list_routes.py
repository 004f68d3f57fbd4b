"""GET /api/v1/imports: the caller's import jobs over contacts, sales and support, merged newest
first, paged with one token that holds each service's position. Behind the gateway run real gRPC
servers with the shared import servicer and use case (crmkit.imports, what sales and support
serve and contacts wraps) over their own SQLite databases: a page never repeats or skips a job
while the services' jobs interleave in time; a rep sees only their own jobs, an admin everyone's;
an entity filter asks only its service; a bad token is a 400 naming page_token."""
from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from crm.common.v1 import imports_pb2 as pb
from crm.common.v1 import imports_pb2_grpc
from crm.contacts.v1 import imports_pb2_grpc as contacts_imports_grpc
from crmkit.auth import Principal, TokenVerifier, mint_token
from crmkit.config import AuthSettings
from crmkit.db import Database
from crmkit.grpc_server import GrpcServer
from crmkit.imports import jobs
from crmkit.imports.servicer import ImportsServicer
from crmkit.imports.store import ImportStore
from crmkit.imports.tables import ImportTables

SECRET = "gateway-test-secret-0123456789abcdef"  # the gateway conftest's
AUTH = AuthSettings(jwt_secret=SECRET, jwks_url=None, issuer=None, audience=None)
T0 = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
COLLEAGUE = Principal("rep.north.2", ("rep",), "north-sales", "north")
ADMIN = Principal("admin.1", ("admin",), "", "")
ANYONE = ("rep", "support")
ENTITIES = {"contacts": ("contact", "account"), "sales": ("lead", "product"), "support": ("ticket",)}
PREFIX = {"contacts": "", "sales": "sales-", "support": "support-"}


class CountingServicer(ImportsServicer):
    """The shared servicer, keeping which lists it was asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lists: list[pb.ListImportsRequest] = []

    def ListImports(self, request: pb.ListImportsRequest, context: Any) -> pb.ListImportsResponse:
        self.lists.append(request)
        return super().ListImports(request, context)


@dataclass
class ImportService:
    name: str
    db: Database
    kind: jobs.ImportKind
    servicer: CountingServicer
    server: GrpcServer

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def create(self, who: Principal, entity: str, at: datetime, name: str) -> pb.ImportJob:
        with self.db.unit_of_work() as uow:
            job = jobs.create_import(uow, kind=self.kind, principal=who, now=at, request=pb.CreateImportRequest(
                entity=entity, file_name=name, size_bytes=10,
                content_sha256=hashlib.sha256(f"{who.user_id}/{name}".encode()).hexdigest()))
            uow.commit()
        return job


def _service(name: str, tmp: Path) -> ImportService:
    metadata = MetaData()
    tables = ImportTables(metadata)
    db = Database(f"sqlite:///{tmp / f'{name}.db'}")
    metadata.create_all(db.engine)
    rules = jobs.EntityRules(what="rows", targets=("name",), roles=ANYONE)
    kind = jobs.ImportKind(entities=dict.fromkeys(ENTITIES[name], rules), store=ImportStore(tables),
                           id_prefix=PREFIX[name])
    servicer = CountingServicer(db, kind)
    if name == "contacts":
        register, full = contacts_imports_grpc.add_ContactImportsServicer_to_server, "crm.contacts.v1.ContactImports"
    else:
        register, full = imports_pb2_grpc.add_ImportsServicer_to_server, "crm.common.v1.Imports"
    server = GrpcServer(service=name, port=0, host="127.0.0.1", verifier=TokenVerifier(AUTH),
                        registrations=[lambda s: register(servicer, s)], service_names=[full], max_workers=4).start()
    return ImportService(name, db, kind, servicer, server)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[dict[str, ImportService]]:
    started = {name: _service(name, tmp_path) for name in ENTITIES}
    yield started
    for s in started.values():
        s.server.server.stop(0)
        s.db.dispose()


@pytest.fixture
def gw(make_client: Any, settings: Any, services: dict[str, ImportService]) -> Any:
    return make_client(settings, contacts_addr=services["contacts"].addr,
                       optional_addrs={"sales": services["sales"].addr, "support": services["support"].addr})


def bearer(who: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(who, SECRET)}"}


def interleaved(services: dict[str, ImportService]) -> list[str]:
    """Nine of the rep's jobs over the three services, their times interleaved (two at the same
    instant in different services), and a colleague's; the rep's file names, newest first."""
    plan = [("contacts", "contact", 0), ("sales", "lead", 1), ("support", "ticket", 2), ("sales", "product", 3),
            ("contacts", "account", 4), ("contacts", "contact", 5), ("support", "ticket", 6),
            ("sales", "lead", 6), ("contacts", "contact", 8)]
    for n, (service, entity, minute) in enumerate(plan):
        services[service].create(REP, entity, T0 + timedelta(minutes=minute), f"{n}-{entity}.csv")
    services["sales"].create(COLLEAGUE, "lead", T0 + timedelta(minutes=7), "colleague.csv")
    order = sorted(range(len(plan)), key=lambda n: (-plan[n][2], ("contacts", "sales", "support").index(plan[n][0])))
    return [f"{n}-{plan[n][1]}.csv" for n in order]


def walk(gw: Any, who: Principal, **query: Any) -> list[list[dict[str, Any]]]:
    pages, token = [], ""
    while True:
        got = gw.get("/api/v1/imports", headers=bearer(who), query_string={**query, "page_token": token})
        assert got.status_code == 200, got.get_json()
        pages.append(got.get_json()["items"])
        token = got.get_json()["next_page_token"]
        if not token:
            return pages


def test_pages_merge_the_three_services_newest_first_with_nothing_repeated(gw: Any,
                                                                           services: dict[str, ImportService]) -> None:
    expected = interleaved(services)
    pages = walk(gw, REP, page_size=2)
    assert [len(p) for p in pages] == [2, 2, 2, 2, 1]
    listed = [job["file_name"] for page in pages for job in page]
    assert listed == expected  # every job once, newest first across the services
    assert "colleague.csv" not in listed
    first = pages[0][0]
    assert (first["entity"], first["status"], first["owner_id"]) == ("contact", "uploading", REP.user_id)
    assert first["created_at"] == "2026-06-15T08:08:00Z"
    one_page = gw.get("/api/v1/imports", headers=bearer(REP)).get_json()
    assert [j["file_name"] for j in one_page["items"]] == expected and one_page["next_page_token"] == ""


def test_an_admin_sees_everyones_jobs(gw: Any, services: dict[str, ImportService]) -> None:
    expected = interleaved(services)
    listed = [job["file_name"] for page in walk(gw, ADMIN, page_size=4) for job in page]
    assert listed == [*expected[:1], "colleague.csv", *expected[1:]]


def test_an_entity_filter_asks_only_its_service(gw: Any, services: dict[str, ImportService]) -> None:
    interleaved(services)
    got = gw.get("/api/v1/imports?entity=lead", headers=bearer(REP)).get_json()
    assert [j["file_name"] for j in got["items"]] == ["7-lead.csv", "1-lead.csv"]
    assert [len(s.servicer.lists) for s in services.values()] == [0, 1, 0]
    assert services["sales"].servicer.lists[0].entity == "lead"
    tickets = gw.get("/api/v1/imports?entity=ticket&status=uploading", headers=bearer(REP)).get_json()
    assert [j["file_name"] for j in tickets["items"]] == ["6-ticket.csv", "2-ticket.csv"]
    assert gw.get("/api/v1/imports?status=done", headers=bearer(REP)).get_json()["items"] == []


@pytest.mark.parametrize(("query", "field"), [
    ("page_token=bm90LWpzb24", "page_token"),
    ("page_token=eyJtYXJrZXRpbmciOiAiIn0=", "page_token"),  # {"marketing": ""}: not one of the services asked
    ("page_size=201", "page_size"),
    ("entity=invoice", "entity"),
    ("status=finished", "status"),
])
def test_bad_input_is_a_400_naming_the_field(gw: Any, services: dict[str, ImportService], query: str,
                                             field: str) -> None:
    got = gw.get(f"/api/v1/imports?{query}", headers=bearer(REP))
    assert got.status_code == 400, got.get_json()
    assert [e["field"] for e in got.get_json()["errors"]] == [field]


def test_a_service_cursor_the_gateway_did_not_issue_is_the_services_400(gw: Any,
                                                                        services: dict[str, ImportService]) -> None:
    token = base64.urlsafe_b64encode(json.dumps({"sales": "forged"}).encode()).decode()
    got = gw.get("/api/v1/imports", headers=bearer(REP), query_string={"page_token": token})
    assert got.status_code == 400 and got.get_json()["errors"][0]["field"] == "page_token"
