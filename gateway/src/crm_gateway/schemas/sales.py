"""Sales shapes (crm.sales.v1): leads, reps and settings, opportunities, products and price books,
quotes, approvals, contracts, tasks and reminders, forecast, funnel, transfers, delegations.

Create bodies leave out what the service computes (scores, totals, numbers, stage history ...)
and update bodies keep only what the service lets an update mask name, both as sales.proto
declares them: a client sending one of those gets a 400 naming it instead of a silently ignored
field, or a complaint about an update mask the client never wrote."""
from __future__ import annotations

from crm.common.v1 import pool_pb2
from crm.sales.v1 import sales_pb2 as pb
from crm_gateway.routing import QueryParam
from crm_gateway.schema import CURRENCY, CURRENCY_MESSAGE, JsonSchema, picklist_description
from crm_gateway.schemas import KEY_PAGE_PARAMS, PAGE_PARAMS, PAGE_TOKEN, REGISTRY

_r = REGISTRY
_PATH_AND_VERSION = {"id", "expected_version"}  # the URL's id; If-Match's version
# Server-set fields of SalesRep, Product, Task and Delegation that sales.proto does not yet
# declare OUTPUT_ONLY are still excluded by name below (the union is taken, so annotating them
# later changes nothing here).

# -- leads
LEAD = _r.message(pb.Lead)
LEAD_INPUT = _r.input(pb.Lead)
LEAD_UPDATE = _r.patch(pb.Lead, "LeadUpdate")
# sales' rules/leads.py: an address, trimmed (a character Python does not strip stays out of it)
_ADDRESS_PART = r"[^@\s\u0000\u001c-\u001f\u0085]+"
for _name in ("LeadInput", "LeadUpdate"):
    _r.schemas[_name]["properties"]["email"].update(
        {"pattern": rf"^$|^\s*{_ADDRESS_PART}@{_ADDRESS_PART}\.{_ADDRESS_PART}\s*$",
         "x-pattern-message": "not an email address"})
LEAD_CAPTURE = _r.input(pb.CaptureLeadRequest, "LeadCapture", required=("lead",))
_r.schemas["LeadCapture"]["description"] = "a lead posted by a web form or campaign page"
LEAD_IMPORT = _r.input(pb.ImportLeadsRequest, "LeadImport", required=("csv",))
LEAD_IMPORT_RESULT = _r.message(pb.ImportLeadsResponse)
LEAD_STATUS_INPUT = _r.input(pb.ChangeLeadStatusRequest, "LeadStatusChange", exclude=_PATH_AND_VERSION,
                             required=("status",))
LEAD_ACTIVITY_INPUT = _r.input(pb.RecordLeadActivityRequest, "LeadActivityInput", exclude={"id"},
                               required=("kind",))
# crm_sales.rules.scoring.ACTIVITIES
_r.enum("LeadActivityInput", "kind", ("inbound_email", "outbound_email", "call", "meeting", "web_visit",
                                      "form_submit"), empty=False)
_r.schemas["LeadActivityInput"]["properties"]["count"].update(minimum=0, maximum=1000)
LEAD_ASSIGN_INPUT = _r.input(pb.AssignLeadRequest, "LeadAssignment", exclude={"id"})
LEAD_CONVERT_INPUT = _r.input(pb.ConvertLeadRequest, "LeadConversion", exclude={"id"})
LEAD_CONVERSION = _r.message(pb.ConvertLeadResponse)
LEAD_PAGE = _r.page(LEAD, "LeadPage")
LEAD_LIST_PARAMS = (
    QueryParam("status", choices=("new", "working", "qualified", "disqualified", "nurturing", "converted")),
    QueryParam("owner_id"),
    QueryParam("region"),
    QueryParam("source", description=picklist_description("source"), picklist="source"),
    QueryParam("campaign_id"),
    QueryParam("min_score", "integer", "only leads scoring at least this", -10_000, 10_000),
    QueryParam("unassigned", "boolean", "only leads without an owner"),
    QueryParam("q", description="substring of the name or company"),
    *PAGE_PARAMS,
)
LEAD_LIST_FIELDS = {"q": "filter.query"}

