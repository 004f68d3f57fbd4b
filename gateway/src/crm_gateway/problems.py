"""RFC 9457 problem details, and the one table that maps gRPC status codes to HTTP.

Every error the gateway returns is `application/problem+json` with type, title, status, detail
and `errors: [{"field", "message"}]` naming the bad input. Text from a backend is shown only for
client errors (4xx), where it describes the caller's input; 5xx bodies are generic so internal
details (addresses, stack traces) never leak."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
from flask import Response

from crmkit.errors import ERROR_DETAILS_KEY, ERROR_FIELD_KEY, decode_field

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:shuniu:problem:"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass(eq=False)  # stays hashable, as exceptions must be
class Problem(Exception):
    status: int
    slug: str
    title: str
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, request_id: str = "") -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": TYPE_PREFIX + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if self.errors:
            doc["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        if request_id:
            doc["request_id"] = request_id
        doc.update(self.extra)
        return doc

    def response(self, request_id: str = "") -> Response:
        payload = json.dumps(self.body(request_id), ensure_ascii=False, separators=(",", ":"))
        return Response(payload, status=self.status, mimetype=PROBLEM_JSON, headers=self.headers)


def invalid(errors: Iterable[FieldError], detail: str = "") -> Problem:
    errors = list(errors)
    if not detail:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return Problem(400, "invalid-request", "Invalid request", detail, errors)


def invalid_field(name: str, message: str) -> Problem:
    return invalid([FieldError(name, message)])


def unauthenticated(detail: str, *, bad_token: bool) -> Problem:
    challenge = 'Bearer realm="shuniu-crm"'
    if bad_token:
        challenge += ', error="invalid_token"'
    return Problem(
        401, "unauthenticated", "Unauthenticated", detail,
        headers={"WWW-Authenticate": challenge},
    )


def rate_limited(retry_after: int) -> Problem:
    return Problem(
        429, "rate-limited", "Too many requests",
        f"rate limit exceeded; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def internal() -> Problem:
    return Problem(500, "internal", "Internal error", "the request could not be completed")


# status code → (HTTP status, slug, title, show backend text?)
_C = grpc.StatusCode
GRPC_TO_HTTP: Mapping[grpc.StatusCode, tuple[int, str, str, bool]] = {
    _C.INVALID_ARGUMENT: (400, "invalid-request", "Invalid request", True),
    _C.FAILED_PRECONDITION: (400, "failed-precondition", "Failed precondition", True),
    _C.OUT_OF_RANGE: (400, "invalid-request", "Invalid request", True),
    _C.UNAUTHENTICATED: (401, "unauthenticated", "Unauthenticated", True),
    _C.PERMISSION_DENIED: (403, "forbidden", "Forbidden", True),
    _C.NOT_FOUND: (404, "not-found", "Not found", True),
    _C.ALREADY_EXISTS: (409, "already-exists", "Already exists", True),
    _C.ABORTED: (409, "conflict", "Conflict", True),
    _C.RESOURCE_EXHAUSTED: (429, "rate-limited", "Too many requests", True),
    _C.CANCELLED: (503, "unavailable", "Service unavailable", False),
    _C.UNIMPLEMENTED: (501, "not-implemented", "Not implemented", False),
    _C.UNAVAILABLE: (503, "unavailable", "Service unavailable", False),
    _C.DEADLINE_EXCEEDED: (504, "timeout", "Gateway timeout", False),
}
_GENERIC_DETAIL = {
    503: "a backend service is unavailable; retry later",
    504: "a backend service did not answer in time",
    501: "this operation is not implemented by the backend",
    500: "the request could not be completed",
}


def from_rpc_error(exc: grpc.RpcError, *, collection: str = "") -> Problem:
    """Translate a failed gRPC call. `collection` (e.g. /api/v1/contacts) lets a duplicate point
    at the record that already exists."""
    code = exc.code() if hasattr(exc, "code") else _C.UNKNOWN
    status, slug, title, show_text = GRPC_TO_HTTP.get(code, (500, "internal", "Internal error", False))
    # Each trailer is a (key, value) tuple at runtime; the stubs' _Metadatum only names the two.
    pairs = exc.trailing_metadata() or () if hasattr(exc, "trailing_metadata") else ()
    trailers = dict(cast("tuple[tuple[str, str | bytes], ...]", pairs))
    detail = (exc.details() or "") if show_text and hasattr(exc, "details") else ""
    detail = detail or _GENERIC_DETAIL.get(status, title)
    problem = Problem(status, slug, title, detail)
    if not show_text:
        return problem
    details = _details(trailers.get(ERROR_DETAILS_KEY))
    listed = details.get("errors")  # a service naming several bad fields: {"errors": [{field, message}]}
    if isinstance(listed, list):
        problem.errors.extend(FieldError(str(e["field"]), str(e["message"])) for e in listed
                              if isinstance(e, dict) and "field" in e and "message" in e)
    field_name = decode_field(trailers.get(ERROR_FIELD_KEY))  # percent-encoded by the service
    if field_name and not problem.errors:
        problem.errors.append(FieldError(field_name, detail))
    existing_id = details.get("existing_id")
    if isinstance(existing_id, str) and existing_id:
        problem.slug = "duplicate"
        problem.extra["existing_id"] = existing_id
        if collection:
            url = f"{collection}/{existing_id}"
            problem.extra["existing_url"] = url
            # Location on a 409 points at the record the client collided with.
            problem.headers["Location"] = url
            problem.headers["Link"] = f'<{url}>; rel="duplicate"'
    if status == 401:
        problem.headers["WWW-Authenticate"] = 'Bearer realm="shuniu-crm", error="invalid_token"'
    return problem


def _details(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
