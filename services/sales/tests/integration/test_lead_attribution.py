"""A captured lead keeps where it came from as fields of its own (issue 10): the UTM parameters of
the marketing form's page and the form, read back as they were sent; a bad value names its field."""
from __future__ import annotations

from typing import Any

import grpc
import pytest

from crm.sales.v1 import sales_pb2 as pb

pytestmark = pytest.mark.integration


def test_a_captured_lead_keeps_its_utm_parameters_and_form(api: Any) -> None:
    lead = api.marketing.CaptureLead(pb.CaptureLeadRequest(form_id="form-expo-2026", lead=pb.Lead(
        name="赵强", company="天津重工", email="zhao@tjzg.example", campaign_id="camp-1",
        attribution=pb.LeadAttribution(utm_source=" wechat ", utm_medium="social", utm_campaign="expo-2026",
                                       utm_content="banner-a"))))
    again = api.admin.GetLead(pb.GetLeadRequest(id=lead.id))
    a = again.attribution
    assert (a.utm_source, a.utm_medium, a.utm_campaign, a.utm_term, a.utm_content, a.form_id) == (
        "wechat", "social", "expo-2026", "", "banner-a", "form-expo-2026")
    assert again.campaign_id == "camp-1" and "utm_" not in again.notes
    with pytest.raises(grpc.RpcError) as bad:
        api.marketing.CaptureLead(pb.CaptureLeadRequest(lead=pb.Lead(
            name="钱敏", attribution=pb.LeadAttribution(utm_campaign="x" * 201))))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "attribution.utm_campaign" in dict(bad.value.trailing_metadata() or ()).get("crm-error-field", "")
