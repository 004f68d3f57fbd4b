"""The audit log of every service, merged: GET /api/v1/audit (pages), /api/v1/audit/export (JSON
lines or CSV), /api/v1/sales/transfers (the ownership transfers sales recorded).

Each service keeps its own hash-chained log and answers `crm.common.v1.AuditLog` for the auditor
and admin roles (a rep gets 403 from the service itself). The gateway asks every configured
service for a page with the same filters, merges the answers newest first and returns one page;
the page token carries each service's own cursor, so a page never repeats or skips a row
whatever the services' clocks."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Response, stream_with_context

from crm.common.v1 import audit_pb2 as pb
from crm.common.v1.audit_pb2_grpc import AuditLogStub
from crm.common.v1.types_pb2 import PageRequest
from crm_gateway import fanout
from crm_gateway.problems import invalid_field
from crm_gateway.routing import API, Call, QueryParam, Route, json_response, metadata, state
from crm_gateway.schemas import REGISTRY
from crm_gateway.serialize import to_json
from crmkit.paging import encode_cursor

SERVICES = ("contacts", "sales", "marketing", "support", "reporting", "privacy", "webhooks")
MAX_PAGE = 500
EXPORT_PAGE = 500
EXPORT_MAX_ROWS = 1_000_000
CSV_COLUMNS = ("service", "seq", "at", "actor", "action", "record_type", "record_id", "fields", "request_id",
               "client_addr", "method", "event_id", "details", "hash")

ENTRY = REGISTRY.message(pb.AuditEntry)
PAGE = REGISTRY.add("AuditPage", {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": ENTRY},
        "next_page_token": {"type": "string", "description": "empty on the last page"},
    },
    "required": ["items", "next_page_token"],
    "additionalProperties": False,
})
FILTERS = (
    QueryParam("service", description="only this service's log", choices=SERVICES),
    QueryParam("actor", description="user id ('system' for a service's own work)", max_length=200),
    QueryParam("record_type", description="contact, account, lead, opportunity, ticket, user ...", max_length=200),
    QueryParam("record_id", max_length=200),
    QueryParam("action", description="created, updated, deleted, transfer, delegate, read, list, search ...",
               max_length=200),
    QueryParam("request_id", description="every entry one request left, in every service", max_length=200),
    QueryParam("since", "date-time", "from this time (inclusive)"),
    QueryParam("until", "date-time", "before this time"),
)
PAGE_PARAMS = (
    QueryParam("page_size", "integer", "entries per page (50 when omitted)", 1, MAX_PAGE),
    QueryParam("page_token", description="next_page_token from the previous page", pattern=fanout.TOKEN_PATTERN,
               max_length=4000),
)
EXPORT_PARAMS = (
    QueryParam("format", description="jsonl (one JSON object a line, default) or csv", choices=("jsonl", "csv")),
    QueryParam("limit", "integer", f"at most this many entries (default and maximum {EXPORT_MAX_ROWS})", 1,
               EXPORT_MAX_ROWS),
)


def _request(query: dict[str, Any]) -> pb.ListAuditEntriesRequest:
    request = pb.ListAuditEntriesRequest(
        actor=query.get("actor", ""), record_type=query.get("record_type", ""),
        record_id=query.get("record_id", ""), action=query.get("action", ""),
        request_id=query.get("request_id", ""))
    if "since" in query:
        request.since.CopyFrom(query["since"])
    if "until" in query:
        request.until.CopyFrom(query["until"])
    if "since" in query and "until" in query and request.since.ToDatetime() >= request.until.ToDatetime():
        raise invalid_field("since", "must be before until")
    return request


def _services(query: dict[str, Any]) -> list[str]:
    configured = state().backends.addresses
    if "service" in query:
        return [query["service"]]  # not configured → 503 naming it
    return [name for name in SERVICES if name in configured]


def merged_page(services: Sequence[str], base: pb.ListAuditEntriesRequest, size: int,
                cursors: dict[str, str]) -> tuple[list[pb.AuditEntry], dict[str, str]]:
    """The newest `size` entries over every service at its cursor, and the cursors after them."""
    def fetch(name: str, cursor: str, n: int) -> tuple[list[pb.AuditEntry], str]:
        request = pb.ListAuditEntriesRequest()
        request.CopyFrom(base)
        request.page.CopyFrom(PageRequest(page_size=n, page_token=cursor))
        client = state().backends.service_client(name, AuditLogStub)
        answer = client.call("ListAuditEntries", request, metadata=metadata(), idempotent=True)
        return list(answer.entries), answer.page.next_page_token

    return fanout.merged_page(services, size, cursors, fetch=fetch,
                              key=lambda e: (-e.at.seconds, -e.at.nanos, e.service, -e.seq),
                              cursor_after=lambda e: encode_cursor(e.seq))


def list_audit(c: Call) -> Response:
    services = _services(c.query)
    page, after = merged_page(services, _request(c.query), c.query.get("page_size", 50),
                              fanout.decode_positions(c.query.get("page_token", ""), services))
    return json_response({"items": [to_json(e) for e in page], "next_page_token": fanout.encode_positions(after)})


def _all(services: Sequence[str], base: pb.ListAuditEntriesRequest, limit: int) -> Iterator[pb.AuditEntry]:
    cursors = dict.fromkeys(services, "")
    sent = 0
    while cursors and sent < limit:
        page, cursors = merged_page(services, base, min(EXPORT_PAGE, limit - sent), cursors)
        yield from page
        sent += len(page)
        if not page:
            return


def _csv_row(entry: pb.AuditEntry) -> str:
    doc = to_json(entry)
    out = io.StringIO()
    csv.writer(out).writerow([";".join(doc.get("fields", [])) if col == "fields" else doc.get(col, "")
                              for col in CSV_COLUMNS])
    return out.getvalue()


def export_audit(c: Call) -> Response:
    services, base = _services(c.query), _request(c.query)
    fmt, limit = c.query.get("format", "jsonl"), c.query.get("limit", EXPORT_MAX_ROWS)
    entries = _all(services, base, limit)
    first = next(entries, None)  # a refusal (403) or a service down (503) is an answer, not a cut stream

    def lines() -> Iterator[str]:
        if fmt == "csv":
            yield ",".join(CSV_COLUMNS) + "\r\n"
        for entry in ([first] if first is not None else []):
            yield _csv_row(entry) if fmt == "csv" else json.dumps(to_json(entry), ensure_ascii=False) + "\n"
        for entry in entries:
            yield _csv_row(entry) if fmt == "csv" else json.dumps(to_json(entry), ensure_ascii=False) + "\n"

    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(stream_with_context(lines()), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="audit.{"csv" if fmt == "csv" else "jsonl"}"'})


TRANSFER_PARAMS = (
    QueryParam("from_user_id", description="the rep whose work moved", max_length=200),
    QueryParam("since", "date-time"), QueryParam("until", "date-time"), *PAGE_PARAMS,
)


def list_transfers(c: Call) -> Response:
    """Ownership transfers and delegations as sales recorded them (entries about the rep)."""
    base = _request({**c.query, "record_type": "user", "record_id": c.query.get("from_user_id", "")})
    page, after = merged_page(["sales"], base, c.query.get("page_size", 50),
                              fanout.decode_positions(c.query.get("page_token", ""), ["sales"]))
    return json_response({"items": [to_json(e) for e in page], "next_page_token": fanout.encode_positions(after)})


ROUTES: list[Route] = [
    Route("GET", f"{API}/audit", list_audit, "listAuditEntries",
          "Every service's audit log, newest first (auditor or admin): changes and reads of personal "
          "data, who, which record and fields, when, request id and client address", "audit",
          response=PAGE, query=(*FILTERS, *PAGE_PARAMS)),
    Route("GET", f"{API}/audit/export", export_audit, "exportAuditEntries",
          "The audit entries matching the filters as JSON lines or CSV, newest first (auditor or admin)",
          "audit", response={"type": "string"}, media_type="application/x-ndjson", other_media=("text/csv",),
          query=(*FILTERS, *EXPORT_PARAMS)),
    Route("GET", f"{API}/sales/transfers", list_transfers, "listOwnershipTransfers",
          "Ownership transfers, delegations and their ends as recorded in the sales audit log "
          "(auditor or admin), newest first", "sales", response=PAGE, query=TRANSFER_PARAMS),
]
