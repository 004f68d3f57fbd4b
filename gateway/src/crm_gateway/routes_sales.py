"""Sales routes → crm.sales.v1.SalesService: leads and their public pool (公海), reps and settings, opportunities, products and
price books, quotes (with their PDF), approvals, contracts, tasks and reminders, forecast and
funnel, transfers and delegations.

Actions are sub-resources (POST /quotes/{id}/submit). Quotes carry no ETag: their `version` is
the revision number shared by a quote's history, not a concurrency token, and none of their
actions takes an expected version. The PDF is the one hand-written view (a download)."""
from __future__ import annotations

from typing import Any

from flask import Response, g

from crm.sales.v1 import sales_pb2 as pb
from crm_gateway.actions import JSON, RESOURCE, Action, Mask, Reply, items, not_before
from crm_gateway.crud import Resource
from crm_gateway.routing import API, Call, Route, metadata, state
from crm_gateway.schema import JsonSchema
from crm_gateway.schemas import sales as sh

TAG = "sales"
LEADS, OPPS, QUOTES = f"{API}/leads", f"{API}/opportunities", f"{API}/quotes"
LEAD, OPP, QUOTE = f"{LEADS}/<id>", f"{OPPS}/<id>", f"{QUOTES}/<id>"


def _a(method: str, rule: str, op: str, summary: str, rpc: str, request: Any, response: JsonSchema,
       reply: Reply = RESOURCE, **kw: Any) -> Action:
    return Action(method, rule, op, summary, TAG, rpc, request, response, reply, **kw)


