"""Imports of contacts, accounts (contacts), leads, products (sales) and tickets (support):
POST /api/v1/imports (the file as the body, options in the query),
GET /api/v1/imports (the caller's jobs, an admin's everyone's, newest first over the three services),
GET /api/v1/imports/<id> (progress: rows done, accepted, rejected, rate, ETA, the first problems),
GET /api/v1/imports/<id>/report (every rejected row with every reason, CSV).

The body may be up to IMPORT_MAX_BYTES (the gateway's usual limit is for JSON): it is spooled to
a temporary file while its SHA-256 is computed, then handed to contacts in chunks each under the
gRPC message limit; the entity decides the service, and a job's id says which service holds it
("sales-..." and "support-..."; contacts' ids are plain UUIDs). The same file with the same options answers the first job (200) and uploads
nothing; a new job answers 202 with its Location. The list asks each service for a page (only the
entity's service when filtered) and merges them (crm_gateway.fanout): one token holds each
service's position."""
from __future__ import annotations

import hashlib
import json
import tempfile
from typing import Any

from flask import Response, request
from google.protobuf import json_format

from crm.common.v1 import imports_pb2 as pb
from crm.common.v1.imports_pb2_grpc import ImportsStub
from crm.contacts.v1.imports_pb2_grpc import ContactImportsStub
from crm_gateway import fanout
from crm_gateway.problems import Problem, invalid_field
from crm_gateway.routing import API, Call, QueryParam, Route, json_response, metadata, state, too_large
from crm_gateway.schemas import REGISTRY
from crm_gateway.serialize import to_json
from crmkit.grpc_server import IDEMPOTENCY_KEY
from crmkit.imports import listing

IMPORTS = f"{API}/imports"
IMPORT_MAX_BYTES = 256 * 1024 * 1024  # a million customers as CSV is ~150 MB
# entity → the service that imports it; a job id's prefix → its service
SERVICES = {"contact": "contacts", "account": "contacts", "lead": "sales", "product": "sales", "ticket": "support"}
PREFIXES = (("sales-", "sales"), ("support-", "support"))
CHUNK = 3 * 1024 * 1024  # under the services' 8 MiB gRPC message limit with room to spare
TAG = "imports"
JOB = REGISTRY.message(pb.ImportJob)
MEDIA = ("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/octet-stream")
PARAMS = (
    QueryParam("entity", description="what each row is", choices=tuple(SERVICES), required=True),
    QueryParam("file_name", description="the file's name; .csv or .xlsx decides how it is read", required=True,
               max_length=300),
    QueryParam("source", description="where the file comes from (e.g. the old CRM's name): its mapping is "
               "remembered under this name and used when no mapping is given", max_length=200),
    QueryParam("mapping", description="JSON: {\"columns\": {column: field}, \"values\": {picklist: {\"values\": "
               "{typed: key}}}, \"keep_unknown_values\": bool}", max_length=6000),
    QueryParam("dry_run", "boolean", "validate every row and report every problem; write nothing"),
    QueryParam("on_duplicate", description="a row matching a record (or an earlier row): contacts and leads by "
               "phone or email, accounts by phone or email, products by SKU, tickets by number (this CRM's) or "
               "external_ref when given. "
               "flag it (rejected, naming the match), merge it into that record (blank fields filled), or create "
               "it anyway (not for products: a SKU is unique; accounts are not merged)",
               choices=("flag", "merge", "create")),
)
JOB_PAGE = REGISTRY.page(JOB, "ImportJobList")
LIST_PARAMS = (
    QueryParam("entity", description="only this entity's jobs (only its service is asked)", choices=tuple(SERVICES)),
    QueryParam("status", description="only jobs in this status", choices=listing.STATUSES),
    QueryParam("page_size", "integer", f"jobs per page ({listing.DEFAULT_PAGE} when omitted)", 1, listing.MAX_PAGE),
    QueryParam("page_token", description="next_page_token from the previous page (with the same filters); any "
               "other value is a 400 naming page_token", pattern=fanout.TOKEN_PATTERN, max_length=2000),
)
BODY = {media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA}


def _client(service: str) -> Any:
    if service == "contacts":
        return state().backends.service_client("contacts", ContactImportsStub)
    return state().backends.service_client(service, ImportsStub)


def _service_of(job_id: str) -> str:
    return next((service for prefix, service in PREFIXES if job_id.startswith(prefix)), "contacts")


def _plain_metadata() -> tuple[tuple[str, str], ...]:
    """The caller's metadata without the idempotency key: the chunks are many distinct calls."""
    return tuple((k, v) for k, v in metadata() if k != IDEMPOTENCY_KEY)


def _job_response(job: pb.ImportJob, status: int) -> Response:
    headers = {"Location": f"{IMPORTS}/{job.id}"}
    return json_response(to_json(job), status, headers)


