"""The series an operator alerts on: a lead's response time (created → its owner's first call,
mail or meeting) and the time a deal sat in a stage, each observed once the change committed."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm_sales.usecases import leads, opportunities
from crmkit.auth import Principal

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _activity(uow: Any, lead_id: str, at: datetime) -> Lead:
    return leads.record_activity(uow, principal=REP1, now=at, lead_id=lead_id, kind="call", count=1, occurred_at=None)


def test_the_first_response_to_a_lead_is_observed_once_and_a_rollback_observes_nothing(sales: Any) -> None:
    source = "trade_show"
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="周杰", company="唐山钢铁", source=source)))
    count, total = (_sample(f"crm_sales_lead_response_seconds_{s}", source=source) for s in ("count", "sum"))

    with pytest.raises(RuntimeError), sales.db.unit_of_work() as uow:  # the transaction fails after the call
        _activity(uow, lead.id, NOW + timedelta(minutes=10))
        raise RuntimeError("the commit never happens")
    assert _sample("crm_sales_lead_response_seconds_count", source=source) == count

    sales.write(lambda uow: _activity(uow, lead.id, NOW + timedelta(minutes=30)))
    sales.write(lambda uow: _activity(uow, lead.id, NOW + timedelta(hours=5)))  # not a first response
    assert _sample("crm_sales_lead_response_seconds_count", source=source) == count + 1
    assert _sample("crm_sales_lead_response_seconds_sum", source=source) == total + 1800
    assert _sample("crm_sales_lead_response_seconds_bucket", source=source, le="1800.0") >= 1


def test_the_time_a_deal_sat_in_a_stage_is_observed_when_it_moves_on(sales: Any) -> None:
    opp = sales.write(lambda uow: opportunities.create(uow, principal=REP1, now=NOW, opp=Opportunity(
        name="沧州化工 ERP", amount=Money(currency_code="CNY", amount="80000"), contact_id="c-1")))
    before = _sample("crm_sales_opportunity_stage_age_seconds_count", stage=opp.stage)
    total = _sample("crm_sales_opportunity_stage_age_seconds_sum", stage=opp.stage)
    sales.write(lambda uow: opportunities.change_stage(uow, principal=REP1, now=NOW + timedelta(days=3), opp_id=opp.id,
                                                       stage_key="needs_confirmed", expected=0, loss_reason=""))
    assert _sample("crm_sales_opportunity_stage_age_seconds_count", stage=opp.stage) == before + 1
    assert _sample("crm_sales_opportunity_stage_age_seconds_sum", stage=opp.stage) == total + 3 * 24 * 3600
