"""The campaign ROI table and the email open rates as files, against a fake reporting service on a
real gRPC server: every page of the ROI table with the caller's filters and order, one row per
campaign with its email figures and money, an absent ROI or rate an empty cell (not 0), the open
rate's points and total as the JSON answer holds them, in CSV and xlsx."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import load_workbook

from crm.reporting.v1 import reporting_pb2 as rpb
from crm.reporting.v1 import reporting_pb2_grpc
from crmkit.auth import TokenVerifier, current_principal
from crmkit.grpc_server import GrpcServer

CAMPAIGNS = 450  # more than two pages of 200


def _campaign(i: int) -> rpb.CampaignRoi:
    row = rpb.CampaignRoi(campaign_id=f"c-{i}", name=f"春季发布会 {i}", channel="webinar", status="active",
                          owner_id="marketing.hq", start_date="2026-04-16", leads=i, conversions=i // 2)
    row.email.CopyFrom(rpb.EmailStats(waves=1, delivered=4, opened=2, open_rate=0.5))  # click_rate absent
    row.money.CopyFrom(rpb.CampaignMoney(currency_code="CNY", budget="30000.00", actual_cost="0.00",
                                         first_touch_revenue=f"{i}.50"))              # no cost: no ROI
    if i == 0:
        row.money.first_touch_roi = 2.5
        row.conversion_rate = 0.0
    return row


class PagedReporting(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self) -> None:
        self.requests: list[tuple[Any, str]] = []

    def ListCampaignRoi(self, request: Any, context: Any) -> Any:
        self.requests.append((request, current_principal().user_id))
        start = int(request.page.page_token or 0)
        end = min(start + request.page.page_size, CAMPAIGNS)
        answer = rpb.CampaignRoiTable(campaigns=[_campaign(i) for i in range(start, end)])
        answer.page.next_page_token = str(end) if end < CAMPAIGNS else ""
        return answer

    def GetEmailOpenRate(self, request: Any, context: Any) -> Any:
        self.requests.append((request, current_principal().user_id))
        point = rpb.OpenRatePoint(period="2026-12-01", campaign_id="c-1", campaign_name="春季发布会", delivered=4,
                                  opened=2, open_rate=0.5, click_rate=0.0)
        empty = rpb.OpenRatePoint(period="2026-12-02", campaign_id="c-1", campaign_name="春季发布会")
        total = rpb.OpenRatePoint(delivered=4, opened=2, open_rate=0.5, click_rate=0.0)
        return rpb.EmailOpenRateReport(interval="day", points=[point, empty], total=total)


@pytest.fixture
def reporting(settings: Any) -> Iterator[tuple[PagedReporting, str]]:
    fake = PagedReporting()
    server = GrpcServer(
        service="reporting", port=0, host="127.0.0.1", verifier=TokenVerifier(settings.auth),
        registrations=[lambda s: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(fake, s)],
        service_names=["crm.reporting.v1.ReportingService"], max_workers=4,
    ).start()
    yield fake, f"127.0.0.1:{server.port}"
    server.server.stop(0)


@pytest.fixture
def gw(make_client: Any, settings: Any, reporting: tuple[PagedReporting, str]) -> Any:
    return make_client(settings, reporting_addr=reporting[1])


def _csv(resp: Any) -> list[dict[str, str]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig"))))


def test_the_roi_table_exports_every_campaign_with_the_tables_filters(gw: Any, auth: Any,
                                                                     reporting: tuple[PagedReporting, str]) -> None:
    fake, _ = reporting
    params = {"channel": "webinar", "order_by": "-leads"}
    rows = _csv(gw.get("/api/v1/reports/campaigns/export", headers=auth, query_string=params))
    assert [r["campaign_id"] for r in rows] == [f"c-{i}" for i in range(CAMPAIGNS)]
    first, other = rows[0], rows[7]
    assert (first["name"], first["email_delivered"], first["email_open_rate"], first["email_click_rate"]) == (
        "春季发布会 0", "4", "0.5", "")
    assert (first["first_touch_roi"], other["first_touch_roi"], other["last_touch_roi"]) == ("2.5", "", "")
    assert (first["conversion_rate"], other["conversion_rate"], other["first_touch_revenue"]) == ("0", "", "7.50")
    assert [(r.channel, r.order_by, r.page.page_size) for r, _ in fake.requests] == [("webinar", "-leads", 200)] * 3
    assert {who for _, who in fake.requests} == {"rep.north.1"}  # the caller's token, so their visibility
    for bad in ({"page_size": "10"}, {"order_by": "colour"}):  # a file is every page; a bad order is named
        refused = gw.get("/api/v1/reports/campaigns/export", headers=auth, query_string=bad)
        assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == next(iter(bad))


def test_the_roi_table_as_a_workbook_keeps_numbers(gw: Any, auth: Any) -> None:
    resp = gw.get("/api/v1/reports/campaigns/export", headers=auth, query_string={"format": "xlsx"})
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.get_data()), read_only=True).worksheets[0]
    header, first = list(sheet.iter_rows(min_row=1, max_row=2, values_only=True))
    cells = dict(zip(header, first, strict=True))
    assert (cells["name"], cells["leads"], cells["email_open_rate"], cells["first_touch_roi"]) == (
        "春季发布会 0", 0, 0.5, 2.5)
    assert (cells["email_click_rate"], cells["budget"], cells["currency_code"]) == (None, 30000, "CNY")


def test_the_open_rate_exports_its_points_and_total(gw: Any, auth: Any, reporting: tuple[PagedReporting, str]) -> None:
    fake, _ = reporting
    params = {"interval": "day", "by_campaign": "true", "from_day": "2026-12-01"}
    rows = _csv(gw.get("/api/v1/reports/email-open-rate/export", headers=auth, query_string=params))
    assert [(r["period"], r["delivered"], r["open_rate"], r["click_rate"]) for r in rows] == [
        ("2026-12-01", "4", "0.5", "0"), ("2026-12-02", "0", "", ""), ("total", "4", "0.5", "0")]
    request = fake.requests[-1][0]
    assert (request.interval, request.by_campaign, request.from_day) == ("day", True, "2026-12-01")
