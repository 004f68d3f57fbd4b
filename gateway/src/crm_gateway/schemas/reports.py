"""Reporting shapes (crm.reporting.v1): the read models' summaries and their filters."""
from __future__ import annotations

from crm.reporting.v1 import reporting_pb2 as pb
from crm_gateway.routing import QueryParam
from crm_gateway.schema import CURRENCY, CURRENCY_MESSAGE
from crm_gateway.schemas import PAGE_PARAMS, REGISTRY

CUSTOMER_COUNTS = REGISTRY.message(pb.CustomerCounts)
SALES_SUMMARY = REGISTRY.message(pb.SalesSummary)
POOL_REPORT = REGISTRY.message(pb.PoolReport)
SUPPORT_SUMMARY = REGISTRY.message(pb.SupportSummary)
# CSAT's figures, stated for clients: absent (not 0) when nobody has answered, a satisfied answer rates 4 or 5
_csat = REGISTRY.schemas["SupportSummary"]["properties"]
_csat["csat_average"]["description"] = "average rating (1-5) of the answers; absent when there is none"
_csat["csat_satisfied"]["description"] = "answers rated 4 or 5"
_csat["csat_satisfied_share"].update(minimum=0, maximum=1, description=(
    "CSAT: csat_satisfied / csat_count, the share of answers rated 4 or 5; absent when there is none"))
REGISTRY.schemas["CsatDay"]["properties"]["satisfied"]["description"] = "of the day's answers, those rated 4 or 5"
CAMPAIGN_ROI_TABLE = REGISTRY.message(pb.CampaignRoiTable)
CAMPAIGN_REPORT = REGISTRY.message(pb.CampaignReport)
EMAIL_OPEN_RATE = REGISTRY.message(pb.EmailOpenRateReport)

CUSTOMER_PARAMS = (
    QueryParam("from_day", "date", "first day, inclusive (UTC)"),
    QueryParam("to_day", "date", "last day, inclusive (UTC)"),
    QueryParam("region"),
    QueryParam("tag", description="only customers carrying this tag"),
)
SALES_PARAMS = (QueryParam("region"),)
POOL_PARAMS = (
    QueryParam("team"),
    QueryParam("record_type", description="leads (sales) or customers (contacts' accounts); both when omitted",
               choices=("lead", "account")),
    QueryParam("from_day", "date", "moves on or after this day (UTC)"),
    QueryParam("to_day", "date", "moves on or before this day (UTC)"),
)
SUPPORT_PARAMS = (
    QueryParam("from_day", "date", "first day of the CSAT trend, inclusive (UTC)"),
    QueryParam("to_day", "date", "last day of the CSAT trend, inclusive (UTC)"),
)
ROI_ORDER = ("first_touch_roi", "last_touch_roi", "first_touch_revenue", "last_touch_revenue", "actual_cost",
             "leads", "conversions", "open_rate", "click_rate", "start_date", "name")
CAMPAIGN_ROI_PARAMS = (
    QueryParam("channel", description="the campaigns' type: email, webinar, trade_show, social, ads, web_form ..."),
    QueryParam("status", description="the campaigns' status",
               choices=("draft", "scheduled", "active", "completed", "cancelled")),
    QueryParam("from_day", "date", "campaigns starting on or after this day"),
    QueryParam("to_day", "date", "campaigns starting on or before this day"),
    QueryParam("order_by", description="the column to sort by, ascending; '-' first for descending "
               "(default -first_touch_roi); rows without a value (a null ROI) come last",
               choices=ROI_ORDER + tuple(f"-{name}" for name in ROI_ORDER)),
    *PAGE_PARAMS,
)
EMAIL_OPEN_RATE_PARAMS = (
    QueryParam("interval", description="day (default) or week (ISO weeks, Monday first)", choices=("day", "week")),
    QueryParam("from_day", "date", "first send day, inclusive (UTC)"),
    QueryParam("to_day", "date", "last send day, inclusive (UTC)"),
    QueryParam("campaign_id", description="only this campaign"),
    QueryParam("channel", description="only campaigns of this type"),
    QueryParam("by_campaign", "boolean", "one series per campaign instead of one over all"),
)

