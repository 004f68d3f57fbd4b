"""Sales routes: leads, reps and settings, opportunities, products and price books, quotes (with
their PDF), approvals, contracts, tasks and reminders, forecast and funnel, transfers and
delegations → crm.sales.v1.SalesService.

Actions are sub-resources (POST /quotes/{id}/submit). If-Match becomes expected_version where
the RPC has one. Quotes carry no ETag: their `version` is the revision number shared by a quote's
history, not a concurrency token, and none of their actions takes an expected version."""
from __future__ import annotations

from typing import Any

from flask import Response, g
from google.protobuf.field_mask_pb2 import FieldMask

from crm.sales.v1 import sales_pb2 as pb
from crm_gateway import shapes_sales as sh
from crm_gateway.problems import invalid_field
from crm_gateway.routing import (
    API,
    Call,
    QueryParam,
    Route,
    expected_version,
    json_response,
    metadata,
    page_response,
    resource_response,
    state,
)
from crm_gateway.schema import to_message
from crm_gateway.serialize import to_json
from crm_gateway.shapes import page_request

LEADS, OPPS, QUOTES = f"{API}/leads", f"{API}/opportunities", f"{API}/quotes"
LEAD_ITEM, OPP_ITEM, QUOTE_ITEM = f"{LEADS}/<id>", f"{OPPS}/<id>", f"{QUOTES}/<id>"
TAG = "sales"


def _call(method: str, request: Any, *, idempotent: bool | None = None) -> Any:
    return state().backends.client("sales").call(method, request, metadata=metadata(), idempotent=idempotent)


def _changes(body: dict[str, Any], message: Any, id: str) -> tuple[Any, FieldMask]:
    """A PATCH body → (message with the id, mask of the keys given)."""
    if not body:
        raise invalid_field("body", "give at least one field to change")
    changes = to_message(body, message)
    changes.id = id
    return changes, FieldMask(paths=sorted(body))


def _quote(quote: pb.Quote, status: int = 200) -> Response:
    headers = {"Location": f"{QUOTES}/{quote.id}"} if status == 201 else None
    return json_response(to_json(quote), status, headers)


# -- leads

def create_lead(c: Call) -> Response:
    lead = _call("CreateLead", pb.CreateLeadRequest(lead=to_message(c.body, pb.Lead())))
    return resource_response(lead, status=201, location=f"{LEADS}/{lead.id}")


def capture_lead(c: Call) -> Response:
    request = pb.CaptureLeadRequest(lead=to_message(c.body["lead"], pb.Lead()), form_id=c.body.get("form_id", ""))
    lead = _call("CaptureLead", request)
    return resource_response(lead, status=201, location=f"{LEADS}/{lead.id}")


def import_leads(c: Call) -> Response:
    return json_response(to_json(_call("ImportLeads", to_message(c.body, pb.ImportLeadsRequest()))))


def list_leads(c: Call) -> Response:
    answer = _call("ListLeads", pb.ListLeadsRequest(filter=sh.lead_filter(c.query), page=page_request(c.query)))
    return page_response(answer.leads, answer.page.next_page_token)


def get_lead(c: Call, id: str) -> Response:
    return resource_response(_call("GetLead", pb.GetLeadRequest(id=id)))


def update_lead(c: Call, id: str) -> Response:
    lead, mask = _changes(c.body, pb.Lead(), id)
    request = pb.UpdateLeadRequest(lead=lead, update_mask=mask, expected_version=expected_version())
    return resource_response(_call("UpdateLead", request))


def change_lead_status(c: Call, id: str) -> Response:
    request = to_message(c.body, pb.ChangeLeadStatusRequest(id=id, expected_version=expected_version()))
    return resource_response(_call("ChangeLeadStatus", request))


def record_activity(c: Call, id: str) -> Response:
    return resource_response(_call("RecordLeadActivity", to_message(c.body, pb.RecordLeadActivityRequest(id=id))))


def assign_lead(c: Call, id: str) -> Response:
    return resource_response(_call("AssignLead", to_message(c.body, pb.AssignLeadRequest(id=id))))


def convert_lead(c: Call, id: str) -> Response:
    return json_response(to_json(_call("ConvertLead", to_message(c.body, pb.ConvertLeadRequest(id=id)))))


# -- reps and settings

def list_reps(c: Call) -> Response:
    return page_response(_call("ListReps", pb.ListRepsRequest(team=c.query.get("team", ""))).reps)


def upsert_rep(c: Call) -> Response:
    return resource_response(_call("UpsertRep", pb.UpsertRepRequest(rep=to_message(c.body, pb.SalesRep()))))


