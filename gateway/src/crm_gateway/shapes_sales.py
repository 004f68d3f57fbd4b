"""The sales shapes: JSON schemas from crm.sales.v1 messages (in the one shared REGISTRY, so the
OpenAPI document and the validator see them) and the query parameters of the sales lists.

Input schemas leave out what the service computes (scores, totals, numbers, stage history...):
a client sending one of those gets a 400 naming it instead of a silently ignored field. Update
schemas keep only what the service lets PATCH change, so a bad key is refused here rather than
coming back from the service as a complaint about an update mask the client never wrote."""
from __future__ import annotations

from typing import Any

from crm.sales.v1 import sales_pb2 as pb
from crm_gateway.routing import QueryParam, copy_timestamp
from crm_gateway.schema import SERVER_OWNED, JsonSchema
from crm_gateway.shapes import PAGE_PARAMS, REGISTRY, page_request

_r = REGISTRY
LEAD_EDITABLE = ("name", "company", "title", "phone", "email", "industry", "province", "city", "region", "notes",
                 "company_size", "budget", "currency_code", "campaign_id", "source")
OPPORTUNITY_EDITABLE = ("name", "account_id", "contact_id", "amount", "budget", "expected_close_date",
                        "competitors", "decision_maker", "next_step", "description", "owner_id",
                        "forecast_category", "account_name")
QUOTE_REVISABLE = ("lines", "discount_percent", "tax_rate", "special_terms", "valid_until", "notes",
                   "price_book_id", "customer_name")


def _all_but(descriptor: Any, keep: tuple[str, ...]) -> set[str]:
    return {f.name for f in descriptor.fields} - set(keep)


def _input(message: Any, name: str, exclude: set[str] | frozenset[str], required: tuple[str, ...] = ()) -> JsonSchema:
    schema = _r.message(message.DESCRIPTOR, name=name, exclude=exclude)
    if required:
        _r.schemas[name]["required"] = list(required)
    return schema


# -- leads
LEAD = _r.message(pb.Lead.DESCRIPTOR)
LEAD_INPUT = _input(pb.Lead, "LeadInput", SERVER_OWNED | {
    "status", "score", "score_breakdown", "activity", "last_activity_at", "assigned_at", "response_due_at",
    "first_response_at", "status_reason", "converted_opportunity_id", "converted_account_id",
    "converted_contact_id", "assignment_rule_id", "team"})
LEAD_UPDATE = _input(pb.Lead, "LeadUpdate", _all_but(pb.Lead.DESCRIPTOR, LEAD_EDITABLE))
LEAD_CAPTURE = _r.add("LeadCapture", {
    "type": "object",
    "description": "a lead posted by a web form or campaign page",
    "properties": {"lead": LEAD_INPUT, "form_id": {"type": "string"}},
    "required": ["lead"],
    "additionalProperties": False,
})
LEAD_IMPORT = _input(pb.ImportLeadsRequest, "LeadImport", frozenset(), required=("csv",))
LEAD_IMPORT_RESULT = _r.message(pb.ImportLeadsResponse.DESCRIPTOR)
LEAD_STATUS_INPUT = _input(pb.ChangeLeadStatusRequest, "LeadStatusChange", {"id", "expected_version"},
                           required=("status",))
LEAD_ACTIVITY_INPUT = _input(pb.RecordLeadActivityRequest, "LeadActivity", {"id"}, required=("kind",))
LEAD_ASSIGN_INPUT = _input(pb.AssignLeadRequest, "LeadAssignment", {"id"})
LEAD_CONVERT_INPUT = _input(pb.ConvertLeadRequest, "LeadConversion", {"id"})
LEAD_CONVERSION = _r.message(pb.ConvertLeadResponse.DESCRIPTOR)
LEAD_PAGE = _r.page(LEAD, "LeadPage")
LEAD_LIST_PARAMS = (
    QueryParam("status", choices=("new", "working", "qualified", "disqualified", "nurturing", "converted")),
    QueryParam("owner_id"),
    QueryParam("region"),
    QueryParam("source"),
    QueryParam("campaign_id"),
    QueryParam("min_score", "integer", "only leads scoring at least this", -10_000, 10_000),
    QueryParam("unassigned", "boolean", "only leads without an owner"),
    QueryParam("q", description="substring of the name or company"),
    *PAGE_PARAMS,
)