def quote_pdf(c: Call, id: str) -> Response:
    request = pb.RenderQuotePdfRequest(id=id)
    rendered = state().backends.client("sales").call("RenderQuotePdf", request, metadata=metadata(), idempotent=True)
    # The filename is the quote number (ASCII); quoted for Content-Disposition all the same.
    filename = rendered.filename.replace('"', "")
    return Response(rendered.content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _delegator_defaults_to_caller(request: pb.DelegateWorkRequest) -> None:
    request.delegation.from_user_id = request.delegation.from_user_id or g.principal.user_id


LEAD_ROUTES = Resource(pb, "Lead", LEADS, TAG, {
    "create": "Create a lead (assigned by the rules, else to the caller)",
    "list": "List leads visible to the caller",
    "get": "Get a lead, with its score breakdown",
    "update": "Change some fields of a lead; the keys given form the update mask",
}, sh.LEAD, sh.LEAD_INPUT, sh.LEAD_UPDATE, sh.LEAD_PAGE, sh.LEAD_LIST_PARAMS, sh.LEAD_LIST_FIELDS)
OPPORTUNITY_ROUTES = Resource(pb, "Opportunity", OPPS, TAG, {
    "create": "Create an opportunity",
    "list": "List opportunities visible to the caller",
    "get": "Get an opportunity with its stage history",
    "update": "Change some fields of an opportunity (stages change through /stage)",
}, sh.OPPORTUNITY, sh.OPPORTUNITY_INPUT, sh.OPPORTUNITY_UPDATE, sh.OPPORTUNITY_PAGE, sh.OPPORTUNITY_LIST_PARAMS,
    plural="Opportunities")
QUOTE_ROUTES = Resource(pb, "Quote", QUOTES, TAG, {
    "create": "Create a draft quote; totals are computed exactly, to the cent",
    "list": "List quotes",
    "get": "Get a quote",
}, sh.QUOTE, sh.QUOTE_INPUT, page=sh.QUOTE_PAGE, list_params=sh.QUOTE_LIST_PARAMS, etag=False)

ROUTES: list[Action | Route] = [
    # leads
    *LEAD_ROUTES.actions(),
    _a("POST", f"{LEADS}/capture", "captureLead", "A lead from a web form or campaign page (marketing or service "
       "token)", "CaptureLead", pb.CaptureLeadRequest, sh.LEAD, body=sh.LEAD_CAPTURE, status=201, location=LEADS),
    _a("POST", f"{LEADS}/import", "importLeads", "Import leads from CSV; bad rows are reported by row and field, "
       "good rows kept", "ImportLeads", pb.ImportLeadsRequest, sh.LEAD_IMPORT_RESULT, JSON, body=sh.LEAD_IMPORT),
    _a("POST", f"{LEAD}/status", "changeLeadStatus", "Move a lead to working, qualified, disqualified or nurturing "
       "(a reason for the last two)", "ChangeLeadStatus", pb.ChangeLeadStatusRequest, sh.LEAD,
       body=sh.LEAD_STATUS_INPUT),
    _a("POST", f"{LEAD}/activities", "recordLeadActivity", "Count an activity (inbound email, call, ...); the score "
       "is recomputed", "RecordLeadActivity", pb.RecordLeadActivityRequest, sh.LEAD, body=sh.LEAD_ACTIVITY_INPUT),
    _a("POST", f"{LEAD}/assign", "assignLead", "Give the lead to owner_id, or send {} to run the assignment rules "
       "again", "AssignLead", pb.AssignLeadRequest, sh.LEAD, body=sh.LEAD_ASSIGN_INPUT),
    _a("POST", f"{LEAD}/convert", "convertLead", "Convert a qualified lead into an opportunity (and an account and "
       "contact); a retry creates nothing twice", "ConvertLead", pb.ConvertLeadRequest, sh.LEAD_CONVERSION, JSON,
       body=sh.LEAD_CONVERT_INPUT),
    # the public pool (公海)
    _a("GET", f"{API}/sales/pool", "listPoolLeads", "The leads waiting in the caller's team's public pool (公海), "
       "unowned, with why they are there", "ListPool", pb.ListPoolRequest, sh.LEAD_PAGE, items("leads", paged=True),
       query=sh.POOL_PARAMS, query_fields=sh.POOL_LIST_FIELDS),
    _a("POST", f"{LEAD}/claim", "claimLead", "Claim a lead from the pool: refused past the team's claim limit or "
       "within the cool-down (400 naming it); 409 when another rep claimed it first", "ClaimLead",
       pb.ClaimLeadRequest, sh.LEAD, JSON),
    _a("POST", f"{LEAD}/release", "releaseLead", "Give a lead back to the team's pool, with the reason",
       "ReleaseLead", pb.ReleaseLeadRequest, sh.LEAD, JSON, body=sh.POOL_RELEASE_INPUT),
    _a("POST", f"{LEAD}/pool-assign", "assignLeadFromPool", "A manager gives a lead in the pool to a rep of the "
       "team", "AssignFromPool", pb.AssignFromPoolRequest, sh.LEAD, JSON, body=sh.POOL_ASSIGN_INPUT),
    _a("GET", f"{LEAD}/pool-history", "listLeadPoolMoves", "Every move of the lead into or out of the pool: who, "
       "when, why", "ListPoolMoves", pb.ListPoolMovesRequest, sh.POOL_MOVES, items("moves"),
       path={"id": "lead_id"}),
    # reps and settings
    _a("GET", f"{API}/sales/reps", "listSalesReps", "Sales reps, with their open leads", "ListReps",
       pb.ListRepsRequest, sh.REP_LIST, items("reps"), query=sh.REP_PARAMS),
    _a("PUT", f"{API}/sales/reps", "upsertSalesRep", "Create or replace a sales rep (by user_id)", "UpsertRep",
       pb.UpsertRepRequest, sh.REP, body=sh.REP_INPUT, body_field="rep"),
    _a("GET", f"{API}/sales/settings", "getSalesSettings", "Scoring, assignment, pipelines, approval policies and "
       "follow-up rules", "GetSalesSettings", pb.GetSalesSettingsRequest, sh.SETTINGS),
    _a("PATCH", f"{API}/sales/settings", "updateSalesSettings", "Replace the sections given (e.g. "
       "assignment_rules)", "UpdateSalesSettings", pb.UpdateSalesSettingsRequest, sh.SETTINGS,
       body=sh.SETTINGS_INPUT, body_field="settings", mask=Mask(empty="give at least one section to replace")),
    # opportunities
    *OPPORTUNITY_ROUTES.actions(),
    _a("POST", f"{OPP}/stage", "changeOpportunityStage", "Move to a stage; refused (400 naming what is missing) "
       "when its criteria are not met", "ChangeStage", pb.ChangeStageRequest, sh.OPPORTUNITY, body=sh.STAGE_INPUT),
    # products and price books
    _a("POST", f"{API}/products", "createProduct", "Add a product to the catalogue", "CreateProduct",
       pb.CreateProductRequest, sh.PRODUCT, body=sh.PRODUCT_INPUT, body_field="product", status=201),
    _a("GET", f"{API}/products", "listProducts", "The product catalogue", "ListProducts", pb.ListProductsRequest,
       sh.PRODUCT_LIST, items("products"), query=sh.PRODUCT_PARAMS),
    _a("PUT", f"{API}/price-books", "savePriceBook", "Create a price book, or replace the one with this id",
       "SavePriceBook", pb.SavePriceBookRequest, sh.PRICE_BOOK, body=sh.PRICE_BOOK, body_field="price_book"),
    _a("GET", f"{API}/price-books", "listPriceBooks", "Price books by currency and tier", "ListPriceBooks",
       pb.ListPriceBooksRequest, sh.PRICE_BOOK_LIST, items("price_books", paged=True), query=sh.PRICE_BOOK_PARAMS),
    # quotes
    *QUOTE_ROUTES.actions(),
    _a("POST", f"{QUOTE}/revise", "reviseQuote", "A new version of the quote (same number); this one is "
       "superseded", "ReviseQuote", pb.ReviseQuoteRequest, sh.QUOTE, JSON, body=sh.QUOTE_REVISION,
       body_field="changes", mask=Mask(), status=201, location=QUOTES),
    _a("POST", f"{QUOTE}/submit", "submitQuote", "Start the approval the policies require", "SubmitQuote",
       pb.SubmitQuoteRequest, sh.QUOTE, JSON),
    _a("POST", f"{QUOTE}/send", "sendQuote", "Send an approved quote to the customer", "SendQuote",
       pb.SendQuoteRequest, sh.QUOTE, JSON, body=sh.QUOTE_SEND_INPUT),
    _a("POST", f"{QUOTE}/accept", "acceptQuote", "Record the customer's answer: accepted, or declined with a "
       "reason", "AcceptQuote", pb.AcceptQuoteRequest, sh.QUOTE, JSON, body=sh.QUOTE_ANSWER_INPUT),
    Route("GET", f"{QUOTE}/pdf", quote_pdf, "getQuotePdf", "The quote as a PDF (Content-Disposition attachment "
          "Q-….pdf)", TAG, response=sh.QUOTE_PDF, media_type="application/pdf"),
    # approvals and contracts
    _a("GET", f"{API}/approvals", "listApprovals", "The approval trail of a quote, or the approvals waiting for one "
       "of my roles", "ListApprovals", pb.ListApprovalsRequest, sh.APPROVAL_LIST, items("approvals", paged=True),
       query=sh.APPROVAL_PARAMS),
    _a("POST", f"{API}/approvals/<id>/decide", "decideApproval", "Approve or reject the pending step (a comment is "
       "required to reject)", "DecideApproval", pb.DecideApprovalRequest, sh.APPROVAL, JSON,
       body=sh.DECISION_INPUT),
    _a("POST", f"{API}/contracts", "createContract", "A contract from an accepted quote", "CreateContract",
       pb.CreateContractRequest, sh.CONTRACT, body=sh.CONTRACT_INPUT, status=201),
    _a("GET", f"{API}/contracts", "listContracts", "List contracts visible to the caller, oldest first",
       "ListContracts", pb.ListContractsRequest, sh.CONTRACT_LIST, items("contracts", paged=True),
       query=sh.CONTRACT_PARAMS),
    _a("GET", f"{API}/contracts/<id>", "getContract", "Get a contract (404 when the caller may not see it, as in "
       "the list)", "GetContract", pb.GetContractRequest, sh.CONTRACT),
    _a("POST", f"{API}/contracts/<id>/status", "changeContractStatus", "Move a contract to signed, active, expired "
       "or terminated", "UpdateContractStatus", pb.UpdateContractStatusRequest, sh.CONTRACT,
       body=sh.CONTRACT_STATUS_INPUT),
    # tasks and reminders
    _a("POST", f"{API}/tasks", "createTask", "Create a task (remind_at schedules a reminder)", "CreateTask",
       pb.CreateTaskRequest, sh.TASK, body=sh.TASK_INPUT, body_field="task", status=201),
    _a("GET", f"{API}/tasks", "listTasks", "Tasks: overdue, by owner, or in a calendar window", "ListTasks",
       pb.ListTasksRequest, sh.TASK_PAGE, items("tasks", paged=True), query=sh.TASK_LIST_PARAMS),
    _a("POST", f"{API}/tasks/<id>/complete", "completeTask", "Mark a task done (cancel=true cancels it)",
       "CompleteTask", pb.CompleteTaskRequest, sh.TASK, query=sh.COMPLETE_PARAMS),
    _a("GET", f"{API}/reminders", "listReminders", "Reminders that fired for me (managers: for user_id)",
       "ListReminders", pb.ListRemindersRequest, sh.REMINDER_LIST, items("reminders"), query=sh.REMINDER_PARAMS),
    # forecast, funnel, ownership
    _a("GET", f"{API}/sales/forecast", "getSalesForecast", "Weighted pipeline by period, owner, team or month, with "
       "forecast categories", "GetForecast", pb.ForecastRequest, sh.FORECAST, JSON, query=sh.FORECAST_PARAMS,
       check=not_before("period_start", "period_end")),
    _a("GET", f"{API}/sales/funnel", "getSalesFunnel", "Conversion by stage, time in stage, sales cycle and win "
       "rate", "GetFunnel", pb.FunnelRequest, sh.FUNNEL, JSON, query=sh.FUNNEL_PARAMS),
    _a("POST", f"{API}/sales/transfers", "transferOwnership", "Move all of a rep's leads, opportunities, open tasks "
       "and quotes to another rep (audited)", "TransferOwnership", pb.TransferOwnershipRequest, sh.TRANSFER_RESULT,
       JSON, body=sh.TRANSFER_INPUT, status=201),
    _a("POST", f"{API}/sales/delegations", "delegateWork", "Lend a rep's records and reminders to a colleague until "
       "ends_at (from_user_id: the caller by default)", "DelegateWork", pb.DelegateWorkRequest, sh.DELEGATION,
       body=sh.DELEGATION_INPUT, body_field="delegation", status=201, fill=_delegator_defaults_to_caller),
    _a("GET", f"{API}/sales/delegations", "listDelegations", "Delegations, by start then id", "ListDelegations",
       pb.ListDelegationsRequest, sh.DELEGATION_LIST, items("delegations", paged=True), query=sh.DELEGATION_PARAMS),
]
