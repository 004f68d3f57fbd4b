"""The gRPC servicer: translation only. Every RPC is a read of one report use case."""
from __future__ import annotations

from crm.reporting.v1 import reporting_pb2 as pb
from crm.reporting.v1.reporting_pb2_grpc import ReportingServiceServicer
from crm_reporting.tables import dashboards, saved_queries
from crm_reporting.usecases import (
    analytics,
    campaigns,
    customers,
    definitions,
    email,
    pool,
    predictions,
    sales,
    support,
    targets,
)
from crmkit.db import UnitOfWork
from crmkit.servicer import Call, Ctx, ServicerBase


class ReportingServicer(ServicerBase, ReportingServiceServicer):
    def GetCustomerCounts(self, request: pb.GetCustomerCountsRequest, context: Ctx) -> pb.CustomerCounts:
        return self.read(lambda session, call: customers.customer_counts(
            session, principal=call.principal, request=request))

    def GetSalesSummary(self, request: pb.GetSalesSummaryRequest, context: Ctx) -> pb.SalesSummary:
        return self.read(lambda session, call: sales.sales_summary(
            session, principal=call.principal, request=request))

    def GetPoolReport(self, request: pb.GetPoolReportRequest, context: Ctx) -> pb.PoolReport:
        return self.read(lambda session, call: pool.pool_report(session, principal=call.principal, request=request))

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

    # -- analytics: catalogue, custom queries, standard reports, saved queries, dashboards, targets

    def GetCatalogue(self, request: pb.GetCatalogueRequest, context: Ctx) -> pb.Catalogue:
        return self.read(lambda session, call: analytics.get_catalogue(session, principal=call.principal))

    def RunQuery(self, request: pb.RunQueryRequest, context: Ctx) -> pb.QueryResult:
        return self.read(lambda session, call: analytics.run_query(session, principal=call.principal, request=request))

    def DrillDown(self, request: pb.DrillDownRequest, context: Ctx) -> pb.DrillDownResult:
        return self.read(lambda session, call: analytics.drill_down(session, principal=call.principal, request=request))

    def GetStandardReport(self, request: pb.GetStandardReportRequest, context: Ctx) -> pb.QueryResult:
        return self.read(lambda session, call: analytics.standard_report(
            session, principal=call.principal, request=request))

    def GetForecast(self, request: pb.ForecastRequest, context: Ctx) -> pb.Forecast:
        return self.read(lambda session, call: analytics.forecast(
            session, principal=call.principal, request=request, now=call.now))

    def ListPredictions(self, request: pb.ListPredictionsRequest, context: Ctx) -> pb.PredictionList:
        return self.read(lambda session, call: predictions.list_predictions(
            session, principal=call.principal, request=request))

    def CreateSavedQuery(self, request: pb.CreateSavedQueryRequest, context: Ctx) -> pb.SavedQuery:
        return self.write(request, pb.SavedQuery, lambda uow, call: definitions.save_query(
            uow.session, principal=call.principal, now=call.now, id_="", saved=request.saved_query))

    def UpdateSavedQuery(self, request: pb.UpdateSavedQueryRequest, context: Ctx) -> pb.SavedQuery:
        return self.write(request, pb.SavedQuery, lambda uow, call: definitions.save_query(
            uow.session, principal=call.principal, now=call.now, id_=request.id, saved=request.saved_query,
            expected_version=request.expected_version))

    def GetSavedQuery(self, request: pb.GetSavedQueryRequest, context: Ctx) -> pb.SavedQuery:
        return self.read(lambda session, call: definitions.get_saved(session, principal=call.principal, id_=request.id))

    def ListSavedQueries(self, request: pb.ListSavedQueriesRequest, context: Ctx) -> pb.SavedQueryList:
        return self.read(lambda session, call: definitions.list_saved(session, principal=call.principal))

    def DeleteSavedQuery(self, request: pb.DeleteSavedQueryRequest, context: Ctx) -> pb.DeleteSavedQueryResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteSavedQueryResponse:
            definitions.delete_definition(uow.session, principal=call.principal, table=saved_queries, id_=request.id,
                                          what="saved query", expected_version=request.expected_version)
            return pb.DeleteSavedQueryResponse()
        return self.write(request, pb.DeleteSavedQueryResponse, delete)

    def RunSavedQuery(self, request: pb.RunSavedQueryRequest, context: Ctx) -> pb.QueryResult:
        return self.read(lambda session, call: definitions.run_saved(session, principal=call.principal, id_=request.id))

    def CreateDashboard(self, request: pb.CreateDashboardRequest, context: Ctx) -> pb.Dashboard:
        return self.write(request, pb.Dashboard, lambda uow, call: definitions.save_dashboard(
            uow.session, principal=call.principal, now=call.now, id_="", dashboard=request.dashboard))

    def UpdateDashboard(self, request: pb.UpdateDashboardRequest, context: Ctx) -> pb.Dashboard:
        return self.write(request, pb.Dashboard, lambda uow, call: definitions.save_dashboard(
            uow.session, principal=call.principal, now=call.now, id_=request.id, dashboard=request.dashboard,
            expected_version=request.expected_version))

    def GetDashboard(self, request: pb.GetDashboardRequest, context: Ctx) -> pb.Dashboard:
        return self.read(lambda session, call: definitions.get_dashboard(
            session, principal=call.principal, id_=request.id))

    def ListDashboards(self, request: pb.ListDashboardsRequest, context: Ctx) -> pb.DashboardList:
        return self.read(lambda session, call: definitions.list_dashboards(
            session, principal=call.principal, page_size=request.page.page_size, page_token=request.page.page_token))

    def DeleteDashboard(self, request: pb.DeleteDashboardRequest, context: Ctx) -> pb.DeleteDashboardResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteDashboardResponse:
            definitions.delete_definition(uow.session, principal=call.principal, table=dashboards, id_=request.id,
                                          what="dashboard", expected_version=request.expected_version)
            return pb.DeleteDashboardResponse()
        return self.write(request, pb.DeleteDashboardResponse, delete)

    def RenderDashboard(self, request: pb.RenderDashboardRequest, context: Ctx) -> pb.DashboardView:
        return self.read(lambda session, call: definitions.render(session, principal=call.principal, id_=request.id))

    def DrillDownWidget(self, request: pb.DrillDownWidgetRequest, context: Ctx) -> pb.DrillDownResult:
        return self.read(lambda session, call: definitions.drill_widget(
            session, principal=call.principal, request=request))

    def PutTargets(self, request: pb.PutTargetsRequest, context: Ctx) -> pb.TargetList:
        return self.write(request, pb.TargetList, lambda uow, call: targets.put_targets(
            uow.session, principal=call.principal, now=call.now, request=request))

    def ListTargets(self, request: pb.ListTargetsRequest, context: Ctx) -> pb.TargetList:
        return self.read(lambda session, call: targets.list_targets(session, principal=call.principal, request=request))
