"""Exports: every list (`GET /api/v1/<list>/export`), every report (export_reports.py) and export
jobs for large lists (`POST /api/v1/exports`, then its progress and download).

A list export takes exactly the list route's filters (an unknown one is refused, naming it) and
fetches through the same list RPC with the caller's token, so the rows are what the caller's list
shows (the services apply visibility and masking). CSV (UTF-8 with a BOM, so Excel keeps Chinese
text) streams a page at a time in flat memory; xlsx is written row by row (openpyxl's write-only
mode) to a temporary file, then sent. Columns: export_lists.py; cells: export_tables.py."""
from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
from flask import Response, current_app, g, send_file, stream_with_context

from crm_gateway import export_campaign_reports, export_reports
from crm_gateway.export_jobs import JobStore
from crm_gateway.export_lists import LISTS, ExportedList, Metadata, in_filters, parse_filters, records
from crm_gateway.export_tables import XLSX, Cell, Column, csv_chunks, row_of, write_xlsx
from crm_gateway.problems import Problem, from_rpc_error, invalid_field
from crm_gateway.routing import API, Call, QueryParam, Route, json_response, metadata, state
from crm_gateway.schemas import REGISTRY
from crmkit.errors import InvalidArgument
from crmkit.grpc_server import IDEMPOTENCY_KEY
from crmkit.paging import decode_key, encode_key

FORMAT = QueryParam("format", description="csv (UTF-8 with BOM, default) or xlsx", choices=("csv", "xlsx"))
COLUMNS = QueryParam("columns", description="all (default) or import: only the columns the list's import reads, "
                     "so the file imports back as it is", choices=("all", "import"))
EXPORTS = f"{API}/exports"
TAG = "exports"


def read_metadata() -> Metadata:
    """The caller's metadata for reads: the token and request id, not an idempotency key."""
    return tuple((k, v) for k, v in metadata() if k != IDEMPOTENCY_KEY)


