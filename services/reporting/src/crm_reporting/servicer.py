"""The gRPC servicer: translation only. Every RPC is a read of one report use case."""
from __future__ import annotations

from crm.reporting.v1 import reporting_pb2 as pb
from crm.reporting.v1.reporting_pb2_grpc import ReportingServiceServicer
from crm_reporting.usecases import campaigns, customers, email, sales, support
from crmkit.servicer import Ctx, ServicerBase


class ReportingServicer(ServicerBase, ReportingServiceServicer):
    def GetCustomerCounts(self, request: pb.GetCustomerCountsRequest, context: Ctx) -> pb.CustomerCounts:
        return self.read(lambda session, call: customers.customer_counts(
            session, principal=call.principal, request=request))

    def GetSalesSummary(self, request: pb.GetSalesSummaryRequest, context: Ctx) -> pb.SalesSummary:
        return self.read(lambda session, call: sales.sales_summary(
            session, principal=call.principal, request=request))

    def GetSupportSummary(self, request: pb.GetSupportSummaryRequest, context: Ctx) -> pb.SupportSummary:
        return self.read(lambda session, call: support.support_summary(
            session, principal=call.principal, request=request))

    def ListCampaignRoi(self, request: pb.ListCampaignRoiRequest, context: Ctx) -> pb.CampaignRoiTable:
        return self.read(lambda session, call: campaigns.campaign_roi(
            session, principal=call.principal, request=request))

    def GetCampaignReport(self, request: pb.GetCampaignReportRequest, context: Ctx) -> pb.CampaignReport:
        return self.read(lambda session, call: campaigns.campaign_report(
            session, principal=call.principal, request=request))

    def GetEmailOpenRate(self, request: pb.GetEmailOpenRateRequest, context: Ctx) -> pb.EmailOpenRateReport:
        return self.read(lambda session, call: email.email_open_rate(
            session, principal=call.principal, request=request))
