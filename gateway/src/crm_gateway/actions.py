"""Declared routes: an `Action` is one endpoint that is one RPC. The declaration says where the
request message's fields come from (URL variables, query parameters, the body, If-Match) and
what kind of answer the client gets; `route()` checks it against the contract and plans the
copying once, when the app is created, so a request only runs the plan.

    Action("POST", f"{LEADS}/<id>/convert", "convertLead", "Convert a qualified lead", "sales",
           rpc="ConvertLead", request=pb.ConvertLeadRequest, body=sh.LEAD_CONVERT_INPUT,
           response=sh.LEAD_CONVERSION, reply=JSON)

- the backend is the request's package (crm.sales.v1 → the "sales" client), and `rpc` must be a
  method of that package's service taking `request`;
- `<var>` in the rule fills the request field `path[var]` (default: the field named like it);
- each query parameter fills the request field `query_fields[name]`, else the field of that
  name, else `filter.<name>`, else `page.<name>`; dotted names reach into sub-messages;
- the body fills the request (or its field `body_field`); with a `Mask` the body's keys become
  the update mask;
- If-Match becomes `expected_version` whenever the request has that field;
- `reply`: the resource (its version is the ETag, and documented as one, when it has one), its
  JSON, a page of items, or no content.

A hand-written `Route` remains for what is not one RPC's copying (a raw MIME body, a PDF)."""
from __future__ import annotations

import importlib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Response
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from crm_gateway.problems import invalid_field
from crm_gateway.public import public_call
from crm_gateway.routing import (
    Call,
    QueryParam,
    Route,
    expected_version,
    json_response,
    metadata,
    no_content,
    page_response,
    resource_response,
    state,
)
from crm_gateway.schema import REF_PREFIX, JsonSchema, descriptor_of, to_message
from crm_gateway.serialize import to_json

_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_TIMESTAMP = "google.protobuf.Timestamp"
_F = FieldDescriptor
_SCALARS = {  # query parameter kind → the field types it may fill
    "string": {_F.CPPTYPE_STRING}, "date": {_F.CPPTYPE_STRING}, "boolean": {_F.CPPTYPE_BOOL},
    "integer": {_F.CPPTYPE_INT32, _F.CPPTYPE_INT64, _F.CPPTYPE_UINT32, _F.CPPTYPE_UINT64},
}
Setter = Callable[[Message, Any], None]


@dataclass(frozen=True)
class Reply:
    """What the client gets for the RPC's answer."""

    kind: str  # resource | json | page | none
    field: str = ""  # resource: the answer's sub-message it is; page: the repeated field listed
    paged: bool = False  # page: the answer's page.next_page_token follows the items
    only: tuple[str, ...] = ()  # json: just these fields

    def __post_init__(self) -> None:
        if self.kind not in ("resource", "json", "page", "none"):
            raise ValueError(f"unknown reply kind {self.kind!r}")


RESOURCE = Reply("resource")  # the message itself; ETag: "<version>" when it has one
JSON = Reply("json")  # the message as JSON, no ETag (an answer, or a version that is not a concurrency token)
NO_CONTENT = Reply("none")


def items(field: str, *, paged: bool = False) -> Reply:
    """{"items": [...]} from the answer's repeated `field` (+ next_page_token when paged)."""
    return Reply("page", field, paged)


def resource(field: str) -> Reply:
    """The answer's sub-message `field` as the resource (MergeContacts → its survivor)."""
    return Reply("resource", field)


@dataclass(frozen=True)
class Mask:
    """The body's keys become the request's FieldMask `field`: a PATCH changes what it names."""

    field: str = "update_mask"
    empty: str = "give at least one field to change"  # the 400 for an empty body ...
    default: tuple[str, ...] = ()  # ... unless an empty body means these paths