# -- reps and settings
REP = _r.message(pb.SalesRep.DESCRIPTOR)
REP_INPUT = _input(pb.SalesRep, "SalesRepInput", {"open_leads"}, required=("user_id",))
REP_LIST = _r.page(REP, "SalesRepList", paged=False)
SETTINGS = _r.message(pb.SalesSettings.DESCRIPTOR)
SETTINGS_INPUT = _input(pb.SalesSettings, "SalesSettingsInput", {"version"})

# -- opportunities
OPPORTUNITY = _r.message(pb.Opportunity.DESCRIPTOR)
OPPORTUNITY_INPUT = _input(pb.Opportunity, "OpportunityInput", SERVER_OWNED | {
    "status", "probability", "stage_history", "closed_at", "loss_reason"})
OPPORTUNITY_UPDATE = _input(pb.Opportunity, "OpportunityUpdate",
                            _all_but(pb.Opportunity.DESCRIPTOR, OPPORTUNITY_EDITABLE))
STAGE_INPUT = _input(pb.ChangeStageRequest, "StageChange", {"id", "expected_version"}, required=("stage",))
OPPORTUNITY_PAGE = _r.page(OPPORTUNITY, "OpportunityPage")
OPPORTUNITY_LIST_PARAMS = (
    QueryParam("status", choices=("open", "won", "lost")),
    QueryParam("stage"),
    QueryParam("owner_id"),
    QueryParam("team"),
    QueryParam("account_id"),
    QueryParam("close_from", "date", "expected close date from (inclusive)"),
    QueryParam("close_to", "date", "expected close date to (inclusive)"),
    *PAGE_PARAMS,
)

# -- products, price books, quotes
PRODUCT = _r.message(pb.Product.DESCRIPTOR)
PRODUCT_INPUT = _input(pb.Product, "ProductInput", {"id"}, required=("sku", "name"))
PRODUCT_LIST = _r.page(PRODUCT, "ProductList", paged=False)
PRICE_BOOK = _r.message(pb.PriceBook.DESCRIPTOR)
PRICE_BOOK_LIST = _r.page(PRICE_BOOK, "PriceBookList", paged=False)
QUOTE = _r.message(pb.Quote.DESCRIPTOR)
QUOTE_LINE_INPUT = _input(pb.QuoteLine, "QuoteLineInput", {"gross", "discount", "net"})
QUOTE_INPUT = _input(pb.Quote, "QuoteInput", {
    "id", "number", "version", "account_id", "subtotal", "discount_total", "tax_total", "total",
    "effective_discount_percent", "status", "owner_id", "team", "region", "approval_id", "sent_at",
    "row_version", "created_at", "updated_at"}, required=("opportunity_id",))
QUOTE_REVISION = _input(pb.Quote, "QuoteRevision", _all_but(pb.Quote.DESCRIPTOR, QUOTE_REVISABLE))
for _name in ("QuoteInput", "QuoteRevision"):
    _r.schemas[_name]["properties"]["lines"]["items"] = QUOTE_LINE_INPUT
QUOTE_SEND_INPUT = _input(pb.SendQuoteRequest, "QuoteSending", {"id"})
QUOTE_ANSWER_INPUT = _input(pb.AcceptQuoteRequest, "QuoteAnswer", {"id"})
QUOTE_PAGE = _r.page(QUOTE, "QuotePage")
QUOTE_LIST_PARAMS = (
    QueryParam("opportunity_id"),
    QueryParam("status", choices=("draft", "pending_approval", "approved", "rejected", "sent", "accepted",
                                  "declined", "superseded")),
    *PAGE_PARAMS,
)
QUOTE_PDF: JsonSchema = {
    "type": "string", "contentMediaType": "application/pdf",
    "description": "the quote rendered as application/pdf; Content-Disposition names the file "
                   "(Q-<year>-<number>-v<version>.pdf)",
}

