"""A retried write with the same Idempotency-Key gets the first answer, whatever changed since, and
asks no other service again: ConvertLead is the sales write that calls contacts."""
from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1.types_pb2 import Money
from crm.sales.v1 import sales_pb2 as pb

pytestmark = pytest.mark.integration


def qualified_lead(api: Any) -> pb.Lead:
    lead = api.rep1.CreateLead(pb.CreateLeadRequest(lead=pb.Lead(name="孙涛", company="保定机电", phone="13900139000")))
    return api.rep1.ChangeLeadStatus(pb.ChangeLeadStatusRequest(id=lead.id, status="qualified"))


def test_a_retried_conversion_gets_the_first_answer_and_calls_contacts_no_more(sales: Any, api: Any) -> None:
    lead = qualified_lead(api)
    request = pb.ConvertLeadRequest(id=lead.id, amount=Money(currency_code="CNY", amount="88000"))
    first = api.rep1.ConvertLead(request, key="convert-42")
    assert first.account_id and first.contact_id and first.lead.status == "converted"
    calls = dict(sales.contacts.calls)
    assert calls == {"CreateAccount": 1, "CreateContact": 1}

    # Things change after the first answer: the lead's notes, the deal's stage, the customer.
    api.rep1.UpdateLead(pb.UpdateLeadRequest(lead=pb.Lead(id=lead.id, notes="客户要求下周演示"),
                                             update_mask=FieldMask(paths=["notes"])))
    api.rep1.ChangeStage(pb.ChangeStageRequest(id=first.opportunity.id, stage="needs_confirmed"))
    sales.contacts.contacts.clear()
    sales.contacts.accounts.clear()

    again = api.rep1.ConvertLead(request, key="convert-42")
    assert again == first
    assert dict(sales.contacts.calls) == calls

    # Without the key the finished conversion answers as it is now, still without asking contacts.
    now = api.rep1.ConvertLead(request)
    assert (now.lead.notes, now.opportunity.stage) == ("客户要求下周演示", "needs_confirmed")
    assert now.opportunity.id == first.opportunity.id
    assert dict(sales.contacts.calls) == calls


def test_the_same_key_on_another_conversion_is_refused_without_calling_contacts(sales: Any, api: Any,
                                                                               rpc_error: Any) -> None:
    first, second = qualified_lead(api), qualified_lead(api)
    api.rep1.ConvertLead(pb.ConvertLeadRequest(id=first.id), key="convert-7")
    calls = dict(sales.contacts.calls)
    err = rpc_error(api.rep1.ConvertLead, pb.ConvertLeadRequest(id=second.id), "convert-7")
    assert err.code() == grpc.StatusCode.ABORTED and "Idempotency-Key" in err.details()
    assert dict(sales.contacts.calls) == calls
    assert api.rep1.GetLead(pb.GetLeadRequest(id=second.id)).status == "qualified"
