"""A WeChat follower who came through a campaign's QR code (support's channel.followed, its
scene value the campaign's slug or id) becomes a touch of that campaign; a code naming no
campaign, or no code, attributes nothing."""
from __future__ import annotations

from typing import Any

from crm.marketing.v1 import marketing_pb2 as pb
from crm.support.v1 import events_pb2 as tev
from crm_marketing import handlers
from crm_marketing.store import engagement
from crm_marketing.usecases import campaigns
from crmkit.auth import Principal
from crmkit.events import new_event, parse_envelope

from .conftest import NOW

MKT = Principal("mkt.1", ("marketing",), "marketing", "", "市场小李")


def follow(store: Any, scene: str, contact_id: str, *, new: bool = True) -> None:
    payload = tev.ChannelFollowed(platform="wechat", account="demo", contact_id=contact_id, scene=scene,
                                  new_follower=new, external_user_id=f"o-{contact_id}")
    payload.at.FromDatetime(NOW)
    envelope = parse_envelope(new_event(producer="support", event_type=handlers.SUPPORT.CHANNEL_FOLLOWED,
                                        aggregate_type="channel", aggregate_id=f"demo:o-{contact_id}",
                                        aggregate_version=1, payload=payload).data)
    assert handlers.wants(envelope.event_type)
    store.write(lambda uow: handlers.handle(uow, envelope, now=NOW))


def test_a_follower_from_a_campaign_code_is_a_touch_of_that_campaign(store: Any) -> None:
    fair = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
        name="春季展会", type="trade_show", start_date="2026-04-01", slug="spring-fair")))
    follow(store, "spring-fair", "c-1")
    follow(store, fair.id, "c-2", new=False)
    follow(store, "no-such-campaign", "c-3")
    follow(store, "", "c-4")
    first = store.read(lambda s: engagement.touches_of(s, "c-1"))
    assert [(t.kind, t.campaign_id) for t in first] == [("wechat_follow", fair.id)]
    assert [(t.kind, t.campaign_id) for t in store.read(lambda s: engagement.touches_of(s, "c-2"))] == [
        ("wechat_scan", fair.id)]
    assert store.read(lambda s: engagement.touches_of(s, "c-3")) == []
    assert store.read(lambda s: engagement.touches_of(s, "c-4")) == []