def file_response(name: str, fmt: str, header: Sequence[str], kinds: Sequence[str],
                  rows: Iterator[Sequence[Cell]]) -> Response:
    """The rows as a download. The first row is read before answering, so a refusal or an
    unreachable service is a problem answer, not a cut stream."""
    first = next(rows, None)
    every = _chain(first, rows)
    if fmt == "xlsx":
        spool = tempfile.TemporaryFile()  # noqa: SIM115  (the response closes it)
        write_xlsx(spool, name, header, kinds, every)
        size = spool.tell()
        spool.seek(0)

        def chunks() -> Iterator[bytes]:
            with spool:
                while block := spool.read(1024 * 1024):
                    yield block

        return Response(chunks(), 200, mimetype=XLSX, headers={
            "Content-Disposition": f'attachment; filename="{name}.xlsx"', "Content-Length": str(size)})
    return Response(stream_with_context(csv_chunks(header, every)), 200, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _chain(first: Sequence[Cell] | None, rest: Iterable[Sequence[Cell]]) -> Iterator[Sequence[Cell]]:
    if first is None:
        return
    yield first
    yield from rest


def _rows(exported: ExportedList, columns: Sequence[Column], query: dict[str, Any],
          md: Metadata) -> Iterator[Sequence[Cell]]:
    backends = state().backends  # the generator may outlive the request context (a job's thread)
    return (row_of(columns, r) for r in records(exported, query, backends, md))


def _list_view(exported: ExportedList) -> Any:
    def export(c: Call) -> Response:
        if exported.action.check is not None:
            exported.action.check(c.query)
        filters = {k: v for k, v in c.query.items() if k not in ("format", "columns")}
        columns = exported.header(c.query.get("columns") == "import")
        rows = _rows(exported, columns, filters, read_metadata())
        return file_response(exported.name, c.query.get("format", "csv"), [col.name for col in columns],
                             [col.kind for col in columns], rows)

    export.__name__ = f"export_{exported.name}"
    return export


def _list_route(exported: ExportedList) -> Route:
    title = exported.name.capitalize()
    extra = (COLUMNS,) if exported.import_columns else ()
    summary = (f"The {exported.name} list as CSV or xlsx, with the list's own filters and the caller's visibility"
               + ("; columns named like the import's fields" if exported.name in ("contacts", "accounts", "leads")
                  else ""))
    return Route("GET", f"{API}/{exported.name}/export", _list_view(exported), f"export{title}", summary,
                 exported.action.tag, response={"type": "string"}, media_type="text/csv", other_media=(XLSX,),
                 query=(*exported.params, FORMAT, *extra))


# -- jobs -------------------------------------------------------------------------------------

JOB_INPUT = REGISTRY.add("ExportJobInput", {
    "type": "object",
    "properties": {
        "list": {"type": "string", "enum": sorted(LISTS), "description": "which list"},
        "filters": {"type": "object", "description": "the list route's query parameters, by name",
                    "additionalProperties": {"type": ["string", "integer", "boolean"]}},
        "format": {"type": "string", "enum": ["csv", "xlsx"], "description": "csv (default) or xlsx"},
        "columns": {"type": "string", "enum": ["all", "import"], "description": "as ?columns= of the list export"},
    },
    "required": ["list"],
    "additionalProperties": False,
})
JOB = REGISTRY.add("ExportJob", {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "list": {"type": "string"}, "format": {"type": "string"},
        "filters": {"type": "object"},
        "status": {"type": "string", "enum": ["running", "done", "failed"]},
        "rows_written": {"type": "integer", "description": "rows in the file so far"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time", "description": "the last progress"},
        "finished_at": {"type": "string", "format": "date-time"},
        "error": {"type": "string", "description": "why it failed (an interrupted job says so)"},
        "download_url": {"type": "string", "description": "when done: the file, for the same user"},
        "expires_at": {"type": "string", "format": "date-time", "description": "the file is removed after this"},
        "size": {"type": "integer", "description": "bytes"},
    },
    "required": ["id", "list", "format", "filters", "status", "rows_written", "created_at", "updated_at"],
    "additionalProperties": False,
})


def jobs() -> JobStore:
    """The app's job store (one per app, over the shared directory), swept when first used."""
    store: JobStore | None = current_app.extensions.get("crm_gateway_exports")
    if store is None:
        settings = state().settings
        root = Path(settings.export_dir or Path(tempfile.gettempdir()) / "crm-gateway-exports")
        store = JobStore(root, retention=settings.export_retention_hours * 3600)
        store.sweep()
        current_app.extensions["crm_gateway_exports"] = store
    return store


def _download_url(job_id: str) -> str:
    return f"{EXPORTS}/{job_id}/download"


def create_export(c: Call) -> Response:
    exported = LISTS[c.body["list"]]
    filters = parse_filters(exported, c.body.get("filters", {}))
    fmt = c.body.get("format", "csv")
    columns = exported.header(c.body.get("columns") == "import")
    store = jobs()
    store.sweep()
    rows = _rows(exported, columns, filters, read_metadata())
    try:
        first = next(rows, None)  # a refusal (a filter, a role) answers now, not as a failed job later
    except grpc.RpcError as exc:  # a service refusing a filter names the body's field, like the gateway does
        raise in_filters(exported, from_rpc_error(exc)) from None
    rows = _chain(first, rows)
    job = store.new(owner=g.principal.user_id, list_name=exported.name, filters=c.body.get("filters", {}), fmt=fmt)
    store.start(job, [col.name for col in columns], [col.kind for col in columns], rows)
    return json_response(job.as_json(_download_url(job.id)), 202, {"Location": f"{EXPORTS}/{job.id}"})


def _job(job_id: str) -> Any:
    job = jobs().get(job_id, g.principal.user_id)
    if job is None:
        raise Problem(404, "not-found", "Not found", "no such export job")
    return job


JOB_PAGE = REGISTRY.page(JOB, "ExportJobList")
JOB_LIST_PARAMS = (
    QueryParam("page_size", "integer", "jobs per page (50 when omitted)", 1, 200),
    QueryParam("page_token", description="next_page_token from the previous page; any other value is a 400 "
               "naming page_token", pattern="^[A-Za-z0-9_-]*$", max_length=400),
)


def _job_cursor(token: str) -> tuple[float, str] | None:
    """The (created_at, id) a page token carries; a token the gateway did not issue is a 400."""
    if not token:
        return None
    bad = invalid_field("page_token", "not a token this list issued")
    try:
        created, job_id = decode_key(token, 2)
        at = float(created)
    except (InvalidArgument, ValueError):
        raise bad from None
    if not math.isfinite(at):
        raise bad
    return at, job_id


def list_exports(c: Call) -> Response:
    # Only the caller's own jobs, an administrator's too: a job's file is the rows its owner may see,
    # downloadable by them alone, and its filters say what they looked for; listing colleagues' jobs
    # would show links that answer 404 and searches that are not the reader's business.
    size = c.query.get("page_size") or 50
    found, more = jobs().owned(g.principal.user_id, size=size, after=_job_cursor(c.query.get("page_token", "")))
    token = encode_key(repr(found[-1].created_at), found[-1].id) if more and found else ""
    return json_response({"items": [job.as_json(_download_url(job.id)) for job in found], "next_page_token": token})


def get_export(c: Call, id: str) -> Response:
    return json_response(_job(id).as_json(_download_url(id)))


def download_export(c: Call, id: str) -> Response:
    job = _job(id)
    if job.status != "done":
        raise Problem(409, "export-not-ready", "Export not ready",
                      f"the export is {job.status}" + (f": {job.error}" if job.error else ""))
    path = jobs().file(job)
    if not path.is_file():
        raise Problem(404, "not-found", "Not found", "the export's file was removed after its retention")
    return send_file(path, mimetype=XLSX if job.format == "xlsx" else "text/csv", as_attachment=True,
                     download_name=job.file_name, max_age=0)


ROUTES = [
    *(_list_route(exported) for exported in LISTS.values()),
    *export_reports.ROUTES,
    *export_campaign_reports.ROUTES,
    Route("POST", EXPORTS, create_export, "createExportJob", "Export a list in the background (large lists): the "
          "list, its filters (as its list route takes them) and the format; answers the job to follow", TAG,
          body=JOB_INPUT, response=JOB, status=202, location=True),
    Route("GET", EXPORTS, list_exports, "listExportJobs", "The caller's own export jobs (an administrator's too), "
          "newest first, with their progress and, when done, the download URL", TAG, response=JOB_PAGE,
          query=JOB_LIST_PARAMS),
    Route("GET", f"{EXPORTS}/<id>", get_export, "getExportJob", "An export job's progress (rows written) and, when "
          "done, its download URL and until when it is kept (the caller's own jobs only)", TAG, response=JOB),
    Route("GET", f"{EXPORTS}/<id>/download", download_export, "downloadExportJob", "The finished export's file "
          "(the user who asked it only; 409 while it runs)", TAG, response={"type": "string"},
          media_type="text/csv", other_media=(XLSX,), errors=(400, 401, 403, 404, 409, 429, 503, 504)),
]