def get_settings(c: Call) -> Response:
    return resource_response(_call("GetSalesSettings", pb.GetSalesSettingsRequest()))


def update_settings(c: Call) -> Response:
    if not c.body:
        raise invalid_field("body", "give at least one section to replace")
    request = pb.UpdateSalesSettingsRequest(
        settings=to_message(c.body, pb.SalesSettings()), update_mask=FieldMask(paths=sorted(c.body)),
        expected_version=expected_version())
    return resource_response(_call("UpdateSalesSettings", request))


# -- opportunities

def create_opportunity(c: Call) -> Response:
    request = pb.CreateOpportunityRequest(opportunity=to_message(c.body, pb.Opportunity()))
    opp = _call("CreateOpportunity", request)
    return resource_response(opp, status=201, location=f"{OPPS}/{opp.id}")


def list_opportunities(c: Call) -> Response:
    request = pb.ListOpportunitiesRequest(filter=sh.opportunity_filter(c.query), page=page_request(c.query))
    answer = _call("ListOpportunities", request)
    return page_response(answer.opportunities, answer.page.next_page_token)


def get_opportunity(c: Call, id: str) -> Response:
    return resource_response(_call("GetOpportunity", pb.GetOpportunityRequest(id=id)))


def update_opportunity(c: Call, id: str) -> Response:
    opp, mask = _changes(c.body, pb.Opportunity(), id)
    request = pb.UpdateOpportunityRequest(opportunity=opp, update_mask=mask, expected_version=expected_version())
    return resource_response(_call("UpdateOpportunity", request))


def change_stage(c: Call, id: str) -> Response:
    request = to_message(c.body, pb.ChangeStageRequest(id=id, expected_version=expected_version()))
    return resource_response(_call("ChangeStage", request))


# -- products and price books

def create_product(c: Call) -> Response:
    product = _call("CreateProduct", pb.CreateProductRequest(product=to_message(c.body, pb.Product())))
    return resource_response(product, status=201)


def list_products(c: Call) -> Response:
    request = pb.ListProductsRequest(include_inactive=c.query.get("include_inactive", False))
    return page_response(_call("ListProducts", request).products)


def save_price_book(c: Call) -> Response:
    request = pb.SavePriceBookRequest(price_book=to_message(c.body, pb.PriceBook()))
    return resource_response(_call("SavePriceBook", request))


def list_price_books(c: Call) -> Response:
    request = pb.ListPriceBooksRequest(currency_code=c.query.get("currency_code", ""), tier=c.query.get("tier", ""))
    return page_response(_call("ListPriceBooks", request).price_books)


# -- quotes

def create_quote(c: Call) -> Response:
    return _quote(_call("CreateQuote", pb.CreateQuoteRequest(quote=to_message(c.body, pb.Quote()))), 201)


def list_quotes(c: Call) -> Response:
    request = pb.ListQuotesRequest(opportunity_id=c.query.get("opportunity_id", ""),
                                   status=c.query.get("status", ""), page=page_request(c.query))
    answer = _call("ListQuotes", request)
    return page_response(answer.quotes, answer.page.next_page_token)


def get_quote(c: Call, id: str) -> Response:
    return _quote(_call("GetQuote", pb.GetQuoteRequest(id=id)))


def revise_quote(c: Call, id: str) -> Response:
    changes, mask = _changes(c.body, pb.Quote(), id)
    changes.ClearField("id")  # the quote being revised is named by the request, not the changes
    return _quote(_call("ReviseQuote", pb.ReviseQuoteRequest(id=id, changes=changes, update_mask=mask)), 201)


def submit_quote(c: Call, id: str) -> Response:
    return _quote(_call("SubmitQuote", pb.SubmitQuoteRequest(id=id)))


def send_quote(c: Call, id: str) -> Response:
    return _quote(_call("SendQuote", to_message(c.body, pb.SendQuoteRequest(id=id))))


def answer_quote(c: Call, id: str) -> Response:
    return _quote(_call("AcceptQuote", to_message(c.body, pb.AcceptQuoteRequest(id=id))))


