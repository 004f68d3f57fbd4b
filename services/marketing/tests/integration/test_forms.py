"""A lead-capture form through the real runtime: defined by marketing, served to the public with
its token, a bad submission answered with every bad field in the error details, a good one
acknowledged at once while sales is down, and after a restart delivered to the fakes of contacts
(the contact, the consent with its wording and address) and sales (the lead with campaign, UTM
and form), exactly once."""
from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crmkit.errors import ERROR_DETAILS_KEY
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration


def text(zh: str, en: str) -> pb.LocalizedText:
    return pb.LocalizedText(zh=zh, en=en)


def expo_form(campaign_id: str) -> pb.Form:
    return pb.Form(
        name="Expo sign-up", title=text("报名", "Sign up"), campaign_id=campaign_id,
        fields=[pb.FormField(name="name", label=text("姓名", "Name"), required=True),
                pb.FormField(name="email", label=text("邮箱", "Email"), required=True),
                pb.FormField(name="company", label=text("公司", "Company")),
                pb.FormField(name="interest", type="select", label=text("兴趣", "Interest"), options=["钢材", "物流"])],
        consent=pb.FormConsent(enabled=True, text=text("我同意接收展会资讯", "I agree to receive expo news")))


def details(error: grpc.RpcError) -> dict[str, Any]:
    raw = dict(error.trailing_metadata() or ()).get(ERROR_DETAILS_KEY, "{}")
    return json.loads(raw) if isinstance(raw, str) else {}


def test_a_submission_reaches_contacts_and_sales_once_even_across_a_sales_outage_and_a_restart(
        marketing: Any, api: Any, contacts: Any, sales: Any, rpc_error: Any) -> None:
    api.manager.UpdateAutomationSettings(pb.UpdateAutomationSettingsRequest(
        settings=pb.AutomationSettings(form_min_seconds=0), update_mask={"paths": ["form_min_seconds"]}))
    campaign = api.mkt.CreateCampaign(pb.CreateCampaignRequest(campaign=pb.Campaign(name="Expo", type="trade_show")))
    form = api.mkt.CreateForm(pb.CreateFormRequest(form=expo_form(campaign.id)))
    shown = api.public.GetPublicForm(pb.GetPublicFormRequest(form_id=form.id))
    assert shown.form_token and shown.consent.text.zh == "我同意接收展会资讯"
    assert rpc_error(api.public.CreateForm, pb.CreateFormRequest(form=expo_form(""))).code() == \
        grpc.StatusCode.PERMISSION_DENIED

    bad = rpc_error(api.public.SubmitForm, pb.SubmitFormRequest(
        form_id=form.id, form_token=shown.form_token, values={"email": "nope", "interest": "咖啡"}))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [e["field"] for e in details(bad)["errors"]] == ["values.name", "values.email", "values.interest"]

    sales.unavailable = True
    request = pb.SubmitFormRequest(
        form_id=form.id, form_token=shown.form_token, consent=True, visitor_ip="203.0.113.7",
        values={"name": "王强", "email": "wang@hbsteel.cn", "company": "河北钢铁", "interest": "钢材"},
        utm=pb.UtmParams(source="wechat", medium="social", campaign="expo-2026"), page_url="https://hbsteel.cn/expo")
    answer = api.public.SubmitForm(request)
    assert answer.status == "accepted" and answer.submission_id
    wait_for(lambda: sales.calls["CaptureLead"] >= 1, what="a first delivery attempt")
    assert sales.leads == {}

    marketing.restart()  # the stored submission survives; sales comes back
    sales.unavailable = False

    def delivered() -> bool:
        marketing.tick()
        listed = marketing.as_user("mkt").ListFormSubmissions(pb.ListFormSubmissionsRequest(form_id=form.id))
        return [s.status for s in listed.submissions] == ["delivered"]

    wait_for(delivered, timeout=30, interval=0.5, what="the submission delivered")
    [(lead, form_id)] = sales.captured
    assert (form_id, lead.campaign_id, lead.source, lead.email, lead.company) == (
        form.id, campaign.id, "web_form", "wang@hbsteel.cn", "河北钢铁")
    assert (lead.attribution.utm_source, lead.attribution.utm_medium, lead.attribution.utm_campaign,
            lead.attribution.form_id) == ("wechat", "social", "expo-2026", form.id)
    assert "兴趣: 钢材" in lead.notes
    [(contact_id, consent)] = contacts.consent_history
    assert (consent.purpose, consent.granted, consent.source) == ("marketing_email", True, f"web_form:{form.id}")
    assert "我同意接收展会资讯" in consent.evidence and "203.0.113.7" in consent.evidence
    assert contacts.contacts[contact_id].emails[0].address == "wang@hbsteel.cn"
    marketing.tick()
    assert len(sales.leads) == 1 and len(contacts.consent_history) == 1
    events = marketing.events()
    assert events.count("crm.marketing.form.submitted") == 1 and events.count("crm.marketing.lead.handed_over") == 1
