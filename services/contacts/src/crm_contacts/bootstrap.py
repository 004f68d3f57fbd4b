"""Composition root of the contacts service."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_contacts.servicer import ContactsServicer
from crmkit.config import ServiceSettings
from crmkit.db import Database
from crmkit.service import Registration, ServiceSpec


def build(db: Database, settings: ServiceSettings) -> Sequence[Registration]:
    servicer = ContactsServicer(db)
    return [lambda server: contacts_pb2_grpc.add_ContactsServiceServicer_to_server(servicer, server)]


SPEC = ServiceSpec(
    name="contacts",
    migrations=Path(__file__).parent / "migrations",
    service_names=[contacts_pb2.DESCRIPTOR.services_by_name["ContactsService"].full_name],
    build=build,
)