@dataclass(frozen=True)
class Action:
    method: str
    rule: str  # Flask syntax, e.g. /api/v1/leads/<id>/convert
    operation_id: str
    summary: str
    tag: str
    rpc: str
    request: type[Message]
    response: JsonSchema | None = None  # the success body's schema (None with NO_CONTENT)
    reply: Reply = RESOURCE
    body: JsonSchema | None = None
    body_field: str = ""
    mask: Mask | None = None
    path: Mapping[str, str] = field(default_factory=dict)
    query: tuple[QueryParam, ...] = ()
    query_fields: Mapping[str, str] = field(default_factory=dict)
    status: int = 200
    location: str = ""  # a collection URL: Location is <location>/<answer id>
    public: bool = False  # no user token: the gateway calls as the public principal (public.py)
    idempotent: bool | None = None  # safe to retry on UNAVAILABLE (None: by the RPC's name)
    check: Callable[[dict[str, Any]], None] | None = None  # a rule across query values
    fill: Callable[[Any], None] | None = None  # completes the request from the HTTP request
    status_of: Callable[[Any], int] | None = None  # the status from the answer
    also: tuple[int, ...] = ()  # the other statuses status_of may give, for the document

    @property
    def descriptor(self) -> Descriptor:
        return descriptor_of(self.request)

    @property
    def backend(self) -> str:
        return self.descriptor.file.package.split(".")[1]  # crm.<backend>.v1

    def route(self) -> Route:
        if self.mask is not None and not self.mask.default and self.body is not None and "$ref" in self.body:
            from crm_gateway.schemas import REGISTRY  # the schemas import this module's peers

            # an empty body changes nothing: refused (Mask.empty), so the document says so
            REGISTRY.schemas[self.body["$ref"].removeprefix(REF_PREFIX)]["minProperties"] = 1
        return Route(
            self.method, self.rule, _plan(self), self.operation_id, self.summary, self.tag,
            body=self.body, response=None if self.reply.kind == "none" else self.response,
            status=204 if self.reply.kind == "none" else self.status, query=self.query,
            etag=_has_etag(self), location=bool(self.location), if_match=_versioned(self.descriptor),
            public=self.public, also=self.also,
        )


def _versioned(request: Descriptor) -> bool:
    return "expected_version" in request.fields_by_name


def _has_etag(a: Action) -> bool:
    """A resource reply whose message has a version carries it as the ETag (resource_response)."""
    if a.reply.kind != "resource":
        return False
    answer = _rpc_output(a)
    part = answer.fields_by_name[a.reply.field].message_type if a.reply.field else answer
    return part is not None and "version" in part.fields_by_name


def _plan(a: Action) -> Callable[..., Response]:
    """The view for `a`: every field path resolved and checked against the contract now."""
    descriptor = a.descriptor
    answer_type = _rpc_output(a)
    make, check, fill, mask, body_field = a.request, a.check, a.fill, a.mask, a.body_field
    containers: set[str] = set()
    query_setters = {p.name: _setter(descriptor, _query_target(a, p), p, containers) for p in a.query}
    path_setters = {
        var: _setter(descriptor, a.path.get(var, var), None, containers) for var in _VARIABLE.findall(a.rule)
    }
    if unused := set(a.path) - set(path_setters):
        raise ValueError(f"{a.operation_id}: path {sorted(unused)} not in {a.rule}")
    if body_field:
        _message_field(descriptor, body_field, a.operation_id)
        containers.add(body_field)
    if mask is not None:
        _message_field(descriptor, mask.field, a.operation_id)
        containers.add(mask.field)
    if a.body is None and (body_field or mask is not None):
        raise ValueError(f"{a.operation_id}: body_field and mask need a body schema")
    parents = [operator.attrgetter(c) for c in sorted(containers)]
    versioned = _versioned(descriptor)
    has_body = a.body is not None
    call = _caller(a)
    respond = _responder(a, answer_type)

    def view(c: Call, **path: str) -> Response:
        if check is not None:
            check(c.query)
        paths: list[str] = []
        if mask is not None:
            paths = sorted(c.body) or list(mask.default)
            if not paths:
                raise invalid_field("body", mask.empty)
        request: Any = make()  # its type is the declaration's: fields are set by name
        for parent in parents:
            parent(request).SetInParent()
        if has_body:
            to_message(c.body, getattr(request, body_field) if body_field else request)
        if mask is not None:
            getattr(request, mask.field).paths.extend(paths)
        for name, value in c.query.items():
            query_setters[name](request, value)
        for var, value in path.items():
            path_setters[var](request, value)
        if versioned:
            request.expected_version = expected_version()
        if fill is not None:
            fill(request)
        return respond(call(request))

    return view


def _rpc_output(a: Action) -> Descriptor:
    """The answer's type; refuses an RPC that is not the request's service's, or takes another type."""
    for service in a.descriptor.file.services_by_name.values():
        method = service.methods_by_name.get(a.rpc)
        if method is not None:
            if method.input_type is not a.descriptor:
                raise ValueError(f"{a.operation_id}: {a.rpc} takes {method.input_type.name}, not {a.descriptor.name}")
            return method.output_type
    raise ValueError(f"{a.operation_id}: no RPC {a.rpc} in {a.descriptor.file.name}")


def _query_target(a: Action, param: QueryParam) -> str:
    if param.name in a.query_fields:
        return a.query_fields[param.name]
    fields = a.descriptor.fields_by_name
    if param.name in fields:
        return param.name
    for container in ("filter", "page"):
        sub = fields.get(container)
        if sub is not None and sub.message_type is not None and param.name in sub.message_type.fields_by_name:
            return f"{container}.{param.name}"
    raise ValueError(f"{a.operation_id}: query parameter {param.name} fills no field of {a.request.__name__}")


