"""The series an operator alerts on: a lead's response time (created → its owner's first call,
mail or meeting) and the time a deal sat in a stage, each observed once the change committed."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm_sales import metrics
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


def test_open_deals_report_how_long_they_have_sat_in_their_stage_and_closed_ones_drop_out(sales: Any) -> None:
    """What a manager asks ("which deals are stuck?"): read from the database when scraped, so a
    deal nobody touches still counts; lost and won deals do not."""
    day = timedelta(days=1)

    def create(name: str, at: datetime) -> Opportunity:
        return sales.write(lambda uow: opportunities.create(uow, principal=REP1, now=at, opp=Opportunity(
            name=name, amount=Money(currency_code="CNY", amount="1000"), contact_id="c-1")))

    def move(opp: Opportunity, stage: str, at: datetime, **kw: str) -> Opportunity:
        return sales.write(lambda uow: opportunities.change_stage(
            uow, principal=REP1, now=at, opp_id=opp.id, stage_key=stage, expected=opp.version,
            loss_reason=kw.get("loss_reason", "")))

    forgotten = create("遗忘的项目", NOW - 40 * day)
    create("新项目", NOW - 2 * day)
    first = forgotten.stage
    move(create("推进中", NOW - 10 * day), "needs_confirmed", NOW - 5 * day)
    move(create("丢单", NOW - 50 * day), "closed_lost", NOW - day, loss_reason="价格")

    metrics.OPEN_STAGE_AGES.watch(sales.db, lambda: NOW)
    try:
        def age(suffix: str, stage: str, **labels: str) -> float | None:
            return REGISTRY.get_sample_value(f"crm_sales_open_opportunities_{suffix}",
                                             {"pipeline": forgotten.pipeline_id, "stage": stage, **labels})

        assert age("stage_age_seconds_gcount", first) == 2  # the lost deal left its stage
        assert age("stage_age_seconds_bucket", first, le=str(3 * 86400.0)) == 1  # the new one
        assert age("stage_age_seconds_bucket", first, le=str(30 * 86400.0)) == 1
        assert age("stage_age_seconds_bucket", first, le=str(60 * 86400.0)) == 2  # and the forgotten one
        assert age("stage_age_seconds_gsum", first) == pytest.approx(42 * 86400)
        assert age("oldest_stage_age_seconds", first) == 40 * 86400
        assert age("oldest_stage_age_seconds", "needs_confirmed") == 5 * 86400  # since it entered that stage
        assert age("stage_age_seconds_gcount", "closed_lost") is None
    finally:
        metrics.OPEN_STAGE_AGES.unwatch(sales.db)
    assert REGISTRY.get_sample_value("crm_sales_open_opportunities_oldest_stage_age_seconds",
                                     {"pipeline": forgotten.pipeline_id, "stage": first}) is None