def quote_pdf(c: Call, id: str) -> Response:
    rendered = _call("RenderQuotePdf", pb.RenderQuotePdfRequest(id=id), idempotent=True)
    # The filename is the quote number (ASCII); quoted for Content-Disposition all the same.
    filename = rendered.filename.replace('"', "")
    return Response(rendered.content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- approvals and contracts

def list_approvals(c: Call) -> Response:
    request = pb.ListApprovalsRequest(quote_id=c.query.get("quote_id", ""),
                                      pending_for_me=c.query.get("pending_for_me", False))
    return page_response(_call("ListApprovals", request).approvals)


def decide_approval(c: Call, id: str) -> Response:
    decided = _call("DecideApproval", to_message(c.body, pb.DecideApprovalRequest(id=id)))
    return json_response(to_json(decided))


def create_contract(c: Call) -> Response:
    contract = _call("CreateContract", to_message(c.body, pb.CreateContractRequest()))
    return resource_response(contract, status=201)


def list_contracts(c: Call) -> Response:
    request = pb.ListContractsRequest(opportunity_id=c.query.get("opportunity_id", ""),
                                      status=c.query.get("status", ""))
    return page_response(_call("ListContracts", request).contracts)


def change_contract_status(c: Call, id: str) -> Response:
    request = to_message(c.body, pb.UpdateContractStatusRequest(id=id, expected_version=expected_version()))
    return resource_response(_call("UpdateContractStatus", request))


# -- tasks and reminders

def create_task(c: Call) -> Response:
    return resource_response(_call("CreateTask", pb.CreateTaskRequest(task=to_message(c.body, pb.Task()))),
                             status=201)


def list_tasks(c: Call) -> Response:
    answer = _call("ListTasks", sh.tasks_request(c.query))
    return page_response(answer.tasks, answer.page.next_page_token)


def complete_task(c: Call, id: str) -> Response:
    request = pb.CompleteTaskRequest(id=id, cancel=c.query.get("cancel", False))
    return resource_response(_call("CompleteTask", request))


def list_reminders(c: Call) -> Response:
    request = pb.ListRemindersRequest(user_id=c.query.get("user_id", ""))
    return page_response(_call("ListReminders", request).reminders)


# -- forecast, funnel, ownership

def forecast(c: Call) -> Response:
    start, end = c.query.get("period_start", ""), c.query.get("period_end", "")
    if start and end and start > end:
        raise invalid_field("period_end", "must not be before period_start")
    request = pb.ForecastRequest(**{p.name: c.query.get(p.name, "") for p in sh.FORECAST_PARAMS})
    return json_response(to_json(_call("GetForecast", request)))


def funnel(c: Call) -> Response:
    request = pb.FunnelRequest(**{p.name: c.query.get(p.name, "") for p in sh.FUNNEL_PARAMS})
    return json_response(to_json(_call("GetFunnel", request)))


def transfer(c: Call) -> Response:
    moved = _call("TransferOwnership", to_message(c.body, pb.TransferOwnershipRequest()))
    return json_response(to_json(moved), 201)


def delegate(c: Call) -> Response:
    delegation = to_message(c.body, pb.Delegation())
    delegation.from_user_id = delegation.from_user_id or g.principal.user_id
    created = _call("DelegateWork", pb.DelegateWorkRequest(delegation=delegation))
    return resource_response(created, status=201)


def list_delegations(c: Call) -> Response:
    request = pb.ListDelegationsRequest(user_id=c.query.get("user_id", ""),
                                        active_only=c.query.get("active_only", False))
    return page_response(_call("ListDelegations", request).delegations)


def _r(method: str, rule: str, view: Any, op: str, summary: str, **kw: Any) -> Route:
    return Route(method, rule, view, op, summary, TAG, **kw)


ROUTES: list[Route] = [
    # leads
    _r("POST", LEADS, create_lead, "createLead", "Create a lead (assigned by the rules, else to the caller)",
       body=sh.LEAD_INPUT, response=sh.LEAD, status=201, etag=True, location=True),
    _r("GET", LEADS, list_leads, "listLeads", "List leads visible to the caller",
       response=sh.LEAD_PAGE, query=sh.LEAD_LIST_PARAMS),
    _r("POST", f"{LEADS}/capture", capture_lead, "captureLead",
       "A lead from a web form or campaign page (marketing or service token)",
       body=sh.LEAD_CAPTURE, response=sh.LEAD, status=201, etag=True, location=True),
    _r("POST", f"{LEADS}/import", import_leads, "importLeads",
       "Import leads from CSV; bad rows are reported by row and field, good rows kept",
       body=sh.LEAD_IMPORT, response=sh.LEAD_IMPORT_RESULT),
    _r("GET", LEAD_ITEM, get_lead, "getLead", "Get a lead, with its score breakdown",
       response=sh.LEAD, etag=True),
    _r("PATCH", LEAD_ITEM, update_lead, "updateLead",
       "Change some fields of a lead; the keys given form the update mask",
       body=sh.LEAD_UPDATE, response=sh.LEAD, etag=True, if_match=True),
    _r("POST", f"{LEAD_ITEM}/status", change_lead_status, "changeLeadStatus",
       "Move a lead to working, qualified, disqualified or nurturing (a reason for the last two)",
       body=sh.LEAD_STATUS_INPUT, response=sh.LEAD, etag=True, if_match=True),
    _r("POST", f"{LEAD_ITEM}/activities", record_activity, "recordLeadActivity",
       "Count an activity (inbound email, call, ...); the score is recomputed",
       body=sh.LEAD_ACTIVITY_INPUT, response=sh.LEAD, etag=True),
    _r("POST", f"{LEAD_ITEM}/assign", assign_lead, "assignLead",
       "Give the lead to owner_id, or send {} to run the assignment rules again",
       body=sh.LEAD_ASSIGN_INPUT, response=sh.LEAD, etag=True),
    _r("POST", f"{LEAD_ITEM}/convert", convert_lead, "convertLead",
       "Convert a qualified lead into an opportunity (and an account and contact); a retry creates nothing twice",
       body=sh.LEAD_CONVERT_INPUT, response=sh.LEAD_CONVERSION),
    # reps and settings
    _r("GET", f"{API}/sales/reps", list_reps, "listSalesReps", "Sales reps, with their open leads",
       response=sh.REP_LIST, query=(QueryParam("team"),)),
    _r("PUT", f"{API}/sales/reps", upsert_rep, "upsertSalesRep", "Create or replace a sales rep (by user_id)",
       body=sh.REP_INPUT, response=sh.REP),
    _r("GET", f"{API}/sales/settings", get_settings, "getSalesSettings",
       "Scoring, assignment, pipelines, approval policies and follow-up rules",
       response=sh.SETTINGS, etag=True),
    _r("PATCH", f"{API}/sales/settings", update_settings, "updateSalesSettings",
       "Replace the sections given (e.g. assignment_rules)", body=sh.SETTINGS_INPUT, response=sh.SETTINGS,
       etag=True, if_match=True),
    # opportunities
    _r("POST", OPPS, create_opportunity, "createOpportunity", "Create an opportunity",
       body=sh.OPPORTUNITY_INPUT, response=sh.OPPORTUNITY, status=201, etag=True, location=True),
    _r("GET", OPPS, list_opportunities, "listOpportunities", "List opportunities visible to the caller",
       response=sh.OPPORTUNITY_PAGE, query=sh.OPPORTUNITY_LIST_PARAMS),
    _r("GET", OPP_ITEM, get_opportunity, "getOpportunity", "Get an opportunity with its stage history",
       response=sh.OPPORTUNITY, etag=True),
    _r("PATCH", OPP_ITEM, update_opportunity, "updateOpportunity",
       "Change some fields of an opportunity (stages change through /stage)",
       body=sh.OPPORTUNITY_UPDATE, response=sh.OPPORTUNITY, etag=True, if_match=True),
    _r("POST", f"{OPP_ITEM}/stage", change_stage, "changeOpportunityStage",
       "Move to a stage; refused (400 naming what is missing) when its criteria are not met",
       body=sh.STAGE_INPUT, response=sh.OPPORTUNITY, etag=True, if_match=True),
    # products and price books
    _r("POST", f"{API}/products", create_product, "createProduct", "Add a product to the catalogue",
       body=sh.PRODUCT_INPUT, response=sh.PRODUCT, status=201),
    _r("GET", f"{API}/products", list_products, "listProducts", "The product catalogue",
       response=sh.PRODUCT_LIST, query=(QueryParam("include_inactive", "boolean"),)),
    _r("PUT", f"{API}/price-books", save_price_book, "savePriceBook",
       "Create a price book, or replace the one with this id", body=sh.PRICE_BOOK, response=sh.PRICE_BOOK),
    _r("GET", f"{API}/price-books", list_price_books, "listPriceBooks", "Price books by currency and tier",
       response=sh.PRICE_BOOK_LIST, query=(QueryParam("currency_code"), QueryParam("tier"))),
    # quotes
    _r("POST", QUOTES, create_quote, "createQuote",
       "Create a draft quote; totals are computed exactly, to the cent", body=sh.QUOTE_INPUT, response=sh.QUOTE,
       status=201, location=True),
    _r("GET", QUOTES, list_quotes, "listQuotes", "List quotes", response=sh.QUOTE_PAGE, query=sh.QUOTE_LIST_PARAMS),
    _r("GET", QUOTE_ITEM, get_quote, "getQuote", "Get a quote", response=sh.QUOTE),
    _r("POST", f"{QUOTE_ITEM}/revise", revise_quote, "reviseQuote",
       "A new version of the quote (same number); this one is superseded", body=sh.QUOTE_REVISION,
       response=sh.QUOTE, status=201, location=True),
    _r("POST", f"{QUOTE_ITEM}/submit", submit_quote, "submitQuote",
       "Start the approval the policies require", response=sh.QUOTE),
    _r("POST", f"{QUOTE_ITEM}/send", send_quote, "sendQuote", "Send an approved quote to the customer",
       body=sh.QUOTE_SEND_INPUT, response=sh.QUOTE),
    _r("POST", f"{QUOTE_ITEM}/accept", answer_quote, "acceptQuote",
       "Record the customer's answer: accepted, or declined with a reason", body=sh.QUOTE_ANSWER_INPUT,
       response=sh.QUOTE),
    _r("GET", f"{QUOTE_ITEM}/pdf", quote_pdf, "getQuotePdf",
       "The quote as a PDF (Content-Disposition attachment Q-….pdf)", response=sh.QUOTE_PDF,
       media_type="application/pdf"),
    # approvals and contracts
    _r("GET", f"{API}/approvals", list_approvals, "listApprovals",
       "The approval trail of a quote, or the approvals waiting for one of my roles", response=sh.APPROVAL_LIST,
       query=(QueryParam("quote_id"), QueryParam("pending_for_me", "boolean"))),
    _r("POST", f"{API}/approvals/<id>/decide", decide_approval, "decideApproval",
       "Approve or reject the pending step (a comment is required to reject)", body=sh.DECISION_INPUT,
       response=sh.APPROVAL),
    _r("POST", f"{API}/contracts", create_contract, "createContract", "A contract from an accepted quote",
       body=sh.CONTRACT_INPUT, response=sh.CONTRACT, status=201, etag=True),
    _r("GET", f"{API}/contracts", list_contracts, "listContracts", "List contracts", response=sh.CONTRACT_LIST,
       query=(QueryParam("opportunity_id"), QueryParam("status"))),
    _r("POST", f"{API}/contracts/<id>/status", change_contract_status, "changeContractStatus",
       "Move a contract to signed, active, expired or terminated", body=sh.CONTRACT_STATUS_INPUT,
       response=sh.CONTRACT, etag=True, if_match=True),
    # tasks and reminders
    _r("POST", f"{API}/tasks", create_task, "createTask", "Create a task (remind_at schedules a reminder)",
       body=sh.TASK_INPUT, response=sh.TASK, status=201, etag=True),
    _r("GET", f"{API}/tasks", list_tasks, "listTasks", "Tasks: overdue, by owner, or in a calendar window",
       response=sh.TASK_PAGE, query=sh.TASK_LIST_PARAMS),
    _r("POST", f"{API}/tasks/<id>/complete", complete_task, "completeTask",
       "Mark a task done (cancel=true cancels it)", response=sh.TASK, etag=True,
       query=(QueryParam("cancel", "boolean", "cancel instead of completing"),)),
    _r("GET", f"{API}/reminders", list_reminders, "listReminders",
       "Reminders that fired for me (managers: for user_id)", response=sh.REMINDER_LIST,
       query=(QueryParam("user_id"),)),
    # forecast, funnel, ownership
    _r("GET", f"{API}/sales/forecast", forecast, "getSalesForecast",
       "Weighted pipeline by period, owner, team or month, with forecast categories", response=sh.FORECAST,
       query=sh.FORECAST_PARAMS),
    _r("GET", f"{API}/sales/funnel", funnel, "getSalesFunnel",
       "Conversion by stage, time in stage, sales cycle and win rate", response=sh.FUNNEL, query=sh.FUNNEL_PARAMS),
    _r("POST", f"{API}/sales/transfers", transfer, "transferOwnership",
       "Move all of a rep's leads, opportunities, open tasks and quotes to another rep (audited)",
       body=sh.TRANSFER_INPUT, response=sh.TRANSFER_RESULT, status=201),
    _r("POST", f"{API}/sales/delegations", delegate, "delegateWork",
       "Lend a rep's records and reminders to a colleague until ends_at (from_user_id: the caller by default)",
       body=sh.DELEGATION_INPUT, response=sh.DELEGATION, status=201),
    _r("GET", f"{API}/sales/delegations", list_delegations, "listDelegations", "Delegations",
       response=sh.DELEGATION_LIST, query=(QueryParam("user_id"), QueryParam("active_only", "boolean"))),
]
