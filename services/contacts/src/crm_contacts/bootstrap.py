"""Composition root of the contacts service. Nothing is built at import: `spec()` describes the
service, and its `compose(db, settings)` builds one process's parts when the runtime starts."""
from __future__ import annotations

from pathlib import Path

import grpc

from crm.contacts.v1 import (
    contacts_pb2,
    contacts_pb2_grpc,
    imports_pb2,
    imports_pb2_grpc,
    picklists_pb2,
    picklists_pb2_grpc,
)
from crm.privacy.v1 import privacy_pb2, privacy_pb2_grpc
from crm_contacts import handlers, jobs
from crm_contacts.jobs import pool as pool_jobs
from crm_contacts.jobs.imports import ImportRunner
from crm_contacts.search.customer_search import CustomerSearch
from crm_contacts.servicer import ContactsServicer
from crm_contacts.servicer.imports import ImportsServicer
from crm_contacts.servicer.picklists import PicklistsServicer
from crm_contacts.usecases import subject
from crmkit.config import ServiceSettings
from crmkit.credentials import ServiceCredentials
from crmkit.db import Database
from crmkit.privacy import SuppressionList
from crmkit.scheduler import PeriodicWorker
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock

MIGRATIONS = Path(__file__).parent / "migrations"
POOL_INTERVAL = 300.0  # the pool's rules count days: a scan every five minutes is prompt enough
DATA_SUBJECT = privacy_pb2.DESCRIPTOR.services_by_name["DataSubject"].full_name
SERVICE_NAME = contacts_pb2.DESCRIPTOR.services_by_name["ContactsService"].full_name
IMPORTS_NAME = imports_pb2.DESCRIPTOR.services_by_name["ContactImports"].full_name
PICKLISTS_NAME = picklists_pb2.DESCRIPTOR.services_by_name["PicklistAdmin"].full_name


def spec(*, clock: Clock = system_clock, import_batch_rows: int = 5000, pool_interval: float = POOL_INTERVAL
         ) -> ServiceSpec:
    """The contacts service; tests pass a clock (and smaller import batches, a pool scan interval)."""

    def compose(db: Database, settings: ServiceSettings) -> Components:
        # One search index per process, shared by the servicer (queries, rebuilds), the outbox
        # relay (its own published events feed it) and the runtime, which starts it before the
        # relay (start decides whether to rebuild) and stops it after (so no write is owed).
        search = CustomerSearch.from_settings(db, settings, clock=clock)
        suppression = SuppressionList.from_env(settings.auth, ServiceCredentials(settings.auth).authorization)
        servicer = ContactsServicer(db, search, clock, suppression=suppression)

        def reindex(contact_ids: list[str]) -> None:
            with db.read() as session:
                search.project(session, "contact", contact_ids)  # gone from the database: removed
            search.index.refresh()  # searchable now, not at the next flush: the erasure confirms it

        data_subject = subject.servicer(db, reindex=reindex, suppression=suppression)
        importer = ImportRunner(db, clock, batch_rows=import_batch_rows, suppression=suppression,
                                backpressure=True)  # resumes an interrupted job at start

        def register(server: grpc.Server) -> None:
            contacts_pb2_grpc.add_ContactsServiceServicer_to_server(servicer, server)
            privacy_pb2_grpc.add_DataSubjectServicer_to_server(data_subject, server)
            imports_pb2_grpc.add_ContactImportsServicer_to_server(ImportsServicer(db, clock, wake=importer.wake), server)
            picklists_pb2_grpc.add_PicklistAdminServicer_to_server(PicklistsServicer(db, clock), server)

        # The public pool of customers: a scan per interval, one replica at a time (its lease).
        pool_worker = PeriodicWorker("contacts-pool", lambda now: pool_jobs.return_stale_accounts(db, now), clock,
                                     pool_interval)
        return Components(servicers=[register], handler=handlers.make_handler(clock),
                          on_published=search.apply_published, workers=[search, importer, pool_worker],
                          retention=jobs.RETENTION)  # soft-deleted records (crmkit.retention)

    return ServiceSpec(
        name="contacts",
        migrations=MIGRATIONS,
        service_names=[SERVICE_NAME, DATA_SUBJECT, IMPORTS_NAME, PICKLISTS_NAME],
        compose=compose,
        # Sales and support events feed the timeline and move customers on a transfer; its own
        # events reach the search index from its outbox relay (no round trip through NATS).
        consumes=("sales", "support"),
        wants=handlers.wants,
    )
