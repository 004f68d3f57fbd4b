"""The OpenAPI 3.1 document, generated from the same route table and schemas the app serves, so
it cannot drift from what the gateway accepts."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flask import Response

from crm_gateway.problems import PROBLEM_JSON
from crm_gateway.routing import API, Call, Route, state
from crm_gateway.schema import NO_NUL, SchemaRegistry, ref

_PATH_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_PATH_VARIABLE = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")  # (converter, name)
_ERROR_TITLES = {
    400: "Invalid request: `errors` names each bad field, query parameter or header",
    401: "Missing or invalid bearer token",
    403: "The caller may not do this",
    404: "No such record, or a record the request names does not exist (or is not visible to the caller)",
    409: "Conflict: stale If-Match version, or a duplicate (`existing_id`, Location)",
    413: "Body larger than MAX_BODY_BYTES",
    415: "Body is not application/json",
    429: "Rate limit exceeded; see Retry-After",
    500: "Internal error",
    503: "A backend is unavailable",
    504: "A backend did not answer in time",
}
_WRITES = ("POST", "PATCH", "PUT", "DELETE")
_HEADER = {"type": "string"}
# What a client can put in a request header: visible ASCII, spaces and tabs (RFC 9110 field values)
_REQUEST_HEADER = {"type": "string", "pattern": "^[\\t -~]*$"}
# What the guard accepts (app.py): a gRPC metadata value; one strong ETag of a version, or *.
IDEMPOTENCY_KEY_PATTERN = "^[!-~]{1,200}$"
IF_MATCH_PATTERN = '^(\\*|"[1-9][0-9]{0,17}")$'
LICENSE = {"name": "Apache-2.0", "identifier": "Apache-2.0"}
# Every tag a route names, described once (generated clients make a module of each; the lint in
# tests/contract refuses an operation whose tag is not here).
TAGS = {
    "accounts": "Companies: profile, org structure, custom fields, export",
    "admin": "Operations spanning services, such as offboarding a user",
    "audit": "Who read or changed what, from every service's audit log",
    "channels": "Messaging platforms' callbacks (WeChat, WeCom)",
    "consent": "A contact's consent per purpose",
    "contacts": "People: profile, tags, duplicates and merge, timeline, export",
    "custom-fields": "The tenant's own fields on contacts and accounts",
    "dev": "Development sign-in as a demo user (make run only)",
    "imports": "Customer imports from CSV or xlsx files, run as jobs",
    "exports": "Export jobs: a large list written in the background, then downloaded by the user who asked",
    "intake": "Tickets arriving by email, chat and phone",
    "kb": "Knowledge-base articles, categories and feedback",
    "marketing": "Campaigns, invitation lists, email templates, send waves, mail feedback",
    "marketing automation": "Forms, drip sequences, event-triggered rules, A/B tests, scoring",
    "meta": "This document",
    "privacy": "Data-subject exports and erasures",
    "public": "Pages and endpoints for customers and visitors, without a token",
    "reports": "Read models, custom queries, dashboards, targets and forecasts",
    "sales": "Leads, opportunities, quotes, contracts, approvals, tasks, price books, delegations",
    "search": "Customer search across names, phones and emails",
    "segments": "Saved dynamic filters over contacts",
    "sms": "SMS waves and replies",
    "support": "Support settings: SLA policies, routing rules, macros",
    "tickets": "Support tickets: status, comments, escalation, CSAT",
    "webhooks": "Outgoing webhooks: subscriptions, signed deliveries, the delivery log and replay",
}


def _path_schema(converter: str) -> dict[str, Any]:
    """A path variable's schema: Flask's `any(a, b)` converter routes only those values (404 otherwise)."""
    choices = re.fullmatch(r"any\((.*)\)", converter)
    if choices:
        return {"type": "string", "enum": [value.strip() for value in choices.group(1).split(",")]}
    return {"type": "string", "pattern": NO_NUL}


def openapi_path(rule: str) -> str:
    return _PATH_PARAM.sub(r"{\1}", rule)


def build_document(routes: Sequence[Route], registry: SchemaRegistry) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(openapi_path(route.rule), {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Shuniu CRM API",
            "version": "1.0.0",
            "license": LICENSE,
            "description": (
                "REST/JSON gateway of Shuniu CRM. Resources are the proto messages as JSON with "
                "proto field names; timestamps are RFC 3339. Errors are application/problem+json."
            ),
        },
        "servers": [{"url": "/", "description": "this gateway (paths start with /api/v1)"}],
        "tags": [{"name": tag, "description": TAGS.get(tag, "")}
                 for tag in sorted({route.tag for route in routes})],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(registry.schemas.items())),
            "responses": {
                f"Problem{status}": {
                    "description": title,
                    "content": {PROBLEM_JSON: {"schema": ref("Problem")}},
                }
                for status, title in _ERROR_TITLES.items()
            },
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearerAuth": []}],
    }


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route),
        "responses": _responses(route),
    }
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
    elif route.request_body is not None:
        op["requestBody"] = {"required": True, "content": route.request_body}
    if route.public:
        op["security"] = []
    return op


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(converter)}
        for converter, name in _PATH_VARIABLE.findall(route.rule)
    ]
    params += [
        {"name": q.name, "in": "query", "required": q.required, "schema": q.schema(),
         **({"description": q.description} if q.description else {})}
        for q in route.query
    ]
    params.append({"name": "X-Request-Id", "in": "header", "required": False,
                   "description": "kept, echoed and forwarded when it is 1 to 128 of A-Za-z0-9._:- ; any other "
                                  "value (or none) is replaced by a new id, which the response carries",
                   "schema": _REQUEST_HEADER})
    if route.method in _WRITES and not route.public:
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "1 to 200 visible ASCII characters, e.g. a UUID; a retry with the same "
                                      "key returns the first answer",
                       "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN}})
    if route.if_match:
        params.append({"name": "If-Match", "in": "header", "required": False,
                       "description": 'ETag of the version being changed, e.g. "3" (or *: no check); 409 when stale',
                       "schema": {"type": "string", "pattern": IF_MATCH_PATTERN}})
    if route.etag and route.method == "GET":
        params.append({"name": "If-None-Match", "in": "header", "required": False, "schema": _REQUEST_HEADER})
    return params


def _responses(route: Route) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": {"schema": _HEADER}}
    if route.etag:
        headers["ETag"] = {"description": 'the resource version, e.g. "3"', "schema": _HEADER}
    if route.location:
        headers["Location"] = {"description": "URL of the created resource", "schema": _HEADER}
    success: dict[str, Any] = {"description": "OK" if route.status < 300 else "", "headers": headers}
    if route.status == 201:
        success["description"] = "Created"
    if 300 <= route.status < 400:
        success["description"] = "Redirect"
        headers["Location"] = {"description": "where the client is sent", "schema": _HEADER}
    elif route.response is None:
        success["description"] = "No content"
    else:
        success["content"] = {media: {"schema": route.response} for media in (route.media_type, *route.other_media)}
    responses: dict[str, Any] = {str(route.status): success}
    for other in route.also:
        responses[str(other)] = {**success, "description": "OK"}
    if route.etag and route.method == "GET":
        responses["304"] = {"description": "Not modified (If-None-Match matched)"}
    html = route.media_type == "text/html"
    for status in _error_statuses(route):
        if html:  # a page for a person: errors are pages too, except the gateway's own (problem+json)
            responses[str(status)] = {"description": _ERROR_TITLES[status], "content": {
                PROBLEM_JSON: {"schema": ref("Problem")}, "text/html": {"schema": {"type": "string"}}}}
        else:
            responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    return responses


def _error_statuses(route: Route) -> list[int]:
    """Every operation may meet bad input, a record it names that does not exist (in the URL, the
    query or the body), the rate limit and a backend away; writes a conflict and a body's limits."""
    statuses = [400, 404, 429, 500, 503, 504]
    if not route.public:
        statuses += [401, 403]
    elif 403 in route.errors and 401 not in route.errors:  # public but signed (channel callbacks)
        statuses.append(403)
    if route.method in _WRITES:
        statuses += [409, 413, 415]
    elif 409 in route.errors:  # a read that depends on a state (a download before its job is done)
        statuses.append(409)
    return sorted(statuses)


def serve_document(c: Call) -> Response:
    return Response(state().openapi_json, mimetype="application/json")


ROUTES: list[Route] = [
    Route("GET", f"{API}/openapi.json", serve_document, "getOpenApi",
          "This document", "meta", response={"type": "object"}, public=True),
]
