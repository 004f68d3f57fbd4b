"""The sales endpoints against a fake SalesService on a real gRPC server: what reaches the
backend, how its refusals come back, and the quote PDF as a download."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crm.common.v1.types_pb2 import PageResponse
from crm.sales.v1 import sales_pb2 as pb
from crm.sales.v1 import sales_pb2_grpc
from crmkit.auth import TokenVerifier
from crmkit.errors import Conflict, FailedPrecondition, NotFound
from crmkit.grpc_server import GrpcServer, idempotency_key

PDF = b"%PDF-1.4\n% quote\n%%EOF\n"


class FakeSales(sales_pb2_grpc.SalesServiceServicer):
    """One opportunity at version 3 whose next stage wants a budget, and one quote."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str]] = []  # (method, request, idempotency key)

    def _got(self, method: str, request: Any) -> None:
        self.calls.append((method, request, idempotency_key.get()))

    def CreateLead(self, request: Any, context: Any) -> Any:
        self._got("CreateLead", request)
        lead = pb.Lead()
        lead.CopyFrom(request.lead)
        lead.id, lead.version, lead.status = "lead-1", 1, "new"
        return lead

    def ConvertLead(self, request: Any, context: Any) -> Any:
        self._got("ConvertLead", request)
        return pb.ConvertLeadResponse(lead=pb.Lead(id=request.id, status="converted"),
                                      opportunity=pb.Opportunity(id="opp-1"), account_id="acc-1")

    def ChangeStage(self, request: Any, context: Any) -> Any:
        self._got("ChangeStage", request)
        if request.expected_version and request.expected_version != 3:
            raise Conflict("version 2 is stale, the record is at version 3", field="If-Match")
        raise FailedPrecondition("方案演示 needs: a demo needs a stated budget", field="budget")

    def RenderQuotePdf(self, request: Any, context: Any) -> Any:
        self._got("RenderQuotePdf", request)
        return pb.QuotePdf(filename="Q-2026-000001-v2.pdf", content=PDF)

    def ListApprovals(self, request: Any, context: Any) -> Any:
        self._got("ListApprovals", request)
        more = "" if request.page.page_token else "czE"
        return pb.ListApprovalsResponse(approvals=[pb.ApprovalRequest(id="ap-1")], page=PageResponse(next_page_token=more))

    def ListPriceBooks(self, request: Any, context: Any) -> Any:
        self._got("ListPriceBooks", request)
        return pb.ListPriceBooksResponse(price_books=[pb.PriceBook(id="pb-1")])

    def SavePriceBook(self, request: Any, context: Any) -> Any:
        self._got("SavePriceBook", request)
        book = pb.PriceBook()
        book.CopyFrom(request.price_book)
        book.id = book.id or "pb-2"
        return book

    def GetQuote(self, request: Any, context: Any) -> Any:
        self._got("GetQuote", request)
        return pb.Quote(id=request.id, number="Q-2026-000001", version=2, row_version=5, status="draft")

    def GetContract(self, request: Any, context: Any) -> Any:
        self._got("GetContract", request)
        if request.id != "ct-1":  # sales answers NOT_FOUND for a contract the caller may not see
            raise NotFound(f"contract {request.id} not found", field="id")
        return pb.Contract(id="ct-1", number="C-2026-000001", status="signed", version=3)

    def ListContracts(self, request: Any, context: Any) -> Any:
        self._got("ListContracts", request)
        more = "" if request.page.page_token else "czE"
        return pb.ListContractsResponse(contracts=[pb.Contract(id="ct-1")], page=PageResponse(next_page_token=more))

    def ListDelegations(self, request: Any, context: Any) -> Any:
        self._got("ListDelegations", request)
        return pb.ListDelegationsResponse(delegations=[pb.Delegation(id="dg-1")],
                                          page=PageResponse(next_page_token=request.page.page_token and ""))


@pytest.fixture
def sales(settings: Any) -> Iterator[tuple[FakeSales, str]]:
    fake = FakeSales()
    server = GrpcServer(
        service="sales", port=0, host="127.0.0.1", verifier=TokenVerifier(settings.auth),
        registrations=[lambda s: sales_pb2_grpc.add_SalesServiceServicer_to_server(fake, s)],
        service_names=["crm.sales.v1.SalesService"], max_workers=4,
    ).start()
    yield fake, f"127.0.0.1:{server.port}"
    server.server.stop(0)


