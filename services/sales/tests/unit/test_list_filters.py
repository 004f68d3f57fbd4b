"""Lists filtered by a value outside their vocabulary answer 400 naming the filter, as the contacts
list does, instead of an empty page a user would read as "none": a lead's source, a contract's status."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.sales.v1.sales_pb2 import Lead, LeadFilter, ListTasksRequest
from crm_sales.usecases import contracts, leads, tasks
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")


def test_a_lead_source_outside_the_picklist_is_refused(sales: Any) -> None:
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="李雷", source="trade_show")))

    def listed(source: str) -> list[str]:
        found, _ = sales.read(lambda s: leads.list_leads(s, principal=REP1, now=NOW, flt=LeadFilter(source=source),
                                                         page_size=10, page_token=""))
        return [item.id for item in found]

    assert listed("trade_show") == [lead.id]
    with pytest.raises(InvalidArgument) as err:
        listed("tradeshow")
    assert err.value.field == "source"


def test_a_contract_status_outside_the_machine_is_refused(sales: Any) -> None:
    assert sales.read(lambda s: contracts.list_contracts(s, principal=REP1, now=NOW, opportunity_id="",
                                                         status="signed")) == ([], "")
    with pytest.raises(InvalidArgument) as err:
        sales.read(lambda s: contracts.list_contracts(s, principal=REP1, now=NOW, opportunity_id="", status="sigend"))
    assert err.value.field == "status"


def test_a_task_calendar_window_that_ends_before_it_starts_is_refused_naming_due_to(sales: Any) -> None:
    # It answered an empty calendar, as if the rep had nothing to do that week.
    request = ListTasksRequest()
    request.due_from.FromDatetime(NOW + timedelta(days=7))
    request.due_to.FromDatetime(NOW)
    with pytest.raises(InvalidArgument) as refused:
        sales.read(lambda s: tasks.list_tasks(s, principal=REP1, now=NOW, request=request))
    assert refused.value.field == "due_to"
    request.due_to.FromDatetime(NOW + timedelta(days=7))  # one instant is a window
    assert sales.read(lambda s: tasks.list_tasks(s, principal=REP1, now=NOW, request=request)) == ([], "")
