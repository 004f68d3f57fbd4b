"""Composition root of the reporting service: consumes every producer's stream into read models."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_reporting import projection
from crm_reporting.servicer import ReportingServicer
from crmkit.config import ServiceSettings
from crmkit.consumer import Handler
from crmkit.db import Database
from crmkit.service import Registration, ServiceSpec


def build(db: Database, settings: ServiceSettings) -> Sequence[Registration]:
    servicer = ReportingServicer(db)
    return [lambda server: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server)]


def handler(db: Database, settings: ServiceSettings) -> Handler:
    return projection.handle


SPEC = ServiceSpec(
    name="reporting",
    migrations=Path(__file__).parent / "migrations",
    service_names=[reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name],
    build=build,
    consumes=("contacts", "sales", "support"),
    handler=handler,
    produces=False,
)
