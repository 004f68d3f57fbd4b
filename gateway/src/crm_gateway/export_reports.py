"""Report exports: the standard reports, a custom query's result and a saved query's result as
CSV or xlsx, beside their JSON routes (which do not change):

    GET  /api/v1/reports/standard/<name>/export?format=   the report's own filters
    POST /api/v1/reports/query/export?format=             the same body as /reports/query
    GET  /api/v1/reports/saved/<id>/export?format=

Each runs the JSON route's RPC with the caller's token, filled the same way (its declared query
parameters, path and body), so the file holds the rows the JSON answer holds: one column per
dimension (its keys) then per measure (its values, numbers), headed by the columns' names, and a
last "total" row when the answer has totals (without a dimension, the totals are the one row)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from flask import Response

from crm_gateway import routes_reports
from crm_gateway.actions import Action, _query_target, _setter  # the report routes' own plan
from crm_gateway.export_tables import XLSX, Cell
from crm_gateway.routing import API, Call, QueryParam, Route, metadata, state
from crm_gateway.schema import to_message
from crm_gateway.schemas import reports as sh
from crmkit.grpc_server import IDEMPOTENCY_KEY

FORMAT = QueryParam("format", description="csv (UTF-8 with BOM, default) or xlsx", choices=("csv", "xlsx"))


def action(operation_id: str) -> Action:
    return next(a for a in routes_reports.ROUTES if a.operation_id == operation_id)


def number(value: Any) -> Cell:
    """A measure's cell: whole numbers without ".0", null as empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value  # type: ignore[no-any-return]  # a ListValue holds floats, strings or bools


def table(result: Any) -> tuple[list[str], list[str], list[list[Cell]]]:
    """A QueryResult as header, kinds and rows."""
    header = [c.name for c in result.columns]
    # a number dimension's keys (a CSAT rating) are numbers in a workbook too
    kinds = ["number" if c.kind == "measure" or c.unit == "number" else "text" for c in result.columns]
    dims = sum(1 for c in result.columns if c.kind != "measure")
    rows: list[list[Cell]] = [[*row.keys, *(number(v) for v in row.values)] for row in result.rows]
    totals = list(result.totals)
    if totals and dims:
        rows.append(["total", *[""] * (dims - 1), *(number(v) for v in totals)])
    elif totals:   # no dimension: the answer has no rows, its totals are the figures
        rows.append([number(v) for v in totals])
    return header, kinds, rows


def _run(a: Action, c: Call, path: dict[str, str]) -> Any:
    return call(a, request_of(a, c, path))


def request_of(a: Action, c: Call, path: dict[str, str]) -> Any:
    """The JSON route's request, filled as that route fills it (its query parameters, path, body)."""
    if a.check is not None:
        a.check(c.query)
    request: Any = a.request()
    if a.body is not None:
        to_message(c.body, request)
    for var, value in path.items():
        setattr(request, a.path.get(var, var), value)
    containers: set[str] = set()
    for param in a.query:
        if param.name in c.query:
            _setter(a.descriptor, _query_target(a, param), param, containers)(request, c.query[param.name])
    return request


def call(a: Action, request: Any) -> Any:
    """The route's RPC with the caller's token (a read: retried like one, no idempotency key)."""
    md = tuple((k, v) for k, v in metadata() if k != IDEMPOTENCY_KEY)
    return state().backends.client(a.backend).call(a.rpc, request, metadata=md, idempotent=True)


def _view(operation_id: str, name_of: str) -> Any:
    a = action(operation_id)

    def export(c: Call, **path: str) -> Response:
        from crm_gateway.routes_exports import file_response  # the one writer of downloads

        result = _run(a, c, path)
        header, kinds, rows = table(result)
        name = path.get("name") or name_of
        return file_response(name, c.query.get("format", "csv"), header, kinds, _rows(rows))

    export.__name__ = f"export_{operation_id}"
    return export


def _rows(rows: Sequence[list[Cell]]) -> Iterator[Sequence[Cell]]:
    yield from rows


def _route(method: str, rule: str, operation_id: str, summary: str, source: str, name: str) -> Route:
    a = action(source)
    return Route(method, rule, _view(source, name), operation_id, summary, "reports", body=a.body,
                 response={"type": "string"}, media_type="text/csv", other_media=(XLSX,),
                 query=(*a.query, FORMAT))


ROUTES = [
    _route("GET", f"{API}/reports/standard/<any({','.join(sh.STANDARD_NAMES)}):name>/export", "exportStandardReport",
           "A standard report as CSV or xlsx: the rows of its JSON answer, with the same filters",
           "getStandardReport", "report"),
    _route("POST", f"{API}/reports/query/export", "exportReportQuery",
           "A custom query's result as CSV or xlsx (the body of /reports/query)", "runReportQuery", "query"),
    _route("GET", f"{API}/reports/saved/<id>/export", "exportSavedQuery",
           "A saved query's result, run with the caller's visibility, as CSV or xlsx", "runSavedQuery", "saved-query"),
]