# -- analytics: catalogue, custom queries, standard reports, saved queries, dashboards, targets ----
_OWNED = ("id", "owner_id", "team", "created_at", "updated_at")
CATALOGUE = REGISTRY.message(pb.Catalogue)
QUERY_RESULT = REGISTRY.message(pb.QueryResult)
DRILL_DOWN = REGISTRY.message(pb.DrillDownResult)
RUN_QUERY_INPUT = REGISTRY.input(pb.RunQueryRequest, "RunQueryInput", required=("query",))
DRILL_DOWN_INPUT = REGISTRY.input(pb.DrillDownRequest, "DrillDownInput", required=("query",))
WIDGET_DRILL_INPUT = REGISTRY.input(pb.DrillDownWidgetRequest, "WidgetDrillDownInput",
                                    exclude=("dashboard_id", "widget_id"))
# a drill-down's page of record ids: 0 or absent is reporting's default (100), 1000 at most
REGISTRY.schemas["PageRequest"]["properties"]["page_size"].update(
    minimum=0, maximum=1000, description="record ids per page (100 when omitted or 0)")
SAVED_QUERY = REGISTRY.message(pb.SavedQuery)
SAVED_QUERY_INPUT = REGISTRY.input(pb.SavedQuery, "SavedQueryInput", exclude=_OWNED, required=("name", "query"))
SAVED_QUERY_LIST = REGISTRY.message(pb.SavedQueryList)
DASHBOARD = REGISTRY.message(pb.Dashboard)
DASHBOARD_INPUT = REGISTRY.input(pb.Dashboard, "DashboardInput", exclude=_OWNED, required=("name",))
DASHBOARD_LIST = REGISTRY.page(DASHBOARD, "DashboardList")
DASHBOARD_VIEW = REGISTRY.message(pb.DashboardView)
TARGETS_INPUT = REGISTRY.input(pb.PutTargetsRequest, "SalesTargetsInput", required=("targets",))
TARGET_LIST = REGISTRY.message(pb.TargetList)
FORECAST = REGISTRY.message(pb.Forecast)
STANDARD_NAMES = ("sales_funnel", "monthly_attainment", "rep_ranking", "deal_cycle", "lead_sources",
                  "ticket_resolution", "csat_trend", "top_issues")
STANDARD_PARAMS = (
    QueryParam("from_day", "date", "first day, inclusive, on the report's time field (UTC)"),
    QueryParam("to_day", "date", "last day, inclusive"),
    QueryParam("region", description="only this region (reports over opportunities, leads and tickets)"),
    QueryParam("team", description="only this team"),
)
MONTH = "^[0-9]{4}-(0[1-9]|1[0-2])$"
TARGET_PARAMS = (QueryParam("month", description="YYYY-MM", pattern=MONTH), QueryParam("team"))
FORECAST_PARAMS = (
    QueryParam("quarter", description="YYYY-Qn (default: the next quarter)", pattern="^[0-9]{4}-Q[1-4]$"),
    QueryParam("team"),
    QueryParam("region"),
)
PREDICTION_LIST = REGISTRY.message(pb.PredictionList)
PREDICTION_PARAMS = (
    QueryParam("team"),
    QueryParam("region"),
    QueryParam("owner_id", description="one rep's customers"),
    QueryParam("page_size", "integer", "customers per page (50 when omitted)", 1, 500),
    QueryParam("page_token", description="next_page_token from the previous page", pattern="^[A-Za-z0-9_-]*$",
               max_length=200),
)

# What reporting refuses, stated in the document: a query reads one of its sources; saved queries
# and dashboards are named; a targets call sets at least one month's target.
QUERY_SOURCES = ("opportunities", "leads", "tickets", "csat")
REGISTRY.enum("Query", "source", QUERY_SOURCES, empty=False)
REGISTRY.schemas["Query"]["required"] = ["source", "measures"]
REGISTRY.schemas["Query"]["properties"]["measures"]["minItems"] = 1
SHARING = ("private", "team", "everyone")
for _name in ("SavedQueryInput", "DashboardInput"):
    REGISTRY.enum(_name, "sharing", SHARING)  # "" is private
REGISTRY.require_text("SavedQueryInput", "name")
REGISTRY.require_text("DashboardInput", "name")
REGISTRY.schemas["SalesTargetsInput"]["properties"]["targets"]["minItems"] = 1
REGISTRY.schemas["SalesTarget"]["properties"]["month"].update({"pattern": MONTH, "x-pattern-message": "use YYYY-MM"})
REGISTRY.schemas["SalesTarget"]["properties"]["currency_code"].update(
    {"pattern": CURRENCY, "x-pattern-message": CURRENCY_MESSAGE})
REGISTRY.schemas["SalesTarget"]["required"] = ["month"]