def _message_field(descriptor: Descriptor, name: str, where: str) -> Descriptor:
    """The type of `descriptor`'s single message field `name`."""
    found = descriptor.fields_by_name.get(name)
    if found is None or found.message_type is None or found.is_repeated:
        raise ValueError(f"{where}: {descriptor.name} has no message field {name}")
    return found.message_type


def _setter(descriptor: Descriptor, target: str, param: QueryParam | None, containers: set[str]) -> Setter:
    """Sets the request field at dotted `target` to a query value (`param`) or a path segment."""
    *parents, leaf = target.split(".")
    holder = descriptor
    for i, name in enumerate(parents):
        holder = _message_field(holder, name, target)
        containers.add(".".join(parents[: i + 1]))
    found = holder.fields_by_name.get(leaf)
    if found is None or found.is_repeated:
        raise ValueError(f"{descriptor.name}: no single field {target}")
    timestamp = found.message_type is not None and found.message_type.full_name == _TIMESTAMP
    kind = param.kind if param is not None else "string"
    if not (timestamp if kind == "date-time" else found.cpp_type in _SCALARS[kind]):
        raise ValueError(f"{descriptor.name}.{target} cannot take a {kind} value")
    parent = operator.attrgetter(".".join(parents)) if parents else None

    def set_value(request: Message, value: Any) -> None:
        holder_message = parent(request) if parent is not None else request
        if timestamp:
            getattr(holder_message, leaf).CopyFrom(value)
        else:
            setattr(holder_message, leaf, value)

    return set_value


def _second_stub(a: Action) -> Callable[[Any], Any] | None:
    """The stub of the RPC's service when it is another service of the backend's package than its
    main one (contacts' PicklistAdmin beside ContactsService), else None."""
    file = a.descriptor.file
    [service] = [s for s in file.services_by_name.values() if a.rpc in s.methods_by_name]
    if file.name == f"crm/{a.backend}/v1/{a.backend}.proto":
        return None
    module = importlib.import_module(file.name.removesuffix(".proto").replace("/", ".") + "_pb2_grpc")
    stub: Callable[[Any], Any] = getattr(module, f"{service.name}Stub")
    return stub


def _caller(a: Action) -> Callable[[Message], Any]:
    backend, rpc, idempotent = a.backend, a.rpc, a.idempotent
    if a.public:
        return lambda request: public_call(backend, rpc, request)
    stub = _second_stub(a)

    def call(request: Message) -> Any:
        backends = state().backends
        client = backends.client(backend) if stub is None else backends.service_client(backend, stub)
        return client.call(rpc, request, metadata=metadata(), idempotent=idempotent)

    return call


def _responder(a: Action, answer: Descriptor) -> Callable[[Any], Response]:
    reply, status, status_of, location = a.reply, a.status, a.status_of, a.location
    if reply.field and reply.field not in answer.fields_by_name:
        raise ValueError(f"{a.operation_id}: {answer.name} has no field {reply.field}")
    if reply.kind == "none":
        return lambda _: no_content()
    if reply.kind == "page":
        listed = reply.field
        if reply.paged:
            return lambda got: page_response(getattr(got, listed), got.page.next_page_token)
        return lambda got: page_response(getattr(got, listed))
    if reply.kind == "resource":
        part = operator.attrgetter(reply.field) if reply.field else None

        def as_resource(got: Any) -> Response:
            message = part(got) if part is not None else got
            return resource_response(message, status=status_of(got) if status_of else status,
                                     location=f"{location}/{message.id}" if location else "")

        return as_resource
    only = reply.only
    if unknown := set(only) - set(answer.fields_by_name):
        raise ValueError(f"{a.operation_id}: {answer.name} has no fields {sorted(unknown)}")

    def as_json(got: Any) -> Response:
        doc = to_json(got)
        if only:
            doc = {name: doc[name] for name in only}
        headers = {"Location": f"{location}/{got.id}"} if location else None
        return json_response(doc, status_of(got) if status_of else status, headers)

    return as_json


def not_before(first: str, last: str) -> Callable[[dict[str, Any]], None]:
    """A check: the query value `last` (a day) is not before `first`."""
    def check(query: dict[str, Any]) -> None:
        start, end = query.get(first, ""), query.get(last, "")
        if start and end and start > end:
            raise invalid_field(last, f"must not be before {first}")

    return check


def required(name: str, message: str) -> Callable[[dict[str, Any]], None]:
    """A check: the query value `name` is given and not blank."""
    def check(query: dict[str, Any]) -> None:
        if not query.get(name, "").strip():
            raise invalid_field(name, message)

    return check
