from __future__ import annotations

from typing import Any

from crm.reporting.v1 import reporting_pb2 as pb
from crm.reporting.v1.reporting_pb2_grpc import ReportingServiceServicer
from crm_reporting.queries import customer_counts, sales_summary, support_summary
from crmkit.auth import current_principal
from crmkit.db import Database


class ReportingServicer(ReportingServiceServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    def GetCustomerCounts(self, request: pb.GetCustomerCountsRequest, context: Any) -> pb.CustomerCounts:
        with self.db.read() as session:
            return customer_counts(session, current_principal(), request)

    def GetSalesSummary(self, request: pb.GetSalesSummaryRequest, context: Any) -> pb.SalesSummary:
        with self.db.read() as session:
            return sales_summary(session, current_principal(), request)

    def GetSupportSummary(self, request: pb.GetSupportSummaryRequest, context: Any) -> pb.SupportSummary:
        with self.db.read() as session:
            return support_summary(session, current_principal(), request)
