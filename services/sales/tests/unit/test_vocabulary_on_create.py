"""Issue 13, "nothing the user typed is lost", on sales' create paths: a value sales fills in
itself (a converted lead's customer stage, level and source, a lead's default source) is never a
key an administrator retired (contacts would refuse the new customer and the conversion would
fail), and what a visitor typed into a marketing form's industry or source is mapped to the key
it names (a key or a label, zh-CN or en, any case) or kept as typed in the notes, never refused,
whether or not the list is restricted."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crm.common.v1.picklists_pb2 import Picklist, Picklists, PicklistValue
from crm.sales.v1.sales_pb2 import ConvertLeadRequest, Lead
from crm_sales import handlers
from crm_sales.usecases import conversion, leads
from crmkit import picklists
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.events import new_event, parse_envelope
from services.sales.tests.fakes import FakeContactsPort

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")
MARKETING = Principal("marketing.1", ("marketing",), "marketing", "")


def retire(document: Picklists, name: str, *keys: str, restricted: bool = True) -> Picklists:
    """`document` with `keys` of picklist `name` retired (as an administrator does in contacts)."""
    [current] = [p for p in document.picklists if p.name == name]
    values = [PicklistValue(key=v.key, retired=v.retired or v.key in keys) for v in current.values]
    changed = picklists.updated(document, Picklist(name=name, values=values, restricted=restricted))
    changed.version = document.version + 1
    return changed


def hear(sales: Any, document: Picklists) -> None:
    """Sales hears of the administrator's change (crm.contacts.picklist.updated)."""
    envelope = new_event(producer="contacts", event_type=handlers.CONTACTS.PICKLIST_UPDATED, aggregate_type="picklist",
                         aggregate_id="picklists", aggregate_version=document.version, payload=document)
    sales.write(lambda uow: handlers.handle(uow, parse_envelope(envelope.data), now=NOW))


def convert(sales: Any, contacts: FakeContactsPort, **fields: Any) -> Any:
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="赵强", company="天津重工", **fields)))
    sales.write(lambda uow: leads.change_status(uow, principal=REP1, now=NOW, lead_id=lead.id, status="qualified",
                                                reason="", expected=0))
    request = ConvertLeadRequest(id=lead.id)
    customer = sales.read(lambda s: conversion.prepare(s, contacts, principal=REP1, now=NOW, authorization="",
                                                       request=request))
    return sales.write(lambda uow: conversion.convert(uow, principal=REP1, now=NOW, request=request,
                                                      customer=customer))


def test_a_converted_lead_becomes_a_prospect_while_the_admin_keeps_that_stage(sales: Any) -> None:
    contacts = FakeContactsPort()
    done = convert(sales, contacts, source="trade_show", industry="manufacturing")
    contact, account = contacts.contacts[done.contact_id], contacts.accounts[done.account_id]
    assert (contact.lifecycle_stage, contact.source, contact.industry) == ("prospect", "trade_show", "manufacturing")
    assert (account.level, account.source) == ("prospect", "trade_show")


def test_a_retired_prospect_stage_level_and_source_never_reach_the_new_customer(sales: Any) -> None:
    document = retire(picklists.defaults(), "lifecycle_stage", "lead", "prospect")
    document = retire(document, "level", "prospect")
    # the admin's own first stage, listed first
    [stages] = [p for p in document.picklists if p.name == "lifecycle_stage"]
    stages.values.insert(2, PicklistValue(key="sql", label_zh="销售认可线索", label_en="Sales qualified"))
    lead_doc = retire(document, "source", "trade_show")
    contacts = FakeContactsPort()
    hear(sales, retire(picklists.defaults(), "source"))  # version 1: nothing retired yet
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="赵强", company="天津重工", source="trade_show")))
    hear(sales, lead_doc)  # version 2: trade_show, prospect (stage and level) and lead retired
    sales.write(lambda uow: leads.change_status(uow, principal=REP1, now=NOW, lead_id=lead.id, status="qualified",
                                                reason="", expected=0))
    request = ConvertLeadRequest(id=lead.id)
    customer = sales.read(lambda s: conversion.prepare(s, contacts, principal=REP1, now=NOW, authorization="",
                                                       request=request))
    done = sales.write(lambda uow: conversion.convert(uow, principal=REP1, now=NOW, request=request,
                                                      customer=customer))
    contact, account = contacts.contacts[done.contact_id], contacts.accounts[done.account_id]
    assert contact.lifecycle_stage == "sql"  # the first stage still active, in the admin's order
    assert account.level == ""  # no level is guessed
    assert contact.source == account.source == "other"  # the lead keeps its retired trade_show
    assert done.lead.source == "trade_show"
    vocabulary = picklists.Vocabulary(lead_doc)  # what contacts checks a new record against
    vocabulary.check_fields(contact, {"source": "source", "lifecycle_stage": "lifecycle_stage"})
    vocabulary.check_fields(account, {"source": "source", "level": "level"})


def test_a_lead_without_a_source_gets_an_active_default_for_its_channel(sales: Any) -> None:
    hear(sales, retire(picklists.defaults(), "source", "api", "web_form"))
    typed = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="钱敏")))
    assert typed.source == "other"
    captured = sales.write(lambda uow: leads.create_lead(uow, principal=MARKETING, now=NOW, lead=Lead(name="孙丽"),
                                                         channel="web_form"))
    assert captured.source == "website"
    imported = sales.write(lambda uow: leads.import_leads(uow, principal=REP1, now=NOW, text="name\n周杰\n",
                                                          default_source=""))
    assert imported.created == 1 and not imported.failed


def capture(sales: Any, **fields: Any) -> Lead:
    return sales.write(lambda uow: leads.create_lead(uow, principal=MARKETING, now=NOW, lead=Lead(**fields),
                                                     channel="web_form"))


@pytest.mark.parametrize("restricted", [True, False])
def test_a_form_s_industry_is_mapped_by_key_or_label_or_kept_as_typed_and_never_refused(
        sales: Any, restricted: bool) -> None:
    hear(sales, retire(picklists.defaults(), "industry", "retail", restricted=restricted))
    assert capture(sales, name="赵强", industry="软件和信息技术").industry == "software"
    assert capture(sales, name="钱敏", industry="  Manufacturing ").industry == "manufacturing"
    odd = capture(sales, name="孙丽", industry="造船 与 海工", notes="表单 Form: 展会报名")
    if restricted:
        assert odd.industry == "" and odd.notes == "表单 Form: 展会报名\nindustry:造船 与 海工"
    else:  # the list takes any text: it is the industry itself
        assert odd.industry == "造船 与 海工" and odd.notes == "表单 Form: 展会报名"
    retired = capture(sales, name="周杰", industry="零售")  # retired: not for a new lead, kept as typed
    assert (retired.industry, retired.notes) == (("", "industry:零售") if restricted else ("零售", ""))


def test_a_form_s_unknown_source_is_kept_and_the_lead_gets_the_channel_s_source(sales: Any) -> None:
    hear(sales, retire(picklists.defaults(), "source", "web_form"))
    lead = capture(sales, name="赵强", source="web_form")
    assert (lead.source, lead.notes) == ("website", "source:web_form")
    assert capture(sales, name="钱敏", source="Trade show").source == "trade_show"


def test_the_lead_api_itself_still_refuses_what_the_list_does_not_hold(sales: Any) -> None:
    hear(sales, retire(picklists.defaults(), "industry", restricted=True))
    with pytest.raises(InvalidArgument) as err:
        sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="赵强",
                                                                                          industry="造船")))
    assert err.value.field == "industry"
