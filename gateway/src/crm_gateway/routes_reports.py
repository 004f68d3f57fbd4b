"""Reports → crm.reporting.v1.ReportingService: /api/v1/reports/* (customers, sales, support, the
campaign ROI table and one campaign's report, the email open rate over time)."""
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
]
