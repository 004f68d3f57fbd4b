"""Exports of every list and report, and export jobs, against fakes on real gRPC servers: the
columns per list, money and date cells, the BOM, filters as the list takes them, paging through
the list RPC with the caller's token, report files matching their JSON, and a job's progress,
download and visible failure."""
from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.struct_pb2 import ListValue

from crm.common.v1 import types_pb2 as common
from crm.reporting.v1 import reporting_pb2 as rpb
from crm.sales.v1 import sales_pb2 as pb
from crm.sales.v1 import sales_pb2_grpc
from crm_gateway.export_jobs import STALE, JobStore
from crm_gateway.export_lists import LEAD_IMPORT, LISTS
from crmkit.auth import Principal, TokenVerifier, current_principal, mint_token
from crmkit.errors import InvalidArgument
from crmkit.grpc_server import GrpcServer

from .conftest import SECRET

ROWS = 450  # more than two pages of 200


class PagedSales(sales_pb2_grpc.SalesServiceServicer):
    """ROWS opportunities, one page at a time, and one lead; it keeps the requests it got."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any, str]] = []

    def ListOpportunities(self, request: Any, context: Any) -> Any:
        self.requests.append(("ListOpportunities", request, current_principal().user_id))
        if request.filter.stage == "nosuchstage":  # as sales refuses a stage its pipeline lacks
            raise InvalidArgument("not a stage of the pipeline", field="filter.stage")
        start = int(request.page.page_token or 0)
        end = min(start + request.page.page_size, ROWS)
        answer = pb.ListOpportunitiesResponse()
        for i in range(start, end):
            opp = answer.opportunities.add(id=f"opp-{i}", name=f"华东项目 {i}", stage="qualify", owner_id="rep.north.1",
                                           amount=common.Money(amount=f"{i}.50", currency_code="CNY"),
                                           expected_close_date="2026-03-31", competitors=["甲", "乙"])
            opp.created_at.FromJsonString("2026-01-02T03:04:05Z")
        answer.page.next_page_token = str(end) if end < ROWS else ""
        return answer

    def ListLeads(self, request: Any, context: Any) -> Any:
        self.requests.append(("ListLeads", request, current_principal().user_id))
        return pb.ListLeadsResponse(leads=[pb.Lead(id="lead-1", name="=SUM(A1)", company="深圳公司", budget="1999.90",
                                                   currency_code="CNY", score=40)])


@pytest.fixture
def sales(settings: Any) -> Iterator[tuple[PagedSales, str]]:
    fake = PagedSales()
    server = GrpcServer(
        service="sales", port=0, host="127.0.0.1", verifier=TokenVerifier(settings.auth),
        registrations=[lambda s: sales_pb2_grpc.add_SalesServiceServicer_to_server(fake, s)],
        service_names=["crm.sales.v1.SalesService"], max_workers=4,
    ).start()
    yield fake, f"127.0.0.1:{server.port}"
    server.server.stop(0)


@pytest.fixture
def gw(make_client: Any, settings: Any, sales: tuple[PagedSales, str], tmp_path: Path) -> Any:
    return make_client(settings, optional_addrs={"sales": sales[1]}, export_dir=str(tmp_path))


def _rows(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Chinese text right
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_every_list_has_columns_and_money_is_amount_and_currency() -> None:
    assert set(LISTS) >= {"contacts", "accounts", "leads", "opportunities", "quotes", "tickets", "campaigns"}
    names = [c.name for c in LISTS["opportunities"].columns]
    assert names[names.index("amount") + 1] == "amount_currency" and "created_at" in names
    assert "stage_history" not in names  # a repeated message is no list column
    assert [c.name for c in LISTS["leads"].columns][:len(LEAD_IMPORT)] == list(LEAD_IMPORT)
    assert all(LISTS[name].columns for name in LISTS)


def test_an_opportunity_export_pages_through_the_list_with_its_filters(gw, auth, sales):
    resp = gw.get("/api/v1/opportunities/export", headers=auth, query_string={"stage": "qualify", "close_to": "2026-12-31"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/csv" and 'filename="opportunities.csv"' in resp.headers["Content-Disposition"]
    rows = _rows(resp.get_data())
    assert len(rows) == ROWS
    assert rows[1]["name"] == "华东项目 1" and rows[1]["amount"] == "1.50" and rows[1]["amount_currency"] == "CNY"
    assert rows[0]["created_at"] == "2026-01-02T03:04:05Z" and rows[0]["expected_close_date"] == "2026-03-31"
    assert rows[0]["competitors"] == "甲, 乙"
    calls = [r for m, r, _ in sales[0].requests if m == "ListOpportunities"]
    assert len(calls) == 3  # 200 + 200 + 50
    assert all(r.filter.stage == "qualify" and r.filter.close_to == "2026-12-31" for r in calls)
    assert {user for _, _, user in sales[0].requests} == {"rep.north.1"}  # the caller's token, not a service's


def test_an_unknown_or_bad_filter_is_refused_by_name_before_any_call(gw, auth, sales):
    resp = gw.get("/api/v1/opportunities/export", headers=auth, query_string={"colour": "red"})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "colour"
    resp = gw.get("/api/v1/opportunities/export", headers=auth, query_string={"close_to": "31/12/2026"})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "close_to"
    resp = gw.get("/api/v1/opportunities/export", headers=auth, query_string={"format": "pdf"})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "format"
    assert sales[0].requests == []


def test_an_xlsx_export_keeps_numbers_chinese_text_and_never_makes_a_formula(gw, auth, sales):
    from openpyxl import load_workbook

    resp = gw.get("/api/v1/leads/export", headers=auth, query_string={"format": "xlsx", "columns": "import"})
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(resp.get_data()), read_only=True).active
    header, row = list(sheet.iter_rows(values_only=True))
    assert list(header) == list(LEAD_IMPORT)  # the columns the lead import reads, and only those
    cells = dict(zip(header, row, strict=False))  # empty trailing cells are not stored
    assert cells["company"] == "深圳公司" and cells["name"] == "=SUM(A1)"  # text, not a formula
    assert float(cells["budget"]) == 1999.9 and cells["currency_code"] == "CNY"


def test_a_job_writes_the_file_with_progress_and_only_its_owner_downloads_it(gw, auth, sales, mint):
    resp = gw.post("/api/v1/exports", headers=auth, json={"list": "opportunities", "filters": {"stage": "qualify"}})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = resp.get_json()
    assert resp.headers["Location"] == f"/api/v1/exports/{job['id']}"
    for _ in range(200):
        job = gw.get(f"/api/v1/exports/{job['id']}", headers=auth).get_json()
        if job["status"] != "running":
            break
        time.sleep(0.05)
    assert job["status"] == "done" and job["rows_written"] == ROWS and job["expires_at"]
    other = {"Authorization": f"Bearer {mint('rep.north.2')}"}
    assert gw.get(f"/api/v1/exports/{job['id']}", headers=other).status_code == 404
    assert gw.get(job["download_url"], headers=other).status_code == 404
    file = gw.get(job["download_url"], headers=auth)
    assert file.status_code == 200 and len(_rows(file.get_data())) == ROWS


def test_a_job_refuses_an_unknown_filter_and_list(gw, auth, sales):
    resp = gw.post("/api/v1/exports", headers=auth, json={"list": "opportunities", "filters": {"colour": "red"}})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "filters.colour"
    resp = gw.post("/api/v1/exports", headers=auth, json={"list": "secrets"})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "list"


def test_a_job_names_a_bad_filter_value_by_its_place_in_the_body(gw, auth, sales):
    resp = gw.post("/api/v1/exports", headers=auth,
                   json={"list": "contacts", "filters": {"created_after": "yesterday"}})
    problem = resp.get_json()
    assert resp.status_code == 400 and [e["field"] for e in problem["errors"]] == ["filters.created_after"]
    assert problem["detail"].startswith("filters.created_after: ")
    resp = gw.post("/api/v1/exports", headers=auth, json={"list": "opportunities", "filters": {"close_to": "31/12"}})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "filters.close_to"
    # a value only the service can judge: its refusal names the body's field too, and no job is made
    resp = gw.post("/api/v1/exports", headers=auth, json={"list": "opportunities", "filters": {"stage": "nosuchstage"}})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "filters.stage"
    assert gw.get("/api/v1/exports", headers=auth).get_json()["items"] == []
    # the list's own export still names its query parameter
    resp = gw.get("/api/v1/opportunities/export", headers=auth, query_string={"stage": "nosuchstage"})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] in ("stage", "filter.stage")


def test_a_job_whose_gateway_stopped_is_failed_visibly_and_swept_after_retention(tmp_path):
    now = [1000.0]
    store = JobStore(tmp_path, retention=3600, clock=lambda: now[0])
    job = store.new(owner="rep.north.1", list_name="leads", filters={}, fmt="csv")
    now[0] += STALE + 1  # no heartbeat since: the replica running it is gone
    seen = store.get(job.id, "rep.north.1")
    assert seen is not None and seen.status == "failed" and "interrupted" in seen.error
    assert json.loads((tmp_path / f"{job.id}.json").read_text())["status"] == "failed"  # for every replica
    assert store.get(job.id, "rep.north.2") is None
    now[0] += 3601
    assert store.sweep() == 1 and not list(tmp_path.iterdir())


def test_a_standard_report_exports_the_rows_of_its_json(make_client, settings, auth, recorder):
    reporting = recorder(rpb)
    result = rpb.QueryResult(title="Lead sources", columns=[
        rpb.QueryColumn(name="source", kind="dimension"), rpb.QueryColumn(name="leads", kind="measure"),
        rpb.QueryColumn(name="conversion_rate", kind="measure")])
    for key, values in (("网站", [3, 0.25]), ("referral", [1, None])):
        row = result.rows.add(keys=[key])
        row.values.extend(values)
    totals = ListValue()
    totals.extend([4, 0.2])
    result.totals.CopyFrom(totals)
    reporting.answers["GetStandardReport"] = result
    gw = make_client(settings, reporting_addr=reporting.address)
    as_json = gw.get("/api/v1/reports/standard/lead_sources", headers=auth, query_string={"region": "north"}).get_json()
    resp = gw.get("/api/v1/reports/standard/lead_sources/export", headers=auth, query_string={"region": "north"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert rows[0] == [c["name"] for c in as_json["columns"]]
    assert rows[1:3] == [["网站", "3", "0.25"], ["referral", "1", ""]]
    assert rows[3] == ["total", "4", "0.2"]
    assert reporting.last("GetStandardReport").request.name == "lead_sources"
    assert reporting.last("GetStandardReport").request.region == "north"
    bad = gw.get("/api/v1/reports/standard/lead_sources/export", headers=auth, query_string={"teem": "x"})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "teem"


def test_a_custom_query_and_a_saved_query_export_their_results(make_client, settings, auth, recorder):
    reporting = recorder(rpb)
    result = rpb.QueryResult(columns=[rpb.QueryColumn(name="stage", kind="dimension"),
                                      rpb.QueryColumn(name="open", kind="measure")])
    result.rows.add(keys=["方案演示"]).values.extend([12.5])
    reporting.answers["RunQuery"] = reporting.answers["RunSavedQuery"] = result
    gw = make_client(settings, reporting_addr=reporting.address)
    body = {"query": {"source": "opportunities", "measures": ["open"], "dimensions": ["stage"]}}
    resp = gw.post("/api/v1/reports/query/export", headers=auth, json=body, query_string={"format": "csv"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig")))) == [["stage", "open"], ["方案演示", "12.5"]]
    assert list(reporting.last("RunQuery").request.query.dimensions) == ["stage"]
    refused = gw.post("/api/v1/reports/query/export", headers=auth, json={"query": {"source": "nowhere"}})
    assert refused.status_code == 400
    saved = gw.get("/api/v1/reports/saved/sq-7/export", headers=auth, query_string={"format": "xlsx"})
    assert saved.status_code == 200 and saved.mimetype.endswith("spreadsheetml.sheet")
    assert reporting.last("RunSavedQuery").request.id == "sq-7"


def test_a_query_without_dimensions_exports_its_figures(make_client, settings, auth, recorder):
    """No dimension: the JSON answer has no rows, only totals; the file holds them as its one row."""
    reporting = recorder(rpb)
    result = rpb.QueryResult(columns=[rpb.QueryColumn(name="count", kind="measure"),
                                      rpb.QueryColumn(name="won", kind="measure")])
    totals = ListValue()
    totals.extend([13, 6])
    result.totals.CopyFrom(totals)
    reporting.answers["RunQuery"] = result
    gw = make_client(settings, reporting_addr=reporting.address)
    body = {"query": {"source": "opportunities", "measures": ["count", "won"]}}
    resp = gw.post("/api/v1/reports/query/export", headers=auth, json=body, query_string={"format": "csv"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig")))) == [["count", "won"], ["13", "6"]]


def test_a_number_dimensions_keys_are_numbers_in_a_workbook(make_client, settings, auth, recorder):
    from openpyxl import load_workbook

    reporting = recorder(rpb)
    result = rpb.QueryResult(columns=[rpb.QueryColumn(name="rating", kind="dimension", unit="number"),
                                      rpb.QueryColumn(name="count", kind="measure")])
    result.rows.add(keys=["5"]).values.extend([3])
    reporting.answers["RunQuery"] = result
    gw = make_client(settings, reporting_addr=reporting.address)
    body = {"query": {"source": "csat", "measures": ["count"], "dimensions": ["rating"]}}
    resp = gw.post("/api/v1/reports/query/export", headers=auth, json=body, query_string={"format": "xlsx"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    rows = list(load_workbook(io.BytesIO(resp.get_data()), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows == [("rating", "count"), (5, 3)]  # a rating Excel can sort and average, not the text "5"


def test_my_export_jobs_list_newest_first_in_pages_and_only_mine(gw, auth, sales, mint, tmp_path):
    store = JobStore(tmp_path, retention=3600)  # the directory the gateway's jobs live in
    now = time.time()

    def job(owner: str, age: float, status: str) -> Any:
        made = store.new(owner=owner, list_name="opportunities", filters={"stage": "qualify"}, fmt="csv")
        made.created_at, made.updated_at, made.status, made.rows_written = now - age, now, status, 7
        if status != "running":
            made.finished_at, made.expires_at = now, now + 3600
        store.save(made)
        return made

    oldest, middle, newest = job("rep.north.1", 30, "done"), job("rep.north.1", 20, "failed"), \
        job("rep.north.1", 10, "running")
    job("rep.north.2", 5, "done")
    first = gw.get("/api/v1/exports?page_size=2", headers=auth)
    assert first.status_code == 200, first.get_data(as_text=True)
    page = first.get_json()
    assert [j["id"] for j in page["items"]] == [newest.id, middle.id] and page["next_page_token"]
    assert page["items"][0]["status"] == "running" and "download_url" not in page["items"][0]
    assert page["items"][0]["list"] == "opportunities" and page["items"][0]["filters"] == {"stage": "qualify"}
    rest = gw.get("/api/v1/exports", headers=auth, query_string={"page_size": 2,
                                                                  "page_token": page["next_page_token"]}).get_json()
    assert [j["id"] for j in rest["items"]] == [oldest.id] and rest["next_page_token"] == ""
    assert rest["items"][0]["download_url"] == f"/api/v1/exports/{oldest.id}/download"
    assert rest["items"][0]["rows_written"] == 7 and rest["items"][0]["created_at"]
    everything = gw.get("/api/v1/exports", headers=auth).get_json()  # no page size: 50 a page
    assert [j["id"] for j in everything["items"]] == [newest.id, middle.id, oldest.id]
    theirs = gw.get("/api/v1/exports", headers={"Authorization": f"Bearer {mint('rep.north.2')}"}).get_json()
    assert len(theirs["items"]) == 1 and theirs["items"][0]["id"] not in {oldest.id, middle.id, newest.id}
    admin = {"Authorization": f"Bearer {mint_token(Principal('admin', ('admin',), 'hq', ''), SECRET)}"}
    assert gw.get("/api/v1/exports", headers=admin).get_json()["items"] == []  # an admin: their own jobs only
    bad = gw.get("/api/v1/exports?page_token=bm90LW1pbmU", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "page_token"


def test_a_listed_job_whose_gateway_stopped_shows_failed(tmp_path):
    now = [1000.0]
    store = JobStore(tmp_path, retention=3600, clock=lambda: now[0])
    first = store.new(owner="rep.north.1", list_name="leads", filters={}, fmt="csv")
    now[0] += 1
    second = store.new(owner="rep.north.1", list_name="leads", filters={}, fmt="xlsx")
    now[0] += STALE + 1
    listed, more = store.owned("rep.north.1", size=1)
    assert [j.id for j in listed] == [second.id] and more
    assert listed[0].status == "failed" and "interrupted" in listed[0].error
    rest, more = store.owned("rep.north.1", size=1, after=(listed[0].created_at, listed[0].id))
    assert [j.id for j in rest] == [first.id] and not more
    assert store.owned("admin", size=50) == ([], False)  # an administrator is shown their own jobs only
