"""Marketing-qualified leads through the real runtime: opens and clicks of a real mail (the public
tracking RPCs) and page views add up to the threshold, and the scheduler hands the contact to the
fake sales service once, as a lead with its history of touches."""
from __future__ import annotations

import re
from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crmkit.testing import wait_for

from .conftest import consented, template

pytestmark = pytest.mark.integration
SITE = "www-hbsteel-key"


def test_engagement_past_the_threshold_becomes_one_lead_in_sales(marketing: Any, api: Any, contacts: Any,
                                                                  sales: Any, sink: Any) -> None:
    wang = contacts.add_contact(consented("王强", "wang@hbsteel.cn", company_name="河北钢铁"))
    contacts.add_segment("seg-1", [wang.id])
    api.manager.UpdateAutomationSettings(pb.UpdateAutomationSettingsRequest(
        settings=pb.AutomationSettings(mql_threshold=8, sites=[pb.TrackingSite(key=SITE, domains=["hbsteel.cn"])]),
        update_mask={"paths": ["mql_threshold", "sites"]}))
    campaign = api.mkt.CreateCampaign(pb.CreateCampaignRequest(campaign=pb.Campaign(name="Spring Expo", type="email")))
    tpl = api.mkt.CreateTemplate(pb.CreateTemplateRequest(template=template()))
    wave = api.mkt.CreateSendWave(pb.CreateSendWaveRequest(wave=pb.SendWave(
        campaign_id=campaign.id, template_id=tpl.id, audience=pb.Audience(segment_ids=["seg-1"]))))
    api.mkt.StartSendWave(pb.StartSendWaveRequest(id=wave.id))
    [mail] = sink.wait_for(1)
    html = mail.get_body(("html",)).get_content()
    opened = re.search(r"/api/v1/public/open/([A-Za-z0-9._-]+)", html)
    clicked = re.search(r"/api/v1/public/click/([A-Za-z0-9._-]+)", html)
    assert opened and clicked
    api.public.RecordOpen(pb.RecordOpenRequest(token=opened.group(1)))         # 1
    api.public.ResolveClick(pb.ResolveClickRequest(token=clicked.group(1)))    # 3
    visitor = api.public.TrackVisit(pb.TrackVisitRequest(site_key=SITE, url="https://hbsteel.cn/pricing",
                                                         email="wang@hbsteel.cn")).visitor_id
    assert api.analyst.GetEngagement(pb.GetEngagementRequest(contact_id=wang.id)).qualified_at.seconds == 0
    api.public.TrackVisit(pb.TrackVisitRequest(site_key=SITE, url="https://hbsteel.cn/pricing", visitor_id=visitor))

    def handed_over() -> bool:
        marketing.tick()
        return len(sales.leads) == 1

    wait_for(handed_over, timeout=20, interval=0.5, what="the lead in sales")
    [(lead, form_id)] = sales.captured
    assert (form_id, lead.source, lead.email, lead.company, lead.campaign_id) == (
        "", "marketing_qualified", "wang@hbsteel.cn", "河北钢铁", campaign.id)
    assert "reached the threshold 8" in lead.notes and "visited https://hbsteel.cn/pricing" in lead.notes
    assert "clicked https://shop.example/expo" in lead.notes
    score = api.analyst.GetEngagement(pb.GetEngagementRequest(contact_id=wang.id))
    assert (score.handoff_status, score.lead_id, score.threshold) == ("delivered", lead.id, 8)
    api.public.TrackVisit(pb.TrackVisitRequest(site_key=SITE, url="https://hbsteel.cn/pricing", visitor_id=visitor))
    marketing.tick()
    assert len(sales.leads) == 1 and sales.calls["CaptureLead"] == 1
    events = marketing.events()
    assert events.count("crm.marketing.contact.qualified") == 1 and events.count("crm.marketing.lead.handed_over") == 1
