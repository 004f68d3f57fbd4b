"""The picklist vocabulary over real NATS: an admin adds a source in contacts (its owner), and
once crm.contacts.picklist.updated reached sales a lead with that source is accepted there, with
no call from sales to contacts; sales keeps the vocabulary in its own database, so a restarted
sales checks leads against it at once; a retirement reaches sales the same way. Both real
services in-process, one nats-server; sales on SQLite and on PostgreSQL when reachable."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from crm.common.v1.picklists_pb2 import Picklist, PicklistValue
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import picklists_pb2 as ppb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.contacts.v1.picklists_pb2_grpc import PicklistAdminStub
from crm.sales.v1 import sales_pb2 as spb
from crm.sales.v1.sales_pb2_grpc import SalesServiceStub
from crm_contacts import bootstrap as contacts_bootstrap
from crm_devtools.users import DEMO_USERS
from crm_sales import bootstrap as sales_bootstrap
from crm_sales.ports import GrpcContacts
from crmkit import picklists
from crmkit.errors import decode_field
from crmkit.testing import ServiceHarness, wait_for

pytestmark = pytest.mark.integration
SECRET = "picklists-integration-secret-0123456789abcdef"


@pytest.fixture
def services(database_url: str, nats_server: Any, tmp_path: Path) -> Iterator[tuple[ServiceHarness, ServiceHarness]]:
    (tmp_path / "contacts").mkdir()
    (tmp_path / "sales").mkdir()
    contacts = ServiceHarness("contacts", contacts_bootstrap.spec, url=f"sqlite:///{tmp_path / 'contacts.db'}",
                              nats_url=nats_server.url, tmp=tmp_path / "contacts", secret=SECRET, users=DEMO_USERS)
    contacts.migrate().start()
    sales = ServiceHarness("sales", sales_bootstrap.spec, url=database_url, nats_url=nats_server.url,
                           tmp=tmp_path / "sales", secret=SECRET, users=DEMO_USERS,
                           contacts=lambda: GrpcContacts(contacts.address))
    sales.migrate().start()
    try:
        yield contacts, sales
    finally:
        sales.stop()
        contacts.stop()


def _sources(*, retired: bool = False) -> Picklist:
    values = [PicklistValue(key=k) for k in picklists.SOURCES]
    values.append(PicklistValue(key="webinar", label_zh="线上研讨会", label_en="Webinar", retired=retired))
    return Picklist(name="source", values=values, restricted=True)


def _lead(sales: ServiceHarness, name: str) -> spb.Lead | str:
    """The lead with source webinar, or the field sales refused."""
    try:
        return sales.as_user("rep.north.1", SalesServiceStub).CreateLead(spb.CreateLeadRequest(
            lead=spb.Lead(name=name, company="线上研讨会客户", source="webinar")))
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        trailers = dict(exc.trailing_metadata() or ())
        return decode_field(str(trailers.get("crm-error-field", "")))


def test_a_source_added_in_contacts_is_valid_for_leads_in_sales_after_the_event(services) -> None:
    contacts, sales = services
    assert _lead(sales, "王芳") == "source"  # not a source yet
    admin = contacts.as_user("admin", PicklistAdminStub)
    document = admin.UpdatePicklist(ppb.UpdatePicklistRequest(picklist=_sources()))
    changed_at = time.monotonic()
    assert document.version == 1
    # contacts checks its own writes against it at once
    contact = contacts.as_user("rep.north.1", ContactsServiceStub).CreateContact(cpb.CreateContactRequest(
        contact=cpb.Contact(name="王芳", source="webinar")))
    assert contact.source == "webinar"

    accepted: list[spb.Lead] = []

    def lead_accepted() -> bool:
        got = _lead(sales, "王芳")
        if isinstance(got, spb.Lead):
            accepted.append(got)
        return bool(accepted)

    wait_for(lead_accepted, 30, 0.05, what="the vocabulary to reach sales")
    print(f"\nthe change reached sales in {time.monotonic() - changed_at:.2f} s (polled every 0.05 s)")
    assert accepted[0].source == "webinar"

    sales.restart()  # the copy is durable: no event needed to know webinar after a restart
    assert isinstance(_lead(sales, "李雷"), spb.Lead)

    admin.UpdatePicklist(ppb.UpdatePicklistRequest(picklist=_sources(retired=True), expected_version=1))
    wait_for(lambda: _lead(sales, "赵强") == "source", 30, 0.2, what="the retirement to reach sales")
    kept = sales.as_user("rep.north.1", SalesServiceStub).GetLead(spb.GetLeadRequest(id=accepted[0].id))
    assert kept.source == "webinar"  # an existing lead keeps its retired source
