"""An A/B test through the real runtime: the audience frozen from a segment (fake contacts), the
variants mailed into the SMTP sink with their utm_content, opens through the public RecordOpen,
the winner picked after the wait (a manual clock) and mailed to the rest, each recipient once."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crmkit.testing import ManualClock

from .conftest import consented

pytestmark = pytest.mark.integration
CLOCK = ManualClock(datetime.now(UTC))


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"clock": CLOCK}


def test_the_variant_that_is_opened_more_wins_and_reaches_the_rest(marketing: Any, api: Any, contacts: Any,
                                                                    sink: Any) -> None:
    people = [contacts.add_contact(consented(f"客户{i:02d}", f"c{i:02d}@example.cn")) for i in range(24)]
    contacts.add_segment("seg-sale", [p.id for p in people])
    campaign = api.mkt.CreateCampaign(pb.CreateCampaignRequest(campaign=pb.Campaign(name="Spring Sale", type="email")))
    template = api.mkt.CreateTemplate(pb.CreateTemplateRequest(template=pb.Template(name="促销", contents=[
        pb.TemplateContent(language="zh-CN", subject="{{ name }}，春季促销",
                           html='<p>{{ name }}</p><a href="https://shop.example/sale">去看看</a>')])))
    test = api.mkt.CreateAbTest(pb.CreateAbTestRequest(test=pb.AbTest(
        name="主题", campaign_id=campaign.id, template_id=template.id, audience=pb.Audience(segment_ids=["seg-sale"]),
        test_percent=50, wait_hours=2, variants=[pb.AbVariant(name="plain"),
                                                 pb.AbVariant(name="urgent", subject="最后两天：{{ name }}")])))
    assert (test.test_size, test.rest_size) == (12, 12)
    api.mkt.StartAbTest(pb.StartAbTestRequest(id=test.id))
    variants = sink.wait_for(12)
    urgent = [m for m in variants if str(m["Subject"]).startswith("最后两天")]
    assert len(urgent) == 6
    for mail in urgent:
        html = mail.get_body(("html",)).get_content()
        assert "/api/v1/public/click/" in html
        token = re.search(r"/api/v1/public/open/([A-Za-z0-9._-]+)", html)
        assert token
        api.public.RecordOpen(pb.RecordOpenRequest(token=token.group(1)))
    CLOCK.advance(hours=2, minutes=1)
    marketing.tick()
    everyone = sink.wait_for(24)
    marketing.tick()
    result = api.analyst.GetAbTest(pb.GetAbTestRequest(id=test.id))
    assert (result.status, result.winner, result.significant) == ("completed", "urgent", True)
    assert [(v.name, v.counts.delivered, v.counts.opened) for v in result.variants] == [("plain", 6, 0),
                                                                                        ("urgent", 6, 6)]
    assert result.winner_counts.delivered == 12
    assert sum(str(m["Subject"]).startswith("最后两天") for m in everyone) == 18
    assert len({m["To"].addresses[0].addr_spec for m in everyone}) == 24 and len(sink.messages()) == 24
