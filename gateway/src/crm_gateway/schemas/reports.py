"""Reporting shapes (crm.reporting.v1): the read models' summaries and their filters."""
from __future__ import annotations

from crm.reporting.v1 import reporting_pb2 as pb
from crm_gateway.routing import QueryParam
from crm_gateway.schemas import REGISTRY

CUSTOMER_COUNTS = REGISTRY.message(pb.CustomerCounts)
SALES_SUMMARY = REGISTRY.message(pb.SalesSummary)
SUPPORT_SUMMARY = REGISTRY.message(pb.SupportSummary)

CUSTOMER_PARAMS = (
    QueryParam("from_day", "date", "first day, inclusive (UTC)"),
    QueryParam("to_day", "date", "last day, inclusive (UTC)"),
    QueryParam("region"),
    QueryParam("tag", description="only customers carrying this tag"),
)
SALES_PARAMS = (QueryParam("region"),)
SUPPORT_PARAMS = (
    QueryParam("from_day", "date", "first day of the CSAT trend, inclusive (UTC)"),
    QueryParam("to_day", "date", "last day of the CSAT trend, inclusive (UTC)"),
)