# -- the public pool (公海)
POOL_PARAMS = (
    QueryParam("team", description="another team's pool (managers, admins); the caller's team by default"),
    QueryParam("q", description="substring of the name or company"),
    *PAGE_PARAMS,
)
POOL_LIST_FIELDS = {"q": "query"}
POOL_RELEASE_INPUT = _r.input(pb.ReleaseLeadRequest, "LeadRelease", exclude={"id"}, required=("reason",))
_r.require_text("LeadRelease", "reason")
_r.schemas["LeadRelease"]["properties"]["reason"]["maxLength"] = 500  # crm_sales.rules.pool.MAX_REASON
POOL_ASSIGN_INPUT = _r.input(pb.AssignFromPoolRequest, "PoolAssignment", exclude={"id"}, required=("owner_id",))
_r.require_text("PoolAssignment", "owner_id")
POOL_MOVES = _r.page(_r.message(pool_pb2.PoolMove), "PoolMoveList", paged=False)

# -- reps and settings
REP = _r.message(pb.SalesRep)
REP_INPUT = _r.input(pb.SalesRep, exclude={"open_leads"}, required=("user_id",))
REP_LIST = _r.page(REP, "SalesRepList", paged=False)
REP_PARAMS = (QueryParam("team"),)
SETTINGS = _r.message(pb.SalesSettings)
SETTINGS_INPUT = _r.input(pb.SalesSettings)
# crm_sales.rules.pool: 0 turns a clock (or the limit) off
for _days in ("inactive_days", "unconverted_days", "cooldown_days"):
    _r.schemas["PoolRule"]["properties"][_days].update(minimum=0, maximum=3650)
_r.schemas["PoolRule"]["properties"]["claim_limit"].update(minimum=0, maximum=100_000)
# A rule states all four numbers: one left out would silently become 0 (that clock or limit off).
_r.schemas["PoolRule"]["required"] = ["team", "inactive_days", "unconverted_days", "claim_limit", "cooldown_days"]

# -- opportunities
OPPORTUNITY = _r.message(pb.Opportunity)
OPPORTUNITY_INPUT = _r.input(pb.Opportunity)
_r.require_text("OpportunityInput", "name")
# A decimal amount as crm_sales.rules.money reads it ("" is none).
# ISO 4217; "" where the context gives it (a price book entry takes the book's)
_r.schemas["Money"]["properties"]["currency_code"].update(
    pattern="^$|" + CURRENCY, **{"x-pattern-message": CURRENCY_MESSAGE})
_r.schemas["Money"]["properties"]["amount"]["pattern"] = r"^$|^-?[0-9]{1,15}(\.[0-9]{1,6})?$"
OPPORTUNITY_UPDATE = _r.patch(pb.Opportunity, "OpportunityUpdate")
STAGE_INPUT = _r.input(pb.ChangeStageRequest, "StageChange", exclude=_PATH_AND_VERSION,
                       required=("stage",))
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
PRODUCT = _r.message(pb.Product)
PRODUCT_INPUT = _r.input(pb.Product, exclude={"id"}, required=("sku", "name"))
_r.require_text("ProductInput", "sku", "name")
PRODUCT_LIST = _r.page(PRODUCT, "ProductList", paged=False)
PRODUCT_PARAMS = (QueryParam("include_inactive", "boolean"),)
PRICE_BOOK = _r.message(pb.PriceBook)
_r.schemas["PriceBook"]["properties"]["currency_code"].update(pattern=CURRENCY, **{"x-pattern-message": CURRENCY_MESSAGE})
_r.require_text("PriceBook", "name")
_r.schemas["PriceBook"]["required"].append("currency_code")  # every entry is priced in it
_r.schemas["PriceBook"]["properties"]["active"]["description"] = (
    "whether quotes may be priced from this book; not given, a new book is active and a saved one keeps "
    "what it was (send false to switch a book off)")
PRICE_BOOK_LIST = _r.page(PRICE_BOOK, "PriceBookList")
PRICE_BOOK_PARAMS = (QueryParam("currency_code"), QueryParam("tier"), *KEY_PAGE_PARAMS)
QUOTE = _r.message(pb.Quote)
QUOTE_INPUT = _r.input(pb.Quote, required=("opportunity_id",))  # lines: QuoteLineInput
_r.require_text("QuoteInput", "opportunity_id")
QUOTE_REVISION = _r.patch(pb.Quote, "QuoteRevision")
QUOTE_SEND_INPUT = _r.input(pb.SendQuoteRequest, "QuoteSending", exclude={"id"})
# what sales itself checks (crm_sales.rules.leads.check_email); blank: no recipient recorded
_r.schemas["QuoteSending"]["properties"]["recipient_email"].update(
    pattern=r"^\s*$|^\s*[^@\s\u0000]+@[^@\s\u0000]+\.[^@\s\u0000]+\s*$")
