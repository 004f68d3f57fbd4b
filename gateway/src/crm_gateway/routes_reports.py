"""Reports → crm.reporting.v1.ReportingService: /api/v1/reports/*."""
from __future__ import annotations

from crm.reporting.v1 import reporting_pb2 as pb
from crm_gateway.actions import JSON, Action, not_before
from crm_gateway.routing import API
from crm_gateway.schemas import reports as sh

ROUTES: list[Action] = [
    Action("GET", f"{API}/reports/customers", "getCustomerCounts",
           "Customer counts by source, region, level and tag, and new customers per day", "reports",
           "GetCustomerCounts", pb.GetCustomerCountsRequest, sh.CUSTOMER_COUNTS, JSON, query=sh.CUSTOMER_PARAMS,
           check=not_before("from_day", "to_day")),
    Action("GET", f"{API}/reports/sales", "getSalesSummary",
           "Open pipeline by stage, won deals per month, win rate and leads by source", "reports",
           "GetSalesSummary", pb.GetSalesSummaryRequest, sh.SALES_SUMMARY, JSON, query=sh.SALES_PARAMS),
    Action("GET", f"{API}/reports/support", "getSupportSummary",
           "Tickets by status and priority, SLA breaches, response and resolution times, CSAT trend", "reports",
           "GetSupportSummary", pb.GetSupportSummaryRequest, sh.SUPPORT_SUMMARY, JSON, query=sh.SUPPORT_PARAMS,
           check=not_before("from_day", "to_day")),
]
