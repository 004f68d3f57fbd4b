"""Custom-field definitions and reports: /api/v1/custom-fields, /api/v1/reports/*."""
from __future__ import annotations

from flask import Response

from crm.contacts.v1 import contacts_pb2 as pb
from crm.reporting.v1 import reporting_pb2
from crm_gateway.problems import invalid_field
from crm_gateway.routing import (
    API,
    Call,
    QueryParam,
    Route,
    json_response,
    metadata,
    page_response,
    resource_response,
    state,
)
from crm_gateway.schema import to_message
from crm_gateway.serialize import to_json
from crm_gateway.shapes import CUSTOM_FIELD, CUSTOM_FIELD_LIST, CUSTOMER_COUNTS, REGISTRY

SALES_SUMMARY = REGISTRY.message(reporting_pb2.SalesSummary.DESCRIPTOR)
SUPPORT_SUMMARY = REGISTRY.message(reporting_pb2.SupportSummary.DESCRIPTOR)

ENTITY = QueryParam("entity", description="contact | account; all when omitted",
                    choices=("contact", "account"))
REPORT_PARAMS = (
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


def list_custom_fields(c: Call) -> Response:
    request = pb.ListCustomFieldsRequest(entity=c.query.get("entity", ""))
    answer = state().backends.contacts.call("ListCustomFields", request, metadata=metadata())
    return page_response(answer.definitions)


def define_custom_field(c: Call) -> Response:
    definition = to_message(c.body, pb.CustomFieldDefinition())
    request = pb.DefineCustomFieldRequest(definition=definition)
    defined = state().backends.contacts.call("DefineCustomField", request, metadata=metadata())
    return resource_response(defined, status=201)


def customer_counts(c: Call) -> Response:
    from_day, to_day = c.query.get("from_day", ""), c.query.get("to_day", "")
    if from_day and to_day and from_day > to_day:
        raise invalid_field("to_day", "must not be before from_day")
    request = reporting_pb2.GetCustomerCountsRequest(
        from_day=from_day, to_day=to_day, region=c.query.get("region", ""),
        tag=c.query.get("tag", ""),
    )
    counts = state().backends.reporting.call("GetCustomerCounts", request, metadata=metadata())
    return json_response(to_json(counts))


def sales_summary(c: Call) -> Response:
    request = reporting_pb2.GetSalesSummaryRequest(region=c.query.get("region", ""))
    summary = state().backends.reporting.call("GetSalesSummary", request, metadata=metadata())
    return json_response(to_json(summary))


def support_summary(c: Call) -> Response:
    from_day, to_day = c.query.get("from_day", ""), c.query.get("to_day", "")
    if from_day and to_day and from_day > to_day:
        raise invalid_field("to_day", "must not be before from_day")
    request = reporting_pb2.GetSupportSummaryRequest(from_day=from_day, to_day=to_day)
    summary = state().backends.reporting.call("GetSupportSummary", request, metadata=metadata())
    return json_response(to_json(summary))


ROUTES: list[Route] = [
    Route("GET", f"{API}/custom-fields", list_custom_fields, "listCustomFields",
          "Custom-field definitions", "custom-fields",
          response=CUSTOM_FIELD_LIST, query=(ENTITY,)),
    Route("POST", f"{API}/custom-fields", define_custom_field, "defineCustomField",
          "Define a custom field for contacts or accounts", "custom-fields",
          body=CUSTOM_FIELD, response=CUSTOM_FIELD, status=201),
    Route("GET", f"{API}/reports/customers", customer_counts, "getCustomerCounts",
          "Customer counts by source, region, level and tag, and new customers per day",
          "reports", response=CUSTOMER_COUNTS, query=REPORT_PARAMS),
    Route("GET", f"{API}/reports/sales", sales_summary, "getSalesSummary",
          "Open pipeline by stage, won deals per month, win rate and leads by source",
          "reports", response=SALES_SUMMARY, query=SALES_PARAMS),
    Route("GET", f"{API}/reports/support", support_summary, "getSupportSummary",
          "Tickets by status and priority, SLA breaches, response and resolution times, CSAT trend",
          "reports", response=SUPPORT_SUMMARY, query=SUPPORT_PARAMS),
]
