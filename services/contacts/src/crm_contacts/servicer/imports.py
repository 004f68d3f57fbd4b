"""gRPC servicer of crm.contacts.v1.ContactImports: crmkit's Imports servicer (the same methods)
over contacts' import kind (usecases/imports.py; the batches run in jobs.imports.ImportRunner)."""
from __future__ import annotations

from collections.abc import Callable

from crm.contacts.v1.imports_pb2_grpc import ContactImportsServicer
from crm_contacts.usecases import imports
from crmkit.db import Database
from crmkit.imports.servicer import ImportsServicer as SharedImports
from crmkit.servicer import Clock, system_clock


class ImportsServicer(SharedImports, ContactImportsServicer):
    def __init__(self, db: Database, clock: Clock = system_clock, *, wake: Callable[[], None] = lambda: None) -> None:
        super().__init__(db, imports.KIND, clock, wake=wake)