@pytest.fixture
def sales_client(make_client: Any, settings: Any, sales: tuple[FakeSales, str]) -> Any:
    return make_client(settings, optional_addrs={"sales": sales[1]})


def test_bad_lead_fields_are_named_and_never_reach_sales(sales_client, auth, sales):
    resp = sales_client.post("/api/v1/leads", headers=auth,
                             json={"name": 42, "score": 99, "nickname": "x"})
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    errors = {e["field"]: e["message"] for e in resp.get_json()["errors"]}
    assert errors["name"] == "expected a string, got integer"
    assert "read-only" in errors["score"] and errors["nickname"] == "unknown field"
    assert sales[0].calls == []


def test_a_lead_is_created_with_location_etag_and_the_callers_key(sales_client, auth, sales):
    resp = sales_client.post("/api/v1/leads", headers={**auth, "Idempotency-Key": "form-7"},
                             json={"name": "赵强", "company": "天津重工"})
    assert resp.status_code == 201
    assert resp.headers["Location"] == "/api/v1/leads/lead-1" and resp.headers["ETag"] == '"1"'
    assert resp.get_json()["company"] == "天津重工"
    assert sales[0].calls[-1][2] == "form-7"


def test_an_unmet_stage_criterion_is_a_400_naming_the_field(sales_client, auth, sales):
    resp = sales_client.post("/api/v1/opportunities/opp-1/stage", headers=auth, json={"stage": "solution_demo"})
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert problem["errors"][0]["field"] == "budget"
    assert "方案演示" in problem["detail"] and "budget" in problem["detail"]


def test_if_match_becomes_expected_version_and_a_stale_one_is_409(sales_client, auth, sales):
    resp = sales_client.post("/api/v1/opportunities/opp-1/stage", headers={**auth, "If-Match": '"2"'},
                             json={"stage": "solution_demo"})
    assert resp.status_code == 409
    assert sales[0].calls[-1][1].expected_version == 2 and sales[0].calls[-1][1].id == "opp-1"


def test_the_quote_pdf_downloads_with_its_filename(sales_client, auth, sales):
    resp = sales_client.get("/api/v1/quotes/q-1/pdf", headers=auth)
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="Q-2026-000001-v2.pdf"'
    assert resp.data == PDF


def test_a_quote_has_no_etag_from_its_revision_number(sales_client, auth, sales):
    # `version` is the revision (2 here); as an ETag it would answer 304 after a status change.
    resp = sales_client.get("/api/v1/quotes/q-1", headers={**auth, "If-None-Match": '"2"'})
    assert resp.status_code == 200 and "ETag" not in resp.headers
    assert resp.get_json()["number"] == "Q-2026-000001"


def test_convert_forwards_the_options_and_returns_what_was_created(sales_client, auth, sales):
    resp = sales_client.post("/api/v1/leads/lead-1/convert", headers={**auth, "Idempotency-Key": "cv-1"},
                             json={"amount": {"currency_code": "CNY", "amount": "480000"},
                                   "expected_close_date": "2026-06-30"})
    assert resp.status_code == 200
    assert resp.get_json()["opportunity"]["id"] == "opp-1" and resp.get_json()["account_id"] == "acc-1"
    method, request, key = sales[0].calls[-1]
    assert (method, request.id, request.amount.amount, key) == ("ConvertLead", "lead-1", "480000", "cv-1")


def test_sales_routes_are_503_when_the_gateway_has_no_sales_address(client, auth):
    resp = client.get("/api/v1/opportunities", headers=auth)
    assert resp.status_code == 503
    assert "SALES_SERVICE_ADDR" in resp.get_json()["detail"]