# -- approvals and contracts
APPROVAL = _r.message(pb.ApprovalRequest.DESCRIPTOR)
APPROVAL_LIST = _r.page(APPROVAL, "ApprovalList", paged=False)
DECISION_INPUT = _input(pb.DecideApprovalRequest, "ApprovalDecision", {"id"}, required=("approve",))
CONTRACT = _r.message(pb.Contract.DESCRIPTOR)
CONTRACT_INPUT = _input(pb.CreateContractRequest, "ContractInput", frozenset(), required=("quote_id",))
CONTRACT_STATUS_INPUT = _input(pb.UpdateContractStatusRequest, "ContractStatusChange", {"id", "expected_version"},
                               required=("status",))
CONTRACT_LIST = _r.page(CONTRACT, "ContractList", paged=False)

# -- tasks and reminders
TASK = _r.message(pb.Task.DESCRIPTOR)
TASK_INPUT = _input(pb.Task, "TaskInput", SERVER_OWNED | {
    "status", "rule_id", "created_by", "completed_at", "team", "region"}, required=("title",))
TASK_PAGE = _r.page(TASK, "TaskPage")
TASK_LIST_PARAMS = (
    QueryParam("owner_id"),
    QueryParam("status", choices=("open", "done", "cancelled")),
    QueryParam("overdue_only", "boolean", "open tasks due before now"),
    QueryParam("due_from", "date-time", "calendar window start (inclusive)"),
    QueryParam("due_to", "date-time", "calendar window end (exclusive)"),
    QueryParam("related_id", description="a lead, opportunity, quote or contract id"),
    *PAGE_PARAMS,
)
REMINDER = _r.message(pb.Reminder.DESCRIPTOR)
REMINDER_LIST = _r.page(REMINDER, "ReminderList", paged=False)

# -- forecast, funnel, ownership
FORECAST = _r.message(pb.ForecastResponse.DESCRIPTOR)
FORECAST_PARAMS = (
    QueryParam("period_start", "date", "expected close date from (inclusive)"),
    QueryParam("period_end", "date", "expected close date to (inclusive)"),
    QueryParam("group_by", description="one total row when omitted", choices=("owner", "team", "month")),
    QueryParam("currency_code", description="one row per currency when omitted"),
    QueryParam("owner_id"),
    QueryParam("team"),
)
FUNNEL = _r.message(pb.FunnelResponse.DESCRIPTOR)
FUNNEL_PARAMS = (
    QueryParam("pipeline_id", description="the default pipeline when omitted"),
    QueryParam("from_date", "date", "opportunities created from (inclusive)"),
    QueryParam("to_date", "date", "opportunities created to (inclusive)"),
    QueryParam("owner_id"),
    QueryParam("team"),
)
TRANSFER_INPUT = _input(pb.TransferOwnershipRequest, "OwnershipTransfer", frozenset(),
                        required=("from_user_id", "to_user_id"))
TRANSFER_RESULT = _r.message(pb.TransferOwnershipResponse.DESCRIPTOR)
DELEGATION = _r.message(pb.Delegation.DESCRIPTOR)
DELEGATION_INPUT = _input(pb.Delegation, "DelegationInput", {"id", "created_by", "revoked"},
                          required=("to_user_id", "ends_at"))
DELEGATION_LIST = _r.page(DELEGATION, "DelegationList", paged=False)


def lead_filter(query: dict[str, Any]) -> pb.LeadFilter:
    return pb.LeadFilter(
        status=query.get("status", ""), owner_id=query.get("owner_id", ""), region=query.get("region", ""),
        source=query.get("source", ""), campaign_id=query.get("campaign_id", ""),
        min_score=query.get("min_score", 0), unassigned=query.get("unassigned", False), query=query.get("q", ""),
    )


def opportunity_filter(query: dict[str, Any]) -> pb.OpportunityFilter:
    return pb.OpportunityFilter(**{k: query.get(k, "") for k in (
        "status", "stage", "owner_id", "team", "account_id", "close_from", "close_to")})


def tasks_request(query: dict[str, Any]) -> pb.ListTasksRequest:
    request = pb.ListTasksRequest(
        owner_id=query.get("owner_id", ""), status=query.get("status", ""),
        overdue_only=query.get("overdue_only", False), related_id=query.get("related_id", ""),
        page=page_request(query),
    )
    copy_timestamp(request.due_from, query.get("due_from"))
    copy_timestamp(request.due_to, query.get("due_to"))
    return request
