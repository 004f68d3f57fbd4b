"""Fixtures for the gateway tests: real gRPC servers on free ports serving in-memory fakes of
ContactsService and ReportingService, the Flask test client in front of them, real JWTs.

The fakes run behind crmkit's GrpcServer, so auth, health and the domain-error trailers are the
production ones; `recorder` stands in for any other backend from its contract alone. They keep every call they receive, so a test can check what reached the backend
and what did not. (The root pytest config uses --import-mode=importlib, where test modules cannot
import a sibling helper module; fixtures are how tests reach the fakes.)"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, replace
from typing import Any

import grpc
import pytest
from flask import Flask
from flask.testing import FlaskClient
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import contacts_pb2_grpc
from crm.marketing.v1 import marketing_pb2 as mpb
from crm.marketing.v1 import marketing_pb2_grpc
from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_gateway.app import create_app
from crm_gateway.settings import GatewaySettings
from crmkit.auth import Principal, TokenVerifier, current_principal, mint_token
from crmkit.config import AuthSettings
from crmkit.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from crmkit.grpc_server import GrpcServer, idempotency_key
from crmkit.paging import decode_cursor, encode_cursor

WRITES = frozenset({
    "CreateAccount", "UpdateAccount", "DeleteAccount", "CreateContact", "UpdateContact",
    "DeleteContact", "TagContact", "MergeContacts", "LogInteraction", "DefineCustomField",
})


@dataclass
class Received:
    method: str
    request: Any
    metadata: dict[str, str]
    user_id: str


class FakeContacts(contacts_pb2_grpc.ContactsServiceServicer):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.records: dict[str, Any] = {}
        self.interactions: list[pb.Interaction] = []
        self.definitions: list[pb.CustomFieldDefinition] = []
        self.answers_by_key: dict[str, Message] = {}
        self.calls: list[Received] = []
        self.fail_with: tuple[grpc.StatusCode, str] | None = None

    @property
    def writes(self) -> list[Received]:
        return [c for c in self.calls if c.method in WRITES]

    def last(self, method: str) -> Received:
        return [c for c in self.calls if c.method == method][-1]

    def _receive(self, method: str, request: Any, context: grpc.ServicerContext) -> None:
        self.calls.append(Received(
            method, request, dict(context.invocation_metadata()), current_principal().user_id
        ))
        if self.fail_with is not None:
            context.abort(*self.fail_with)

    # -- versioned records (accounts and contacts share the rules) ------------------------

    def _create(self, method: str, record: Any, allow_duplicate: bool, context: Any) -> Any:
        self._receive(method, record, context)
        key = idempotency_key.get()
        if key and key in self.answers_by_key:
            return self.answers_by_key[key]
        for i, phone in enumerate(record.phones):
            if not phone.number.startswith("+"):
                raise InvalidArgument(f"'{phone.number}' is not a phone number", field=f"phones[{i}].number")
        if not allow_duplicate:
            emails = {e.address for e in record.emails}
            for other in self.records.values():
                if type(other) is type(record) and emails & {e.address for e in other.emails}:
                    raise AlreadyExists("a record with this email exists", field="emails",
                                        existing_id=other.id)
        record.id = uuid.uuid4().hex
        record.version = 1
        record.created_at.GetCurrentTime()
        record.updated_at.CopyFrom(record.created_at)
        with self.lock:
            self.records[record.id] = record
        if key:
            self.answers_by_key[key] = record
        return record

    def _get(self, id: str, kind: type) -> Any:
        record = self.records.get(id)
        if record is None or type(record) is not kind or record.deleted:
            raise NotFound(f"no {kind.__name__.lower()} {id}", field="id")
        return record

    def _check_version(self, record: Any, expected: int) -> None:
        if expected and expected != record.version:
            raise Conflict(f"version is {record.version}, not {expected}", field="version",
                           current_version=record.version)

    def _update(self, changes: Any, mask: FieldMask, expected: int, kind: type) -> Any:
        record = self._get(changes.id, kind)
        self._check_version(record, expected)
        updated = type(record)()
        updated.CopyFrom(record)
        mask.MergeMessage(changes, updated, replace_message_field=True, replace_repeated_field=True)
        updated.version = record.version + 1
        updated.updated_at.GetCurrentTime()
        self.records[record.id] = updated
        return updated

    def _delete(self, id: str, expected: int, kind: type) -> None:
        record = self._get(id, kind)
        self._check_version(record, expected)
        record.deleted = True

    def _list(self, kind: type, flt: pb.ListFilter) -> list[Any]:
        return [
            r for r in self.records.values()
            if type(r) is kind and not r.deleted
            and (not flt.region or r.region == flt.region)
            and (not flt.tag or flt.tag in r.tags)
            and (not flt.query or flt.query.lower() in r.name.lower())
        ]

    # -- accounts -------------------------------------------------------------------------

    def CreateAccount(self, request: Any, context: Any) -> Any:
        return self._create("CreateAccount", request.account, request.allow_duplicate, context)

    def GetAccount(self, request: Any, context: Any) -> Any:
        self._receive("GetAccount", request, context)
        return self._get(request.id, pb.Account)

    def UpdateAccount(self, request: Any, context: Any) -> Any:
        self._receive("UpdateAccount", request, context)
        return self._update(request.account, request.update_mask, request.expected_version, pb.Account)

    def DeleteAccount(self, request: Any, context: Any) -> Any:
        self._receive("DeleteAccount", request, context)
        self._delete(request.id, request.expected_version, pb.Account)
        return pb.DeleteAccountResponse()

    def ListAccounts(self, request: Any, context: Any) -> Any:
        self._receive("ListAccounts", request, context)
        return pb.ListAccountsResponse(accounts=self._list(pb.Account, request.filter))

    # -- contacts -------------------------------------------------------------------------

    def CreateContact(self, request: Any, context: Any) -> Any:
        return self._create("CreateContact", request.contact, request.allow_duplicate, context)

    def GetContact(self, request: Any, context: Any) -> Any:
        self._receive("GetContact", request, context)
        return self._get(request.id, pb.Contact)

    def UpdateContact(self, request: Any, context: Any) -> Any:
        self._receive("UpdateContact", request, context)
        return self._update(request.contact, request.update_mask, request.expected_version, pb.Contact)

    def DeleteContact(self, request: Any, context: Any) -> Any:
        self._receive("DeleteContact", request, context)
        self._delete(request.id, request.expected_version, pb.Contact)
        return pb.DeleteContactResponse()

    def ListContacts(self, request: Any, context: Any) -> Any:
        self._receive("ListContacts", request, context)
        found = self._list(pb.Contact, request.filter)
        size = request.page.page_size or 50
        start = decode_cursor(request.page.page_token) if request.page.page_token else 0
        token = encode_cursor(start + size) if start + size < len(found) else ""
        return pb.ListContactsResponse(contacts=found[start:start + size],
                                       page={"next_page_token": token})

    def TagContact(self, request: Any, context: Any) -> Any:
        self._receive("TagContact", request, context)
        contact = self._get(request.id, pb.Contact)
        tags = [t for t in contact.tags if t not in request.remove]
        tags += [t for t in request.add if t not in tags]
        del contact.tags[:]
        contact.tags.extend(tags)
        contact.version += 1
        return contact

    def MergeContacts(self, request: Any, context: Any) -> Any:
        self._receive("MergeContacts", request, context)
        survivor = self._get(request.survivor_id, pb.Contact)
        for merged_id in request.merged_ids:
            merged = self._get(merged_id, pb.Contact)
            merged.merged_into_id = survivor.id
            merged.deleted = True
        survivor.version += 1
        return pb.MergeContactsResponse(survivor=survivor)

    def FindDuplicates(self, request: Any, context: Any) -> Any:
        self._receive("FindDuplicates", request, context)
        emails = {e.address for e in request.candidate.emails}
        matches = [r for r in self._list(pb.Contact, pb.ListFilter())
                   if emails & {e.address for e in r.emails}]
        return pb.FindDuplicatesResponse(matches=matches)

    def LogInteraction(self, request: Any, context: Any) -> Any:
        self._receive("LogInteraction", request, context)
        self._get(request.interaction.contact_id, pb.Contact)
        interaction = pb.Interaction()
        interaction.CopyFrom(request.interaction)
        interaction.id = uuid.uuid4().hex
        self.interactions.append(interaction)
        return interaction

    def ListTimeline(self, request: Any, context: Any) -> Any:
        self._receive("ListTimeline", request, context)
        self._get(request.contact_id, pb.Contact)
        entries = [
            pb.TimelineEntry(id=i.id, contact_id=i.contact_id, kind=i.kind, summary=i.subject,
                             occurred_at=i.occurred_at, interaction=i, source_service="contacts")
            for i in reversed(self.interactions) if i.contact_id == request.contact_id
        ]
        return pb.ListTimelineResponse(entries=entries)

    def DefineCustomField(self, request: Any, context: Any) -> Any:
        self._receive("DefineCustomField", request, context)
        self.definitions.append(request.definition)
        return request.definition

    def ListCustomFields(self, request: Any, context: Any) -> Any:
        self._receive("ListCustomFields", request, context)
        return pb.ListCustomFieldsResponse(
            definitions=[d for d in self.definitions if not request.entity or d.entity == request.entity]
        )


class FakeReporting(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def GetCustomerCounts(self, request: Any, context: Any) -> Any:
        self.calls.append(request)
        return reporting_pb2.CustomerCounts(
            total=7,
            by_region=[reporting_pb2.CountBucket(key=request.region or "north", count=7)],
            new_per_day=[reporting_pb2.DayCount(day=request.from_day or "2025-01-01", count=2)],
            events_applied=12,
        )


SECRET = "gateway-test-secret-0123456789abcdef"
AUTH = AuthSettings(jwt_secret=SECRET, jwks_url=None, issuer=None, audience=None)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north", "张伟 Zhang Wei")


@dataclass
class Backend:
    contacts: FakeContacts
    reporting: FakeReporting
    contacts_server: GrpcServer
    reporting_server: GrpcServer

    @property
    def contacts_addr(self) -> str:
        return f"127.0.0.1:{self.contacts_server.port}"

    @property
    def reporting_addr(self) -> str:
        return f"127.0.0.1:{self.reporting_server.port}"


def _serve(service: str, name: str, register: Callable[..., None], fake: object) -> GrpcServer:
    return GrpcServer(
        service=service,
        port=0,
        host="127.0.0.1",
        verifier=TokenVerifier(AUTH),
        registrations=[lambda server: register(fake, server)],
        service_names=[name],
        max_workers=8,
    ).start()


@pytest.fixture(scope="session")
def backend() -> Iterator[Backend]:
    contacts, reporting = FakeContacts(), FakeReporting()
    b = Backend(
        contacts,
        reporting,
        _serve("contacts", "crm.contacts.v1.ContactsService",
               contacts_pb2_grpc.add_ContactsServiceServicer_to_server, contacts),
        _serve("reporting", "crm.reporting.v1.ReportingService",
               reporting_pb2_grpc.add_ReportingServiceServicer_to_server, reporting),
    )
    yield b
    b.contacts_server.server.stop(0)
    b.reporting_server.server.stop(0)


@pytest.fixture
def fake(backend: Backend) -> FakeContacts:
    backend.contacts.reset()
    backend.reporting.calls.clear()
    return backend.contacts


@pytest.fixture
def settings(backend: Backend) -> GatewaySettings:
    return GatewaySettings(
        contacts_addr=backend.contacts_addr,
        reporting_addr=backend.reporting_addr,
        auth=AUTH,
        rate_limit_rps=1000,
        rate_limit_burst=1000,
        max_body_bytes=16 * 1024,
    )


@pytest.fixture
def make_client(fake: FakeContacts) -> Iterator[Callable[..., FlaskClient]]:
    apps: list[Flask] = []

    def make(settings: GatewaySettings, **changes: object) -> FlaskClient:
        app = create_app(replace(settings, **changes))
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["crm_gateway"].backends.close()


@pytest.fixture
def client(make_client: Callable[..., FlaskClient], settings: GatewaySettings) -> FlaskClient:
    return make_client(settings)


@pytest.fixture
def token() -> str:
    return mint_token(REP, SECRET)


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def mint() -> Callable[..., str]:
    """Tokens for any user, secret or lifetime (a negative ttl gives an expired token)."""

    def make(user_id: str = REP.user_id, *, secret: str = SECRET, ttl: int = 3600) -> str:
        return mint_token(Principal(user_id, ("rep",)), secret, ttl)

    return make


class Recorder:
    """Any backend from its contract: a gRPC server for every RPC of the module's service that
    records each call and answers `answers[method]` (default: the empty answer message)."""

    def __init__(self, module: Any) -> None:
        service = next(iter(module.DESCRIPTOR.services_by_name.values()))
        self.calls: list[Received] = []
        self.answers: dict[str, Message] = {}
        handlers = {m.name: self._handler(module, m) for m in service.methods}
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def _handler(self, module: Any, method: Any) -> grpc.RpcMethodHandler:
        request_type, answer_type = (GetMessageClass(t) for t in (method.input_type, method.output_type))

        def handle(request: Any, context: grpc.ServicerContext) -> Message:
            md = dict(context.invocation_metadata())
            self.calls.append(Received(method.name, request, md, ""))
            return self.answers.get(method.name) or answer_type()

        return grpc.unary_unary_rpc_method_handler(
            handle, request_deserializer=request_type.FromString, response_serializer=answer_type.SerializeToString)

    def last(self, method: str) -> Received:
        return [c for c in self.calls if c.method == method][-1]


@pytest.fixture
def recorder() -> Iterator[Callable[[Any], Recorder]]:
    started: list[Recorder] = []

    def start(module: Any) -> Recorder:
        started.append(Recorder(module))
        return started[-1]

    yield start
    for r in started:
        r.server.stop(0)


@pytest.fixture
def dead_addr() -> str:
    """An address where nothing listens (a port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


# -- marketing: one fake for the marketing and marketing-automation route tests

@dataclass
class MarketingCall:
    method: str
    request: Any
    metadata: dict[str, str]
    principal: Principal


class FakeMarketing(marketing_pb2_grpc.MarketingServiceServicer):
    """Every RPC of the marketing contract, behind crmkit's real gRPC server: records the call,
    then raises `errors[method]` or answers `answers[method]` (default: the empty answer)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.calls: list[MarketingCall] = []
        self.answers: dict[str, Any] = {}
        self.errors: dict[str, Exception] = {}

    def receive(self, method: str, request: Any, context: grpc.ServicerContext, answer: type) -> Any:
        with self.lock:
            self.calls.append(MarketingCall(method, request, dict(context.invocation_metadata()),
                                            current_principal()))
        if method in self.errors:
            raise self.errors[method]
        return self.answers.get(method) or answer()

    def last(self, method: str) -> MarketingCall:
        return [c for c in self.calls if c.method == method][-1]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]


def _marketing_rpc(name: str, answer: type) -> Any:
    def handle(self: FakeMarketing, request: Any, context: grpc.ServicerContext) -> Any:
        return self.receive(name, request, context, answer)
    return handle


MARKETING_SERVICE = mpb.DESCRIPTOR.services_by_name["MarketingService"]
for _method in MARKETING_SERVICE.methods:
    setattr(FakeMarketing, _method.name, _marketing_rpc(_method.name, GetMessageClass(_method.output_type)))


@pytest.fixture(scope="module")
def marketing_server() -> Iterator[tuple[FakeMarketing, GrpcServer]]:
    fake = FakeMarketing()
    auth = AuthSettings(jwt_secret=SECRET, jwks_url=None, issuer=None, audience=None)
    server = GrpcServer(service="marketing", port=0, host="127.0.0.1", verifier=TokenVerifier(auth),
                        registrations=[lambda s: marketing_pb2_grpc.add_MarketingServiceServicer_to_server(fake, s)],
                        service_names=[MARKETING_SERVICE.full_name], max_workers=8).start()
    yield fake, server
    server.server.stop(0)


@pytest.fixture
def marketing(marketing_server: tuple[FakeMarketing, GrpcServer]) -> FakeMarketing:
    marketing_server[0].reset()
    return marketing_server[0]


@pytest.fixture
def marketing_gw(make_client: Any, settings: Any, marketing_server: tuple[FakeMarketing, GrpcServer]) -> Any:
    """The gateway with marketing configured at the fake."""
    return make_client(settings, optional_addrs={"marketing": f"127.0.0.1:{marketing_server[1].port}"})
