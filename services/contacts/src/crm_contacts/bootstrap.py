"""Composition root of the contacts service. Nothing is built at import: `spec()` describes the
service, and its `compose(db, settings)` builds one process's parts when the runtime starts."""
from __future__ import annotations

from pathlib import Path

import grpc

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_contacts import handlers
from crm_contacts.search.customer_search import CustomerSearch
from crm_contacts.servicer import ContactsServicer
from crmkit.config import ServiceSettings
from crmkit.db import Database
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = contacts_pb2.DESCRIPTOR.services_by_name["ContactsService"].full_name


def spec(*, clock: Clock = system_clock) -> ServiceSpec:
    """The contacts service; tests pass a clock."""

    def compose(db: Database, settings: ServiceSettings) -> Components:
        # One search index per process, shared by the servicer (queries, rebuilds), the outbox
        # relay (its own published events feed it) and the runtime, which starts it before the
        # relay (start decides whether to rebuild) and stops it after (so no write is owed).
        search = CustomerSearch.from_settings(db, settings, clock=clock)
        servicer = ContactsServicer(db, search, clock)

        def register(server: grpc.Server) -> None:
            contacts_pb2_grpc.add_ContactsServiceServicer_to_server(servicer, server)

        return Components(servicers=[register], handler=handlers.make_handler(clock),
                          on_published=search.apply_published, workers=[search])

    return ServiceSpec(
        name="contacts",
        migrations=MIGRATIONS,
        service_names=[SERVICE_NAME],
        compose=compose,
        # Sales and support events feed the timeline and move customers on a transfer; its own
        # events reach the search index from its outbox relay (no round trip through NATS).
        consumes=("sales", "support"),
        wants=handlers.wants,
    )