_r.schemas["QuoteSending"]["properties"]["recipient_email"]["x-pattern-message"] = "one email address"
QUOTE_ANSWER_INPUT = _r.input(pb.AcceptQuoteRequest, "QuoteAnswer", exclude={"id"})
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
APPROVAL = _r.message(pb.ApprovalRequest)
APPROVAL_LIST = _r.page(APPROVAL, "ApprovalList")
APPROVAL_PARAMS = (QueryParam("quote_id"), QueryParam("pending_for_me", "boolean"),
                   QueryParam("page_size", "integer", "items per page (200 when omitted)", 1, 200), PAGE_TOKEN)
DECISION_INPUT = _r.input(pb.DecideApprovalRequest, "ApprovalDecision", exclude={"id"},
                          required=("approve",))
CONTRACT = _r.message(pb.Contract)
CONTRACT_INPUT = _r.input(pb.CreateContractRequest, "ContractInput", required=("quote_id",))
CONTRACT_STATUS_INPUT = _r.input(pb.UpdateContractStatusRequest, "ContractStatusChange",
                                 exclude=_PATH_AND_VERSION, required=("status",))
CONTRACT_LIST = _r.page(CONTRACT, "ContractList")
# crm_sales.rules.contracts.STATUSES
CONTRACT_PARAMS = (QueryParam("opportunity_id"),
                   QueryParam("status", choices=("draft", "signed", "active", "expired", "terminated")),
                   QueryParam("page_size", "integer", "items per page (200 when omitted)", 1, 200), PAGE_TOKEN)

# -- tasks and reminders
TASK = _r.message(pb.Task)
TASK_INPUT = _r.input(pb.Task, exclude={
    "id", "version", "created_at", "updated_at", "status", "rule_id", "created_by", "completed_at", "team",
    "region"}, required=("title",))
_r.require_text("TaskInput", "title")
_r.enum("TaskInput", "related_type", ("lead", "opportunity", "quote", "contract"))
_r.enum("TaskInput", "kind", ("call", "email", "meeting", "follow_up", "response", "other"))  # rules.follow_ups
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
COMPLETE_PARAMS = (QueryParam("cancel", "boolean", "cancel instead of completing"),)
REMINDER = _r.message(pb.Reminder)
REMINDER_LIST = _r.page(REMINDER, "ReminderList", paged=False)
REMINDER_PARAMS = (QueryParam("user_id"),)

# -- forecast, funnel, ownership
FORECAST = _r.message(pb.ForecastResponse)
FORECAST_PARAMS = (
    QueryParam("period_start", "date", "expected close date from (inclusive)"),
    QueryParam("period_end", "date", "expected close date to (inclusive)"),
    QueryParam("group_by", description="one total row when omitted", choices=("owner", "team", "month")),
    QueryParam("currency_code", description="one row per currency when omitted"),
    QueryParam("owner_id"),
    QueryParam("team"),
)
FUNNEL = _r.message(pb.FunnelResponse)
FUNNEL_PARAMS = (
    QueryParam("pipeline_id", description="the default pipeline when omitted"),
    QueryParam("from_date", "date", "opportunities created from (inclusive)"),
    QueryParam("to_date", "date", "opportunities created to (inclusive)"),
    QueryParam("owner_id"),
    QueryParam("team"),
)
TRANSFER_INPUT = _r.input(pb.TransferOwnershipRequest, "OwnershipTransfer",
                          required=("from_user_id", "to_user_id"))
_r.require_text("OwnershipTransfer", "from_user_id", "to_user_id")
TRANSFER_RESULT = _r.message(pb.TransferOwnershipResponse)
DELEGATION = _r.message(pb.Delegation)
DELEGATION_INPUT = _r.input(pb.Delegation, exclude={"id", "created_by", "revoked"},
                            required=("to_user_id", "ends_at"))
_r.require_text("DelegationInput", "to_user_id")
DELEGATION_LIST = _r.page(DELEGATION, "DelegationList")
# a key cursor (the last row's start and id): KEY_PAGE_PARAMS' 200 is also the default page size
DELEGATION_PARAMS = (QueryParam("user_id"), QueryParam("active_only", "boolean"), *KEY_PAGE_PARAMS)

# ISO 4217 wherever a sales body names a currency ("" where the context gives it), once all are defined
for _name in ("LeadInput", "LeadUpdate", "QuoteInput"):
    _r.schemas[_name]["properties"]["currency_code"].update(
        pattern="^$|" + CURRENCY, **{"x-pattern-message": CURRENCY_MESSAGE})
