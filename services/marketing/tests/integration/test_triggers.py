"""Event-triggered rules through the real runtime: page views through the public TrackVisit RPC
("three visits to /products/x within 7 days and no inquiry → the offer", into the SMTP sink once),
and events of another service on its stream (a real nats-server) counted by a rule the consumer
learns of as soon as it is saved."""
from __future__ import annotations

from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm.support.v1 import events_pb2 as te
from crm.support.v1 import support_pb2 as tpb
from crm_marketing.handlers import SUPPORT
from crmkit.testing import wait_for

from .conftest import consented

pytestmark = pytest.mark.integration
SITE = "www-hbsteel-key"


def offer(api: Any, subject: str) -> pb.Template:
    return api.mkt.CreateTemplate(pb.CreateTemplateRequest(template=pb.Template(name=subject, contents=[
        pb.TemplateContent(language="zh-CN", subject=subject + "：{{ name }}", text="https://hbsteel.cn/offer")])))


def test_visits_and_another_services_events_fire_their_rules_once(marketing: Any, api: Any, sink: Any) -> None:
    wang = consented("王强", "wang@hbsteel.cn", id="c-wang")
    li = consented("李娜", "li.na@example.cn", id="c-li")
    marketing.publish_contacts(wang, li)
    api.manager.UpdateAutomationSettings(pb.UpdateAutomationSettingsRequest(
        settings=pb.AutomationSettings(sites=[pb.TrackingSite(key=SITE, name="官网", domains=["hbsteel.cn"])]),
        update_mask={"paths": ["sites"]}))
    campaign = api.mkt.CreateCampaign(pb.CreateCampaignRequest(campaign=pb.Campaign(name="Offers", type="email")))
    visits_offer, ticket_offer = offer(api, "X 产品优惠"), offer(api, "服务回访")
    api.mkt.CreateAutomationRule(pb.CreateAutomationRuleRequest(rule=pb.AutomationRule(
        name="三次浏览", campaign_id=campaign.id, template_id=visits_offer.id, count=3, within_days=7,
        trigger=pb.RuleEvent(event_type="web.visit", url_pattern="/products/x*"),
        unless=[pb.RuleEvent(event_type="crm.marketing.form.submitted")])))
    api.mkt.CreateAutomationRule(pb.CreateAutomationRuleRequest(rule=pb.AutomationRule(
        name="两张工单", campaign_id=campaign.id, template_id=ticket_offer.id, count=2, within_days=30,
        trigger=pb.RuleEvent(event_type=SUPPORT.TICKET_CREATED))))
    wait_for(lambda: _known(api, "c-li"), what="the contacts projected")

    first = api.public.TrackVisit(pb.TrackVisitRequest(site_key=SITE, url="https://hbsteel.cn/products/x",
                                                       email="wang@hbsteel.cn"))
    assert first.identified and first.visitor_id
    for _ in range(3):
        api.public.TrackVisit(pb.TrackVisitRequest(site_key=SITE, visitor_id=first.visitor_id,
                                                   url="https://www.hbsteel.cn/products/x?ref=ad"))
    [mail] = sink.wait_for(1)
    assert str(mail["Subject"]) == "X 产品优惠：王强" and mail["List-Unsubscribe"]

    for number in ("T-1", "T-2"):
        marketing.publish_event("support", SUPPORT.TICKET_CREATED, number, te.TicketCreated(ticket=tpb.Ticket(
            id=number, number=number, channel="web", contact_id="c-li")))
    messages = sink.wait_for(2)
    assert sorted(str(m["Subject"]) for m in messages) == ["X 产品优惠：王强", "服务回访：李娜"]
    rules = api.mkt.ListAutomationRules(pb.ListAutomationRulesRequest(campaign_id=campaign.id)).rules
    assert sorted(r.fired for r in rules) == [1, 1]
    api.public.TrackVisit(pb.TrackVisitRequest(site_key=SITE, visitor_id=first.visitor_id,
                                               url="https://hbsteel.cn/products/x"))
    marketing.tick()
    assert len(sink.messages()) == 2  # once per window
    assert marketing.events().count("crm.marketing.rule.fired") == 2


def _known(api: Any, contact_id: str) -> bool:
    try:
        api.mkt.PreviewTemplate(pb.PreviewTemplateRequest(template=pb.Template(name="p", contents=[
            pb.TemplateContent(language="zh-CN", subject="x", text="y")]), contact_id=contact_id))
        return True
    except Exception:  # noqa: BLE001 - NOT_FOUND until the projection has it
        return False
