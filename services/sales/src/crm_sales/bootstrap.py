"""The composition root of the sales service. `spec()` describes the service; its `compose` builds,
for one process, the servicer with the contacts port, the handler of the CONTACTS stream, and
the scheduler. Nothing is built or read from the environment before `compose` runs; tests pass
a clock, a contacts port and a scheduler interval."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc

from crm.common.v1 import imports_pb2_grpc
from crm.privacy.v1 import privacy_pb2, privacy_pb2_grpc
from crm.sales.v1 import sales_pb2, sales_pb2_grpc
from crm_sales import handlers, jobs, metrics
from crm_sales.ports import ContactsPort, GrpcContacts
from crm_sales.servicer import SalesServicer
from crm_sales.usecases import imports, subject
from crmkit.config import ServiceSettings, service_addr
from crmkit.credentials import ServiceCredentials
from crmkit.db import Database
from crmkit.imports import servicer as import_servicer
from crmkit.imports.runner import ImportRunner
from crmkit.privacy import SuppressionList
from crmkit.scheduler import PeriodicWorker
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock

MIGRATIONS = Path(__file__).parent / "migrations"
DATA_SUBJECT = privacy_pb2.DESCRIPTOR.services_by_name["DataSubject"].full_name
POOL_INTERVAL = 300.0  # the pool's rules count days: a scan every five minutes is prompt enough
SERVICE_NAME = sales_pb2.DESCRIPTOR.services_by_name["SalesService"].full_name


def contacts_service() -> ContactsPort:
    """The contacts service at CONTACTS_SERVICE_ADDR (required: conversion creates customers there)."""
    return GrpcContacts(service_addr("contacts"))


def spec(*, clock: Clock = system_clock, contacts: Callable[[], ContactsPort] = contacts_service,
         scheduler_interval: float | None = None, pool_interval: float | None = None) -> ServiceSpec:
    """`scheduler_interval`: seconds between scheduler runs (default: SALES_SCHEDULER_INTERVAL);
    `pool_interval`: between the public pool's scans (default: the scheduler's when given, else
    POOL_INTERVAL)."""

    def compose(db: Database, settings: ServiceSettings) -> Components:
        suppression = SuppressionList.from_env(settings.auth, ServiceCredentials(settings.auth).authorization)
        servicer = SalesServicer(db, contacts(), clock, suppression=suppression)
        data_subject = subject.servicer(db, suppression=suppression)

        # lead and product imports (crmkit.imports): a batch per transaction, resumed after a restart
        importer = ImportRunner("sales-imports", db, clock, kind=imports.KIND,
                                importer=imports.SalesImporter(refuse=servicer.refuse), backpressure=True)

        def register(server: grpc.Server) -> None:
            sales_pb2_grpc.add_SalesServiceServicer_to_server(servicer, server)
            privacy_pb2_grpc.add_DataSubjectServicer_to_server(data_subject, server)
            imports_pb2_grpc.add_ImportsServicer_to_server(
                import_servicer.ImportsServicer(db, imports.KIND, clock, wake=importer.wake), server)

        scheduler = PeriodicWorker("sales-scheduler", lambda now: jobs.run_due(db, now), clock,
                                   scheduler_interval or settings.scheduler_interval)
        # The public pool: its own worker (and lease), as a scan of every team is not a due job.
        pool_worker = PeriodicWorker("sales-pool", lambda now: jobs.return_stale_leads(db, now), clock,
                                     pool_interval or scheduler_interval or POOL_INTERVAL)
        # Scrapes read the open deals' stage ages from this database while the service runs.
        ages = metrics.OpenStageAgesSource(db, clock)
        return Components(servicers=[register], handler=handlers.handler(clock),
                          batch_handler=handlers.batch_handler(clock),
                          workers=[scheduler, pool_worker, ages, importer])

    return ServiceSpec(name="sales", migrations=MIGRATIONS, service_names=[SERVICE_NAME, DATA_SUBJECT, import_servicer.SERVICE_NAME], compose=compose,
                       consumes=("contacts",), wants=handlers.wants)
