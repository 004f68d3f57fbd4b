"""The two marketing reports as files, beside their JSON routes (which do not change):

    GET /api/v1/reports/campaigns/export?format=          the ROI table's filters and order, every page
    GET /api/v1/reports/email-open-rate/export?format=    the open rate's filters

Like the other report exports (export_reports.py) each runs its JSON route's RPC with the caller's
token, so the file holds what the JSON answer holds: the ROI table one row per campaign (its email
figures and money flattened to columns, every page of the table read through), the open rate one
row per point and a last "total" row. A figure the JSON leaves out (an ROI when nothing was spent,
a rate of nothing delivered) is an empty cell, never 0."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from flask import Response

from crm_gateway.export_reports import FORMAT, action, call, number, request_of
from crm_gateway.export_tables import XLSX, Cell
from crm_gateway.routing import API, Call, Route

ROI_PAGE = 200  # the ROI table's largest page
_EMAIL = ("waves", "waves_sending", "recipients", "sent", "delivered", "failed", "opened", "clicked",
          "unsubscribed", "open_rate", "click_rate")
_MONEY = ("currency_code", "budget", "actual_cost", "first_touch_deals", "first_touch_revenue", "first_touch_roi",
          "last_touch_deals", "last_touch_revenue", "last_touch_roi")
_TEXT = ("campaign_id", "name", "channel", "status", "owner_id", "team", "region", "start_date", "end_date",
         "period", "campaign_name", "currency_code")
_OPTIONAL = ("open_rate", "click_rate", "conversion_rate", "first_touch_roi", "last_touch_roi")


def _cell(holder: Any, name: str) -> Cell:
    if name in _OPTIONAL and not holder.HasField(name):
        return None
    value = getattr(holder, name)
    if name in _TEXT:
        return str(value)
    if isinstance(value, int | float):
        return number(value)
    return value or None   # money: its decimal text (a number in a workbook)


Reader = Callable[[Any], Cell]


def _reader(name: str, part: str = "") -> tuple[str, Reader]:
    """A column: its name (prefixed by the sub-message it is read from) and how to read its cell."""
    return (f"{part}_{name}" if part == "email" else name,
            lambda record: _cell(getattr(record, part) if part else record, name))


ROI_COLUMNS: tuple[tuple[str, Reader], ...] = (
    *(_reader(n) for n in _TEXT[:9]),
    *(_reader(n, "email") for n in _EMAIL),
    *(_reader(n) for n in ("leads", "conversions", "conversion_rate")),
    *(_reader(n, "money") for n in _MONEY),
    _reader("other_currency_deals"),
)
POINT_COLUMNS: tuple[tuple[str, Reader], ...] = tuple(_reader(n) for n in (
    "period", "campaign_id", "campaign_name", "delivered", "opened", "clicked", "unsubscribed", "open_rate",
    "click_rate"))


def _kinds(columns: Sequence[tuple[str, Reader]]) -> list[str]:
    return ["text" if name.removeprefix("email_") in _TEXT else "number" for name, _ in columns]


def export_campaign_roi(c: Call) -> Response:
    from crm_gateway.routes_exports import file_response  # the one writer of downloads

    a = action("listCampaignRoi")
    request = request_of(a, c, {})
    request.page.page_size = ROI_PAGE
    first = call(a, request)   # before answering: a refusal is a problem answer, not a cut stream

    def rows() -> Iterator[list[Cell]]:
        page = first
        while True:
            yield from ([read(r) for _, read in ROI_COLUMNS] for r in page.campaigns)
            if not page.page.next_page_token:
                return
            request.page.page_token = page.page.next_page_token
            page = call(a, request)

    return file_response("campaign-roi", c.query.get("format", "csv"), [n for n, _ in ROI_COLUMNS],
                         _kinds(ROI_COLUMNS), rows())


def export_email_open_rate(c: Call) -> Response:
    from crm_gateway.routes_exports import file_response

    a = action("getEmailOpenRate")
    report = call(a, request_of(a, c, {}))
    rows = [[read(p) for _, read in POINT_COLUMNS] for p in report.points]
    rows.append(["total", "", "", *(read(report.total) for _, read in POINT_COLUMNS[3:])])
    return file_response("email-open-rate", c.query.get("format", "csv"), [n for n, _ in POINT_COLUMNS],
                         _kinds(POINT_COLUMNS), iter(rows))


def _route(rule: str, view: Callable[[Call], Response], operation_id: str, summary: str, source: str) -> Route:
    a = action(source)
    query = tuple(p for p in a.query if p.name not in ("page_size", "page_token"))
    return Route("GET", rule, view, operation_id, summary, "reports", response={"type": "string"},
                 media_type="text/csv", other_media=(XLSX,), query=(*query, FORMAT))


ROUTES = [
    _route(f"{API}/reports/campaigns/export", export_campaign_roi, "exportCampaignRoi",
           "The campaign ROI table as CSV or xlsx: one row per campaign, every page, with the table's filters "
           "and order", "listCampaignRoi"),
    _route(f"{API}/reports/email-open-rate/export", export_email_open_rate, "exportEmailOpenRate",
           "Email open rates as CSV or xlsx: one row per point of the JSON answer and a last total row",
           "getEmailOpenRate"),
]
