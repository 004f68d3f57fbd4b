"""Reports → crm.reporting.v1.ReportingService: /api/v1/reports/* (customers, sales, support, the
campaign ROI table and one campaign's report, the email open rate over time), and analytics: the
catalogue, custom queries and their drill-down, the standard reports, saved queries, dashboards,
sales targets, the forecast, and churn risk and next-purchase likelihood."""
from __future__ import annotations

from crm.reporting.v1 import reporting_pb2 as pb
from crm_gateway.actions import JSON, NO_CONTENT, RESOURCE, Action, items, not_before
from crm_gateway.routing import API
from crm_gateway.schemas import KEY_PAGE_PARAMS
from crm_gateway.schemas import reports as sh

ROUTES: list[Action] = [
    Action("GET", f"{API}/reports/customers", "getCustomerCounts",
           "Customer counts by source, region, level and tag, and new customers per day", "reports",
           "GetCustomerCounts", pb.GetCustomerCountsRequest, sh.CUSTOMER_COUNTS, JSON, query=sh.CUSTOMER_PARAMS,
           check=not_before("from_day", "to_day")),
    Action("GET", f"{API}/reports/sales", "getSalesSummary",
           "Open pipeline by stage, won deals per month, win rate and leads by source", "reports",
           "GetSalesSummary", pb.GetSalesSummaryRequest, sh.SALES_SUMMARY, JSON, query=sh.SALES_PARAMS),
    Action("GET", f"{API}/reports/pool", "getPoolReport",
           "The public pool (公海) per team and kind of record (leads, customers): in the pool now, and returned "
           "by the rule, released, claimed and assigned in the period", "reports",
           "GetPoolReport", pb.GetPoolReportRequest, sh.POOL_REPORT, JSON, query=sh.POOL_PARAMS,
           check=not_before("from_day", "to_day")),
    Action("GET", f"{API}/reports/support", "getSupportSummary",
           "Tickets by status and priority, SLA breaches, response and resolution times, CSAT trend", "reports",
           "GetSupportSummary", pb.GetSupportSummaryRequest, sh.SUPPORT_SUMMARY, JSON, query=sh.SUPPORT_PARAMS,
           check=not_before("from_day", "to_day")),
    Action("GET", f"{API}/reports/campaigns", "listCampaignRoi",
           "Campaign ROI table: cost, email engagement, attributed leads and conversions, first- and last-touch "
           "revenue and ROI per campaign (sortable, paged; ROI absent when nothing was spent), and the same per "
           "channel", "reports",
           "ListCampaignRoi", pb.ListCampaignRoiRequest, sh.CAMPAIGN_ROI_TABLE, JSON, query=sh.CAMPAIGN_ROI_PARAMS,
           check=not_before("from_day", "to_day")),
    Action("GET", f"{API}/reports/campaigns/<id>", "getCampaignReport",
           "One campaign's ROI row, its send waves and its leads by how they came", "reports",
           "GetCampaignReport", pb.GetCampaignReportRequest, sh.CAMPAIGN_REPORT, JSON, path={"id": "campaign_id"}),
    Action("GET", f"{API}/reports/email-open-rate", "getEmailOpenRate",
           "Email open and click rates of the mails delivered per day or ISO week (cohorts), overall or per campaign",
           "reports",
           "GetEmailOpenRate", pb.GetEmailOpenRateRequest, sh.EMAIL_OPEN_RATE, JSON, query=sh.EMAIL_OPEN_RATE_PARAMS,
           check=not_before("from_day", "to_day")),
    *[
        Action("GET", f"{API}/reports/catalogue", "getReportCatalogue",
               "What a custom query may name: per source its dimensions, measures, filters and time fields; the "
               "time grains, filter operators and the ten standard reports with their paths", "reports",
               "GetCatalogue", pb.GetCatalogueRequest, sh.CATALOGUE, JSON),
        Action("POST", f"{API}/reports/query", "runReportQuery",
               "Run a custom query (dimensions x measures x filters x time grain, from the catalogue) over what "
               "the caller may see", "reports", "RunQuery", pb.RunQueryRequest, sh.QUERY_RESULT, JSON,
               body=sh.RUN_QUERY_INPUT, idempotent=True),
        Action("POST", f"{API}/reports/query/drill-down", "drillDownReportQuery",
               "The ids of the records behind one row (its keys) or the total of a query's measure, the caller's "
               "visible ones", "reports", "DrillDown", pb.DrillDownRequest, sh.DRILL_DOWN, JSON,
               body=sh.DRILL_DOWN_INPUT, idempotent=True),
        Action("GET", f"{API}/reports/standard/<any({','.join(sh.STANDARD_NAMES)}):name>", "getStandardReport",
               "A standard report: " + ", ".join(sh.STANDARD_NAMES) + " (its query is in the answer, to drill "
               "down or save)", "reports", "GetStandardReport", pb.GetStandardReportRequest, sh.QUERY_RESULT, JSON,
               query=sh.STANDARD_PARAMS, check=not_before("from_day", "to_day")),
        Action("GET", f"{API}/reports/forecast", "getPipelineForecast",
               "Next quarter's sales: the weighted open pipeline expected to close in it plus what is already won, "
               "next to the same quarter a year before and the historical win rate", "reports",
               "GetForecast", pb.ForecastRequest, sh.FORECAST, JSON, query=sh.FORECAST_PARAMS),
        Action("GET", f"{API}/reports/churn", "listChurnRisk",
               "Churn risk per customer (no purchase in the next 90 days, among those who bought before), highest "
               "first, with the top reasons, next to the model's evaluation (AUC on held-out customers, base rate, "
               "sample sizes, when trained); `model` absent and `reason` set when there is too little history",
               "reports", "ListPredictions", pb.ListPredictionsRequest, sh.PREDICTION_LIST, JSON,
               query=sh.PREDICTION_PARAMS, fill=lambda req: setattr(req, "kind", "churn")),
        Action("GET", f"{API}/reports/next-purchase", "listNextPurchase",
               "Next-purchase likelihood per customer (a deal won in the next 90 days), highest first, with the top "
               "reasons, next to the model's evaluation; `model` absent and `reason` set when there is too little "
               "history", "reports", "ListPredictions", pb.ListPredictionsRequest, sh.PREDICTION_LIST, JSON,
               query=sh.PREDICTION_PARAMS, fill=lambda req: setattr(req, "kind", "next_purchase")),
        Action("PUT", f"{API}/reports/targets", "putSalesTargets",
               "Set monthly targets per rep or per team (managers: their team; an amount of 0 removes one)",
               "reports", "PutTargets", pb.PutTargetsRequest, sh.TARGET_LIST, JSON, body=sh.TARGETS_INPUT,
               idempotent=True),
        Action("GET", f"{API}/reports/targets", "listSalesTargets", "The targets the caller may see", "reports",
               "ListTargets", pb.ListTargetsRequest, sh.TARGET_LIST, JSON, query=sh.TARGET_PARAMS),
        Action("POST", f"{API}/reports/saved", "createSavedQuery",
               "Save a custom query, private or shared with the owner's team or everyone", "reports",
               "CreateSavedQuery", pb.CreateSavedQueryRequest, sh.SAVED_QUERY, RESOURCE, body=sh.SAVED_QUERY_INPUT,
               body_field="saved_query", status=201, location=f"{API}/reports/saved"),
        Action("GET", f"{API}/reports/saved", "listSavedQueries", "The saved queries the caller may see", "reports",
               "ListSavedQueries", pb.ListSavedQueriesRequest, sh.SAVED_QUERY_LIST, JSON),
        Action("GET", f"{API}/reports/saved/<id>", "getSavedQuery", "A saved query", "reports",
               "GetSavedQuery", pb.GetSavedQueryRequest, sh.SAVED_QUERY, RESOURCE),
        Action("PUT", f"{API}/reports/saved/<id>", "updateSavedQuery",
               "Replace a saved query (its owner or an admin)", "reports", "UpdateSavedQuery",
               pb.UpdateSavedQueryRequest, sh.SAVED_QUERY, RESOURCE, body=sh.SAVED_QUERY_INPUT,
               body_field="saved_query"),
        Action("DELETE", f"{API}/reports/saved/<id>", "deleteSavedQuery", "Delete a saved query (its owner or an "
               "admin)", "reports", "DeleteSavedQuery", pb.DeleteSavedQueryRequest, None, NO_CONTENT),
        Action("GET", f"{API}/reports/saved/<id>/result", "runSavedQuery",
               "Run a saved query with the caller's own visibility", "reports", "RunSavedQuery",
               pb.RunSavedQueryRequest, sh.QUERY_RESULT, JSON),
        Action("POST", f"{API}/reports/dashboards", "createDashboard",
               "Save a dashboard: widgets (figure, series, table, funnel), each a query with green / amber / red "
               "thresholds", "reports", "CreateDashboard", pb.CreateDashboardRequest, sh.DASHBOARD, RESOURCE,
               body=sh.DASHBOARD_INPUT, body_field="dashboard", status=201, location=f"{API}/reports/dashboards"),
        Action("GET", f"{API}/reports/dashboards", "listDashboards", "The dashboards the caller may see", "reports",
               "ListDashboards", pb.ListDashboardsRequest, sh.DASHBOARD_LIST, items("items", paged=True),
               query=KEY_PAGE_PARAMS),
        Action("GET", f"{API}/reports/dashboards/<id>", "getDashboard", "A dashboard's definition", "reports",
               "GetDashboard", pb.GetDashboardRequest, sh.DASHBOARD, RESOURCE),
        Action("PUT", f"{API}/reports/dashboards/<id>", "updateDashboard",
               "Replace a dashboard (its owner or an admin)", "reports", "UpdateDashboard",
               pb.UpdateDashboardRequest, sh.DASHBOARD, RESOURCE, body=sh.DASHBOARD_INPUT, body_field="dashboard"),
        Action("DELETE", f"{API}/reports/dashboards/<id>", "deleteDashboard", "Delete a dashboard (its owner or an "
               "admin)", "reports", "DeleteDashboard", pb.DeleteDashboardRequest, None, NO_CONTENT),
        Action("GET", f"{API}/reports/dashboards/<id>/view", "renderDashboard",
               "Every widget's figures over what the caller may see, with its colour", "reports",
               "RenderDashboard", pb.RenderDashboardRequest, sh.DASHBOARD_VIEW, JSON),
        Action("POST", f"{API}/reports/dashboards/<id>/widgets/<widget_id>/drill-down", "drillDownWidget",
               "The ids of the records behind a widget's figure (no keys) or one of its rows (the row's keys), "
               "the caller's visible ones", "reports", "DrillDownWidget", pb.DrillDownWidgetRequest, sh.DRILL_DOWN,
               JSON, body=sh.WIDGET_DRILL_INPUT, path={"id": "dashboard_id"}, idempotent=True),
    ],
]