def upload_import(c: Call) -> Response:
    request.max_content_length = IMPORT_MAX_BYTES  # this route only; the app keeps its JSON limit
    if request.content_length is not None and request.content_length > IMPORT_MAX_BYTES:
        raise too_large(IMPORT_MAX_BYTES)
    if request.mimetype and request.mimetype not in MEDIA:
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      f"send the file as {', '.join(MEDIA)}, not {request.mimetype}")
    mapping = pb.ColumnMapping()
    if c.query.get("mapping"):
        try:
            json_format.Parse(c.query["mapping"], mapping)
        except (json_format.ParseError, json.JSONDecodeError) as exc:
            raise invalid_field("mapping", f"not a column mapping: {str(exc)[:200]}") from None
    digest = hashlib.sha256()
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        while True:
            block = request.stream.read(1024 * 1024)
            if not block:
                break
            size += len(block)
            if size > IMPORT_MAX_BYTES:
                raise too_large(IMPORT_MAX_BYTES)
            digest.update(block)
            spool.write(block)
        if size == 0:
            raise invalid_field("body", "the file is empty")
        client = _client(SERVICES[c.query["entity"]])
        job = client.call("CreateImport", pb.CreateImportRequest(
            entity=c.query["entity"], file_name=c.query["file_name"], source_name=c.query.get("source", ""),
            mapping=mapping, dry_run=c.query.get("dry_run", False), on_duplicate=c.query.get("on_duplicate", ""),
            content_sha256=digest.hexdigest(), size_bytes=size), metadata=metadata(), idempotent=True)
        if job.reused:
            return _job_response(job, 200)
        spool.seek(0)
        offset = 0
        while block := spool.read(CHUNK):
            client.call("AppendImportChunk", pb.AppendImportChunkRequest(id=job.id, offset=offset, data=block),
                        metadata=_plain_metadata(), idempotent=True)  # a resent chunk is ignored
            offset += len(block)
    job = client.call("StartImport", pb.StartImportRequest(id=job.id), metadata=_plain_metadata(), idempotent=True)
    return _job_response(job, 202)


def get_import(c: Call, id: str) -> Response:
    job = _client(_service_of(id)).call("GetImport", pb.GetImportRequest(id=id), metadata=metadata(), idempotent=True)
    return json_response(to_json(job))


def list_imports(c: Call) -> Response:
    entity, status = c.query.get("entity", ""), c.query.get("status", "")
    if entity:
        services = [SERVICES[entity]]  # not configured → 503 naming it
    else:
        configured = state().backends.addresses
        services = [name for name in dict.fromkeys(SERVICES.values()) if name in configured]

    def fetch(service: str, cursor: str, size: int) -> tuple[list[pb.ImportJob], str]:
        answer = _client(service).call("ListImports", pb.ListImportsRequest(
            page_size=size, page_token=cursor, entity=entity, status=status), metadata=metadata(), idempotent=True)
        return list(answer.jobs), answer.next_page_token

    page, after = fanout.merged_page(
        services, c.query.get("page_size") or listing.DEFAULT_PAGE,
        fanout.decode_positions(c.query.get("page_token", ""), services), fetch=fetch,
        key=lambda job: (-job.created_at.seconds, -job.created_at.nanos), cursor_after=listing.cursor_of)
    return json_response({"items": [to_json(job) for job in page], "next_page_token": fanout.encode_positions(after)})


def import_report(c: Call, id: str) -> Response:
    answer = _client(_service_of(id)).call("GetImportReport", pb.GetImportReportRequest(id=id), metadata=metadata(),
                            idempotent=True)
    return Response(answer.csv, 200, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="import-{id}-report.csv"'})


ROUTES = [
    Route("POST", IMPORTS, upload_import, "createImport", "Import contacts, accounts, leads, products or tickets from a CSV or xlsx file as a job: a dry "
          "run reports every problem of every row; a run keeps going past bad rows. The same file with the same "
          "options answers its first job (200)", TAG, response=JOB, status=202, also=(200,), query=PARAMS,
          location=True, request_body=BODY, errors=(400, 401, 403, 404, 409, 413, 415, 429, 503, 504)),
    Route("GET", IMPORTS, list_imports, "listImports", "The caller's import jobs (an administrator's: everyone's) "
          "over contacts, accounts, leads, products and tickets, newest first, each with its progress (its "
          "problems are on the job's own page)", TAG, response=JOB_PAGE, query=LIST_PARAMS),
    Route("GET", f"{IMPORTS}/<id>", get_import, "getImport", "An import's progress: rows done, accepted, merged, "
          "rejected, rate and ETA, and its first problems", TAG, response=JOB),
    Route("GET", f"{IMPORTS}/<id>/report", import_report, "getImportReport", "Every rejected row with every reason, "
          "then its cells as typed (CSV, UTF-8 with a BOM)", TAG,
          response={"type": "string", "contentMediaType": "text/csv"}, media_type="text/csv"),
]