def test_approvals_and_price_books_page_by_cursor(sales_client, auth, sales):
    fake, _ = sales
    first = sales_client.get("/api/v1/approvals?pending_for_me=true&page_size=1", headers=auth).get_json()
    assert [a["id"] for a in first["items"]] == ["ap-1"] and first["next_page_token"] == "czE"
    rest = sales_client.get("/api/v1/approvals?pending_for_me=true&page_size=1&page_token=czE", headers=auth).get_json()
    assert rest["next_page_token"] == ""
    sent = [r for m, r, _ in fake.calls if m == "ListApprovals"]
    assert [(r.page.page_size, r.page.page_token, r.pending_for_me) for r in sent] == [(1, "", True), (1, "czE", True)]
    old = sales_client.get("/api/v1/price-books?currency_code=CNY", headers=auth).get_json()  # a caller before paging
    assert [b["id"] for b in old["items"]] == ["pb-1"] and old["next_page_token"] == ""
    key = "a1si6ZSA5ZSu5ryP5paXIiwgImFiYyJd"
    assert sales_client.get(f"/api/v1/price-books?page_token={key}", headers=auth).status_code == 200
    book_calls = [r for m, r, _ in fake.calls if m == "ListPriceBooks"]
    assert [(r.currency_code, r.page.page_token) for r in book_calls] == [("CNY", ""), ("", key)]
    bad = sales_client.get("/api/v1/approvals?pending_for_me=true&page_size=0", headers=auth)
    assert bad.status_code == 400 and "page_size" in bad.get_data(as_text=True)


def test_a_price_book_saved_without_active_says_so_to_sales_and_the_document_says_what_follows(
        sales_client, auth, sales):
    fake, _ = sales
    book = {"name": "标准价", "currency_code": "CNY", "entries": [{"product_id": "p-1", "unit_price": {
        "amount": "10", "currency_code": "CNY"}}]}
    for sent in (book, {**book, "id": "pb-2", "active": False}):
        assert sales_client.put("/api/v1/price-books", headers=auth, json=sent).status_code == 200
    saved = [r.price_book for m, r, _ in fake.calls if m == "SavePriceBook"]
    # absent is not false: sales makes a new book active, and keeps a saved one's state
    assert [(b.HasField("active"), b.active) for b in saved] == [(False, False), (True, False)]
    doc = sales_client.get("/api/v1/openapi.json").get_json()
    active = doc["components"]["schemas"]["PriceBook"]["properties"]["active"]
    assert "a new book is active" in active["description"] and "keeps" in active["description"]


def test_a_contract_has_its_own_page_and_a_hidden_one_is_404(sales_client, auth, sales):
    resp = sales_client.get("/api/v1/contracts/ct-1", headers=auth)
    assert resp.status_code == 200 and resp.get_json()["number"] == "C-2026-000001"
    missing = sales_client.get("/api/v1/contracts/ct-someone-elses", headers=auth)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert [r.id for m, r, _ in sales[0].calls if m == "GetContract"] == ["ct-1", "ct-someone-elses"]


def test_contracts_and_delegations_page_by_cursor(sales_client, auth, sales):
    fake, _ = sales
    first = sales_client.get("/api/v1/contracts?status=signed&page_size=1", headers=auth).get_json()
    assert [c["id"] for c in first["items"]] == ["ct-1"] and first["next_page_token"] == "czE"
    rest = sales_client.get("/api/v1/contracts?page_token=czE", headers=auth).get_json()
    assert rest["next_page_token"] == ""
    sent = [(r.status, r.page.page_size, r.page.page_token) for m, r, _ in fake.calls if m == "ListContracts"]
    assert sent == [("signed", 1, ""), ("", 0, "czE")]
    assert sales_client.get("/api/v1/contracts?page_token=!!", headers=auth).status_code == 400
    key = "a1siMjAyNi0wMy0wMlQwOTowMDowMCswMDowMCIsICJ4Il0"
    listed = sales_client.get(f"/api/v1/sales/delegations?active_only=true&page_size=5&page_token={key}",
                              headers=auth).get_json()
    assert [d["id"] for d in listed["items"]] == ["dg-1"] and listed["next_page_token"] == ""
    (request,) = [r for m, r, _ in fake.calls if m == "ListDelegations"]
    assert (request.active_only, request.page.page_size, request.page.page_token) == (True, 5, key)
