"""What the top README shows a user typing: a stage by its Chinese label as well as by its key, and
a lead with the same `source` vocabulary as contacts (the shared picklist), kept on conversion."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import ConvertLeadRequest, Lead, Opportunity, OpportunityFilter, Pipeline, Stage
from crm_sales.rules import pipeline
from crm_sales.usecases import conversion, leads, opportunities
from crmkit import picklists
from crmkit.auth import Principal
from crmkit.errors import FailedPrecondition, InvalidArgument
from services.sales.tests.fakes import FakeContactsPort

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")


def new_opp(sales: Any, **fields: Any) -> Opportunity:
    opp = Opportunity(name="唐山钢铁 MES", amount=Money(currency_code="CNY", amount="100000"), **fields)
    return sales.write(lambda uow: opportunities.create(uow, principal=REP1, now=NOW, opp=opp))


def stage(sales: Any, opp: Opportunity, key: str) -> Opportunity:
    return sales.write(lambda uow: opportunities.change_stage(uow, principal=REP1, now=NOW, opp_id=opp.id,
                                                              stage_key=key, expected=0, loss_reason=""))


def test_a_stage_given_by_its_label_moves_the_deal_to_that_stage_and_stores_the_key(sales: Any) -> None:
    opp = new_opp(sales, contact_id="c-1")
    moved = stage(sales, opp, "需求确认")
    assert (moved.stage, moved.probability) == ("needs_confirmed", 20)
    with pytest.raises(FailedPrecondition, match="budget") as err:   # the README's refused example
        stage(sales, moved, "方案演示")
    assert err.value.field == "budget"


def test_an_unknown_stage_is_refused_listing_keys_and_labels(sales: Any) -> None:
    opp = new_opp(sales, contact_id="c-1")
    with pytest.raises(InvalidArgument, match=r"needs_confirmed \(需求确认\)") as err:
        stage(sales, opp, "需求確認")   # traditional characters: not a label of this pipeline
    assert err.value.field == "stage"


def test_the_deal_list_filters_by_a_stage_label_as_by_its_key(sales: Any) -> None:
    moved = stage(sales, new_opp(sales, contact_id="c-1"), "needs_confirmed")
    new_opp(sales, contact_id="c-2")

    def listed(value: str) -> list[str]:
        found, _ = sales.read(lambda s: opportunities.list_opportunities(
            s, principal=REP1, now=NOW, flt=OpportunityFilter(stage=value), page_size=50, page_token=""))
        return [o.id for o in found]

    assert listed("需求确认") == listed("needs_confirmed") == [moved.id]
    with pytest.raises(InvalidArgument) as err:  # a typo is refused, not an empty list
        listed("需求確認")
    assert err.value.field == "stage"


def test_a_key_wins_over_a_label_and_a_shared_label_names_no_stage() -> None:
    pipe = Pipeline(id="p", stages=[Stage(key="demo", name="won"), Stage(key="won", name="成交"),
                                    Stage(key="a", name="同名"), Stage(key="b", name="同名")])
    assert pipeline.find_stage(pipe, "won").key == "won"
    assert pipeline.find_stage(pipe, " 成交 ").key == "won"
    with pytest.raises(InvalidArgument, match="a, b are all called"):
        pipeline.find_stage(pipe, "同名")


def test_a_lead_takes_the_customer_sources_and_refuses_others_naming_them(sales: Any) -> None:
    for source in ("website", "trade_show", "web_form", "marketing_qualified"):
        lead = sales.write(lambda uow, s=source: leads.create_lead(uow, principal=REP1, now=NOW,
                                                                   lead=Lead(name="李雷", source=s)))
        assert lead.source == source
    with pytest.raises(InvalidArgument, match="website, web_form, trade_show") as err:
        sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="李雷", source="Website")))
    assert err.value.field == "source"
    assert "website" in picklists.SOURCES and "trade_show" in picklists.SOURCES


def test_the_converted_customer_keeps_the_leads_source(sales: Any) -> None:
    contacts = FakeContactsPort()
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="李雷", company="天津港集团", email="li.lei@tjport.example", source="trade_show")))
    sales.write(lambda uow: leads.change_status(uow, principal=REP1, now=NOW, lead_id=lead.id,
                                                status="qualified", reason="", expected=0))
    request = ConvertLeadRequest(id=lead.id)
    customer = sales.read(lambda s: conversion.prepare(s, contacts, principal=REP1, now=NOW, authorization="",
                                                       request=request))
    done = sales.write(lambda uow: conversion.convert(uow, principal=REP1, now=NOW, request=request,
                                                      customer=customer))
    assert contacts.contacts[done.contact_id].source == "trade_show"
    assert contacts.accounts[done.account_id].source == "trade_show"
