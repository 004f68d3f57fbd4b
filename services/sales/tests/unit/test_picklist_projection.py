"""Sales checks leads against its own copy of the picklists contacts owns: the copy follows
crm.contacts.picklist.updated (newest version wins, so a late or repeated event changes nothing),
lives in sales' database (a restart keeps it), and a lead's source or industry is checked as
contacts checks a customer's: an added key accepted, a retired one refused on new writes naming
the field, kept on the leads that hold it and found by the list filter."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crm.common.v1.picklists_pb2 import Picklist, Picklists, PicklistValue
from crm.sales.v1.sales_pb2 import Lead, LeadFilter
from crm_sales import handlers
from crm_sales.store.picklists import PICKLISTS
from crm_sales.usecases import leads
from crmkit import picklists
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.events import new_event, parse_envelope

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")


def vocabulary(version: int, *, webinar_retired: bool = False) -> Picklists:
    values = [PicklistValue(key=k) for k in picklists.SOURCES]
    values.append(PicklistValue(key="webinar", label_zh="线上研讨会", label_en="Webinar", retired=webinar_retired))
    document = picklists.updated(picklists.defaults(), Picklist(name="source", values=values, restricted=True))
    document.version = version
    return document


def hear(sales: Any, document: Picklists) -> None:
    envelope = new_event(producer="contacts", event_type=handlers.CONTACTS.PICKLIST_UPDATED, aggregate_type="picklist",
                         aggregate_id="picklists", aggregate_version=document.version, payload=document)
    assert handlers.wants(handlers.CONTACTS.PICKLIST_UPDATED)
    sales.write(lambda uow: handlers.handle(uow, parse_envelope(envelope.data), now=NOW))


def capture(sales: Any, **fields: Any) -> Lead:
    return sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(**fields)))


def test_a_source_added_in_contacts_is_accepted_for_a_lead_once_sales_heard_of_it(sales: Any) -> None:
    with pytest.raises(InvalidArgument) as err:
        capture(sales, name="王芳", source="webinar")
    assert err.value.field == "source"
    hear(sales, vocabulary(1))
    assert capture(sales, name="王芳", source="webinar").source == "webinar"
    assert sales.read(PICKLISTS.current).version == 1  # kept in sales' own database


def test_a_retired_source_is_refused_on_new_leads_and_kept_on_old_ones(sales: Any) -> None:
    hear(sales, vocabulary(1))
    old = capture(sales, name="王芳", source="webinar")
    hear(sales, vocabulary(2, webinar_retired=True))
    with pytest.raises(InvalidArgument) as err:
        capture(sales, name="李雷", source="webinar")
    assert err.value.field == "source" and "retired" in err.value.message and "website" in err.value.message
    kept = sales.write(lambda uow: leads.update_lead(uow, principal=REP1, now=NOW, patch=Lead(id=old.id, title="经理"),
                                                     mask=["title"], expected=old.version))
    assert (kept.source, kept.title) == ("webinar", "经理")
    found, _ = sales.read(lambda s: leads.list_leads(s, principal=REP1, now=NOW, flt=LeadFilter(source="webinar"),
                                                     page_size=10, page_token=""))
    assert [lead.id for lead in found] == [old.id]


def test_an_older_or_repeated_vocabulary_changes_nothing(sales: Any) -> None:
    hear(sales, vocabulary(3, webinar_retired=True))
    hear(sales, vocabulary(2))  # late: webinar stays retired
    with pytest.raises(InvalidArgument):
        capture(sales, name="李雷", source="webinar")
    assert sales.read(PICKLISTS.current).version == 3


def test_an_industry_is_free_text_until_the_list_is_restricted(sales: Any) -> None:
    assert capture(sales, company="天津重工", industry="重型机械").industry == "重型机械"
    values = [PicklistValue(key=k) for k in picklists.INDUSTRIES]
    document = picklists.updated(picklists.defaults(), Picklist(name="industry", values=values, restricted=True))
    document.version = 1
    hear(sales, document)
    with pytest.raises(InvalidArgument) as err:
        capture(sales, company="天津重工", industry="重型机械")
    assert err.value.field == "industry"
    assert capture(sales, company="天津重工", industry="manufacturing").industry == "manufacturing"
