"""The route table and the request/response plumbing every route shares.

A `Route` is the single description of an endpoint: Flask registers its rule from it, the
wrapper below validates its query parameters and body with it before the view runs, and the
OpenAPI document is generated from it. What is documented is what is enforced. Most routes are
declared as an `Action` (actions.py) or a `Resource` (crud.py), which build the Route and its
view; a hand-written view is a Route given directly."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Response, current_app, g, request
from google.protobuf.message import Message

from crm_gateway.clients import Backends
from crm_gateway.problems import Problem, invalid_field
from crm_gateway.ratelimit import RateLimiter
from crm_gateway.schema import JsonSchema, SchemaRegistry, parse_timestamp, require_valid
from crm_gateway.serialize import to_json
from crm_gateway.settings import GatewaySettings
from crmkit.credentials import ServiceCredentials
from crmkit.token_cache import TokenCache

API = "/api/v1"
JSON_TYPES = ("application/json", "+json")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ETAG = re.compile(r'^"([1-9][0-9]{0,17})"$')


@dataclass(frozen=True)
class QueryParam:
    name: str
    kind: str = "string"  # string | integer | boolean | date-time | date
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    pattern: str = ""  # a regular expression the whole value matches (documented and enforced)
    required: bool = False
    max_length: int = 0  # 0: unbounded (strings)
    picklist: str = ""  # a shared picklist's name (crmkit.picklists): documented as x-picklist, checked by the service

    def schema(self) -> JsonSchema:
        schema: JsonSchema = {
            "string": {"type": "string"},
            "integer": {"type": "integer"},
            "boolean": {"type": "boolean"},
            "date-time": {"type": "string", "format": "date-time"},
            "date": {"type": "string", "format": "date"},
        }[self.kind]
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.pattern:
            schema["pattern"] = self.pattern
        elif schema["type"] == "string" and not self.choices and "format" not in schema:
            schema["pattern"] = "^[^\\u0000]*$"  # the guard refuses a NUL character in any parameter
        if self.max_length:
            schema["maxLength"] = self.max_length
        if self.picklist:
            schema["x-picklist"] = self.picklist
        return schema

    @property
    def empty_is_absent(self) -> bool:
        """`?name=` means "not given" only where "" is a value the schema allows anyway."""
        return self.kind == "string" and not (self.choices or self.pattern or self.required)

    def parse(self, raw: str) -> Any:
        if self.kind == "integer":
            if not re.fullmatch(r"-?[0-9]{1,10}", raw):
                raise invalid_field(self.name, "expected an integer")
            value: Any = int(raw)
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise invalid_field(self.name, f"must be between {self.minimum} and {self.maximum}")
            return value
        if self.kind == "boolean":
            lowered = raw.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise invalid_field(self.name, "expected true or false")
            return lowered in ("true", "1")
        if self.kind == "date-time":
            ts = parse_timestamp(raw)
            if ts is None:
                raise invalid_field(self.name, "expected an RFC 3339 date-time, e.g. 2025-01-31T08:00:00Z")
            return ts
        if self.kind == "date":
            try:
                if not _DAY.match(raw):
                    raise ValueError
                date.fromisoformat(raw)
            except ValueError:
                raise invalid_field(self.name, "expected a date YYYY-MM-DD") from None
            return raw
        if self.choices and raw not in self.choices:
            raise invalid_field(self.name, f"must be one of {', '.join(self.choices)}")
        if self.max_length and len(raw) > self.max_length:
            raise invalid_field(self.name, f"at most {self.max_length} characters")
        if self.pattern and not re.search(self.pattern, raw):
            raise invalid_field(self.name, "is required and must not be blank" if self.required
                                else f"must match {self.pattern}")
        return raw


@dataclass
class Call:
    """What the wrapper hands a view: the validated body and query values."""

    body: dict[str, Any]
    query: dict[str, Any]


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # Flask syntax, e.g. /api/v1/contacts/<id>
    view: Callable[..., Response]
    operation_id: str
    summary: str
    tag: str
    body: JsonSchema | None = None
    response: JsonSchema | None = None  # None → 204 No Content
    media_type: str = "application/json"  # of the success response
    other_media: tuple[str, ...] = ()  # what else it may answer, by a query parameter (an xlsx export)
    status: int = 200
    query: tuple[QueryParam, ...] = ()
    etag: bool = False  # success response carries an ETag
    location: bool = False  # 201 response carries a Location
    if_match: bool = False  # honours If-Match
    public: bool = False  # no bearer token needed
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404, 429, 503, 504))
    also: tuple[int, ...] = ()  # other success statuses the view may answer (200 for a threaded reply)
    request_body: dict[str, Any] | None = None  # a hand-written view's body, documented by media type

    @property
    def required_query(self) -> bool:
        return any(q.required for q in self.query)


@dataclass
class GatewayState:
    """Per-app singletons, reached through `state()` from inside a request."""

    settings: GatewaySettings
    backends: Backends
    tokens: TokenCache
    limiter: RateLimiter
    registry: SchemaRegistry
    routes: Sequence[Route]
    public_credentials: ServiceCredentials  # what the public endpoints call the services with
    openapi_json: bytes = b""


def state() -> GatewayState:
    return current_app.extensions["crm_gateway"]  # type: ignore[no-any-return]  # Flask types extensions as dict[str, Any]


def endpoint_for(route: Route) -> Callable[..., Response]:
    def endpoint(**path: str) -> Response:
        query = parse_query(route.query) if request.args or route.required_query else {}
        body = read_body(route.body) if route.body is not None else {}
        return route.view(Call(body, query), **path)

    endpoint.__name__ = route.operation_id
    return endpoint


def parse_query(params: Sequence[QueryParam]) -> dict[str, Any]:
    known = {p.name: p for p in params}
    values: dict[str, Any] = {}
    for name, raw in request.args.lists():
        param = known.get(name)
        if param is None:
            raise invalid_field(name, "unknown query parameter")
        if len(raw) != 1:
            raise invalid_field(name, "given more than once")
        if raw[0] != "" or not param.empty_is_absent:
            values[name] = param.parse(raw[0])
    for param in params:
        if param.required and param.name not in values:
            raise invalid_field(param.name, "is required")
    return values


def read_body(schema: JsonSchema) -> dict[str, Any]:
    st = state()
    limit = st.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    mimetype = request.mimetype
    if mimetype and not (mimetype == JSON_TYPES[0] or mimetype.endswith(JSON_TYPES[1])):
        raise Problem(
            415, "unsupported-media-type", "Unsupported media type",
            f"send the body as application/json, not {mimetype}",
        )
    raw = request.get_data(cache=False)  # MAX_CONTENT_LENGTH also caps chunked bodies
    if not raw.strip():
        raise invalid_field("body", "a JSON object is required")
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise invalid_field("body", "expected a JSON object")
    return require_valid(st.registry, body, schema)


def parse_json(raw: bytes | str) -> Any:
    """The JSON document in `raw`, or 400: malformed, nested deeper than MAX_DEPTH (before the
    parser's own recursion limit, which would be a 500), or carrying a NUL character in a key or
    a string (PostgreSQL text cannot hold one; refused here for every backend alike)."""
    if _nesting(raw) > MAX_DEPTH:
        raise invalid_field("body", f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:  # belt and braces: _nesting counts brackets outside strings
        raise invalid_field("body", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise invalid_field("body", f"malformed JSON: {exc}") from None
    where = _nul_path(body)
    if where is not None:
        raise invalid_field(where or "body", NUL_MESSAGE)
    return body


MAX_DEPTH = 32  # objects and arrays inside each other; the deepest request shape is about 8
NUL_MESSAGE = "must not contain the NUL character (\\u0000)"
_BRACKETS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _nesting(raw: bytes | str) -> int:
    """The deepest nesting of [ and { in a JSON text, strings skipped; no recursion."""
    data = raw.encode() if isinstance(raw, str) else raw
    depth = deepest = 0
    for match in _BRACKETS.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def refuse_nul_outside_body() -> None:
    """400 naming the first path variable, query parameter or form field holding a NUL
    character, for every route (hand-written views and HTML forms too), before any backend call."""
    form = request.mimetype == "application/x-www-form-urlencoded"
    sources = [(request.view_args or {}).items(), request.args.items(multi=True)]
    if form:
        sources.append(request.form.items(multi=True))
    for pairs in sources:
        for name, value in pairs:
            if "\x00" in name or (isinstance(value, str) and "\x00" in value):
                raise invalid_field(name.replace("\x00", ""), NUL_MESSAGE)


def _nul_path(doc: Any) -> str | None:
    """The path of the first key or string holding a NUL character ("" for the top), else None."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                if "\x00" in key:
                    return path or "body"
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


def too_large(limit: int) -> Problem:
    return Problem(
        413, "payload-too-large", "Payload too large",
        f"the body is larger than {limit} bytes",
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata for a backend call: bearer token, request id, idempotency key."""
    return g.grpc_metadata  # type: ignore[no-any-return]  # flask.g attributes are untyped


def expected_version() -> int:
    """If-Match → expected_version (0 = no check)."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return 0
    match = _ETAG.match(raw.strip())
    if match is None or int(match.group(1)) == 0:
        raise invalid_field(
            "If-Match", 'expected one strong ETag from a previous response, e.g. "3"'
        )
    return int(match.group(1))


def dump(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def json_response(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump(doc), status=status, mimetype="application/json", headers=headers)


def resource_response(message: Message, *, status: int = 200, location: str = "") -> Response:
    headers: dict[str, str] = {}
    version = getattr(message, "version", 0)
    if version:
        etag = f'"{version}"'
        headers["ETag"] = etag
        if status == 200 and request.method == "GET" and etag in request.headers.get("If-None-Match", ""):
            return Response(status=304, headers=headers)
    if location:
        headers["Location"] = location
    return json_response(to_json(message), status, headers)


def page_response(items: Sequence[Message], next_page_token: str | None = None) -> Response:
    doc: dict[str, Any] = {"items": [to_json(m) for m in items]}
    if next_page_token is not None:
        doc["next_page_token"] = next_page_token
    return json_response(doc)


def no_content() -> Response:
    return Response(status=204)

