"""Composition root of the contacts service."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from weakref import WeakKeyDictionary

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_contacts.customer_search import CustomerSearch
from crm_contacts.event_handler import make_handler, wants
from crm_contacts.servicer import ContactsServicer
from crmkit.bus import LoopThread
from crmkit.config import ServiceSettings
from crmkit.consumer import Handler
from crmkit.db import Database
from crmkit.outbox import Published
from crmkit.service import Registration, ServiceSpec

# The servicer, the outbox relay and the shutdown hook share one search index per runtime; the spec's
# factories only get (db, settings), so the runtime's Database is the key.
_searches: WeakKeyDictionary[Database, CustomerSearch] = WeakKeyDictionary()


def customer_search(db: Database, settings: ServiceSettings) -> CustomerSearch:
    search = _searches.get(db)
    if search is None:
        search = _searches[db] = CustomerSearch.from_settings(db, settings)
        search.start()  # before the relay writes: start decides whether to rebuild
    return search


def build(db: Database, settings: ServiceSettings) -> Sequence[Registration]:
    servicer = ContactsServicer(db, customer_search(db, settings))
    return [lambda server: contacts_pb2_grpc.add_ContactsServiceServicer_to_server(servicer, server)]


def handler(db: Database, settings: ServiceSettings) -> Handler:
    return make_handler()


def index_published(db: Database, settings: ServiceSettings) -> Callable[[Published], None]:
    return customer_search(db, settings).apply_published


def close_search(db: Database, settings: ServiceSettings, _loop: LoopThread) -> Callable[[], None]:
    return customer_search(db, settings).close


SPEC = ServiceSpec(
    name="contacts",
    migrations=Path(__file__).parent / "migrations",
    service_names=[contacts_pb2.DESCRIPTOR.services_by_name["ContactsService"].full_name],
    build=build,
    # Its own events reach the search index from its outbox relay, once published (no round trip
    # through NATS); sales and support events feed the timeline and move customers on a transfer.
    consumes=("sales", "support"),
    handler=handler,
    wants=wants,
    on_published=index_published,
    extra_workers=(close_search,),
)
