"""Domain errors. Services raise these; one gRPC interceptor turns them into status codes and the
gateway turns those into problem+json. The field travels in trailing metadata (crm-error-field),
percent-encoded: metadata values must be printable ASCII, and a field may be a custom-field key
in any script (`custom_fields.键`)."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import grpc


class DomainError(Exception):
    status: grpc.StatusCode = grpc.StatusCode.INTERNAL
    title = "Internal error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class InvalidArgument(DomainError):
    status = grpc.StatusCode.INVALID_ARGUMENT
    title = "Invalid argument"


class FailedPrecondition(DomainError):
    status = grpc.StatusCode.FAILED_PRECONDITION
    title = "Failed precondition"


class NotFound(DomainError):
    status = grpc.StatusCode.NOT_FOUND
    title = "Not found"


class AlreadyExists(DomainError):
    status = grpc.StatusCode.ALREADY_EXISTS
    title = "Already exists"


class Conflict(DomainError):
    """Optimistic-concurrency failure: the caller's version is stale."""

    status = grpc.StatusCode.ABORTED
    title = "Conflict"


class PermissionDenied(DomainError):
    status = grpc.StatusCode.PERMISSION_DENIED
    title = "Permission denied"


class Unauthenticated(DomainError):
    status = grpc.StatusCode.UNAUTHENTICATED
    title = "Unauthenticated"


class ResourceExhausted(DomainError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    title = "Too many requests"


ERROR_FIELD_KEY = "crm-error-field"
ERROR_DETAILS_KEY = "crm-error-details"
DEADLINE_TITLE = "Deadline exceeded"
# Printable ASCII stays as it is (so `budget` reads `budget` on the wire); '%' and everything else
# is percent-encoded as UTF-8, so decoding is exact for every name.
_FIELD_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


class DeadlineExceeded(DomainError):
    """The caller stopped waiting: nothing of the call is committed."""

    status = grpc.StatusCode.DEADLINE_EXCEEDED
    title = DEADLINE_TITLE


def encode_field(name: str) -> str:
    """A field name as a gRPC metadata value (printable ASCII)."""
    return quote(name, safe=_FIELD_SAFE)


def decode_field(value: str | bytes | None) -> str:
    """The field name `encode_field` carried; "" for a missing or binary trailer."""
    return unquote(value) if isinstance(value, str) else ""
