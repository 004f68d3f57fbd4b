"""A nurture sequence through the real runtime: leads sales sends back for nurturing (its SALES
stream on a real nats-server) join it, its steps reach the SMTP sink on their days (a manual
clock), a restart in between changes nothing, and a conversion in sales ends a contact's
enrolment before its next step."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm.sales.v1 import events_pb2 as se
from crm.sales.v1 import sales_pb2 as spb
from crm_marketing.handlers import SALES
from crmkit.testing import ManualClock, wait_for

from .conftest import consented

pytestmark = pytest.mark.integration
CLOCK = ManualClock(datetime.now(UTC))


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"clock": CLOCK}


def template(api: Any, subject: str) -> pb.Template:
    return api.mkt.CreateTemplate(pb.CreateTemplateRequest(template=pb.Template(name=subject, contents=[
        pb.TemplateContent(language="zh-CN", subject=subject + "：{{ name }}", text="详情 https://shop.example/x")])))


def enrolments(api: Any, sequence_id: str) -> dict[str, pb.Enrollment]:
    listed = api.mkt.ListEnrollments(pb.ListEnrollmentsRequest(sequence_id=sequence_id))
    return {e.contact_id: e for e in listed.enrollments}


def test_nurtured_leads_get_each_step_on_its_day_once_and_a_conversion_ends_it(
        marketing: Any, api: Any, sink: Any) -> None:
    wang = consented("王强", "wang@hbsteel.cn", id="c-wang")
    li = consented("李娜", "li.na@example.cn", id="c-li")
    marketing.publish_contacts(wang, li)
    campaign = api.mkt.CreateCampaign(pb.CreateCampaignRequest(campaign=pb.Campaign(name="Nurture", type="email")))
    first, second = template(api, "欢迎"), template(api, "案例分享")
    sequence = api.mkt.CreateSequence(pb.CreateSequenceRequest(sequence=pb.Sequence(
        name="培育", campaign_id=campaign.id, enroll_nurturing=True,
        steps=[pb.SequenceStep(day=0, template_id=first.id), pb.SequenceStep(day=2, template_id=second.id)])))
    sequence = api.mkt.ChangeSequenceStatus(pb.ChangeSequenceStatusRequest(id=sequence.id, status="active"))
    assert sequence.status == "active" and all(step.wave_id for step in sequence.steps)

    for contact in (wang, li):
        marketing.publish_event("sales", SALES.LEAD_NURTURING, f"lead-{contact.id}", se.LeadSentToNurturing(
            lead=spb.Lead(id=f"lead-{contact.id}", email=contact.emails[0].address, status="nurturing"),
            reason="下季度预算"))
    wait_for(lambda: len(enrolments(api, sequence.id)) == 2, what="both leads enrolled")
    marketing.tick()
    day0 = sink.wait_for(2)
    assert sorted(str(m["Subject"]) for m in day0) == ["欢迎：李娜", "欢迎：王强"]

    marketing.restart()
    api = type(api)(marketing)
    marketing.publish_event("sales", SALES.LEAD_CONVERTED, "lead-c-li", se.LeadConverted(
        lead=spb.Lead(id="lead-c-li", email="li.na@example.cn", status="converted"), contact_id="c-li"))
    wait_for(lambda: enrolments(api, sequence.id)["c-li"].status == "exited", what="li's enrolment ended")
    assert enrolments(api, sequence.id)["c-li"].exit_reason == "converted"
    marketing.tick()  # day 0 still: nothing new, nothing again
    CLOCK.advance(days=2, minutes=1)
    marketing.tick()
    messages = sink.wait_for(3)
    marketing.tick()
    assert len(sink.messages()) == 3
    assert str(messages[-1]["Subject"]) == "案例分享：王强" and messages[-1]["To"].addresses[0].addr_spec == \
        "wang@hbsteel.cn"
    assert len({m["Message-ID"] for m in messages}) == 3
    assert enrolments(api, sequence.id)["c-wang"].status == "completed"
    results = api.mkt.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=campaign.id))
    assert results.email.delivered == 3
