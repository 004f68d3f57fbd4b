"""The engagement score and the hand-off of marketing-qualified contacts, on the real schema with
fakes at the ports: weights and decay, the threshold crossed once, the lead sales gets (source
marketing_qualified, the history of touches, the last touch's campaign), outages and refusals,
and a contact that already has a lead from a form."""
from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing import jobs
from crm_marketing.rules import scoring as rules
from crm_marketing.rules import settings as defaults
from crm_marketing.rules.tracking import tracking_key
from crm_marketing.store import engagement as engagement_store
from crm_marketing.usecases import automation_settings, campaigns, engagement, forms, scoring
from crmkit.auth import Principal
from crmkit.errors import NotFound
from crmkit.testing import ManualClock

from .conftest import NOW

MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
MANAGER = Principal("mgr.1", ("marketing", "manager"), "marketing", "east", "经理")
OPEN, CLICK, VISIT, FORM = rules.OPEN, rules.CLICK, rules.VISIT, rules.FORM
KEY = tracking_key("unit-test-secret")


def test_points_halve_every_half_life() -> None:
    settings = defaults.defaults()  # open 1, click 3, visit 2, form 10; half-life 30 days
    assert rules.points(CLICK, NOW, NOW, settings.weights, 30) == 3
    assert math.isclose(rules.points(CLICK, NOW - timedelta(days=30), NOW, settings.weights, 30), 1.5)
    assert math.isclose(rules.points(FORM, NOW - timedelta(days=60), NOW, settings.weights, 30), 2.5)
    assert rules.points(FORM, NOW - timedelta(days=600), NOW, settings.weights, 0) == 10  # no decay
    assert rules.points("crm.support.ticket.created", NOW, NOW, settings.weights, 30) == 0


class World:
    def __init__(self, store: Any, sales: Any) -> None:
        self.store, self.sales = store, sales
        self.clock = ManualClock(NOW)
        self.expo = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="Spring Expo", type="trade_show")))
        self.webinar = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="Steel Webinar", type="webinar")))
        store.write(lambda uow: automation_settings.update(
            uow, principal=MANAGER, now=NOW, patch=pb.AutomationSettings(mql_threshold=10), paths=["mql_threshold"],
            expected_version=0))

    def touch(self, contact_id: str, kind: str, campaign_id: str = "", url: str = "") -> None:
        self.store.write(lambda uow: engagement.record(uow, now=self.clock(), kind=kind, contact_id=contact_id,
                                                       campaign_id=campaign_id, url=url))

    def engagement(self, contact_id: str) -> pb.Engagement:
        return self.store.read(lambda s: scoring.get(s, principal=MKT, now=self.clock(), contact_id=contact_id))

    def deliver(self) -> int:
        return jobs.deliver_handoffs(self.store.db, self.sales, self.clock())


@pytest.fixture
def world(store: Any, sales: Any) -> World:
    return World(store, sales)


def test_crossing_the_threshold_hands_the_contact_to_sales_once_with_its_history(world: World) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn", company_name="河北钢铁", region="north")
    world.touch(wang.id, OPEN, world.expo.id)
    world.touch(wang.id, CLICK, world.expo.id, "https://shop.example/expo?utm_source=shuniu")
    world.clock.advance(days=1)
    world.touch(wang.id, VISIT, url="https://shop.example/products/x")
    assert world.engagement(wang.id).score == pytest.approx(5.9, abs=0.1) and world.deliver() == 0
    world.touch(wang.id, VISIT, url="https://shop.example/products/x")
    world.touch(wang.id, CLICK, world.webinar.id, "https://shop.example/webinar")  # 1 + 3 + 2 + 2 + 3, less a day

    score = world.engagement(wang.id)
    assert score.score >= 10 and score.qualified_at.seconds and score.handoff_status == "pending"
    assert world.store.events().count("crm.marketing.contact.qualified") == 1
    assert world.deliver() == 1
    [lead] = world.sales.captured()
    assert (lead.name, lead.email, lead.company, lead.region, lead.source, lead.campaign_id) == (
        "王强", "wq@hbsteel.cn", "河北钢铁", "north", "marketing_qualified", world.webinar.id)  # the last touch's
    lines = lead.notes.splitlines()
    assert lines[0].startswith("Marketing-qualified lead: engagement score") and "threshold 10" in lines[0]
    assert lines[2].endswith("clicked https://shop.example/webinar (Steel Webinar)")
    assert lines[3].endswith("visited https://shop.example/products/x") and lines[-1].endswith("opened a mail (Spring Expo)")
    assert any("clicked https://shop.example/expo" in line and "(Spring Expo)" in line for line in lines)
    after = world.engagement(wang.id)
    assert (after.handoff_status, after.lead_id) == ("delivered", lead.id)
    assert [t.kind for t in after.touches] == ["click", "visit", "visit", "click", "open"]
    assert world.store.events().count("crm.marketing.lead.handed_over") == 1
    for _ in range(5):  # more engagement never hands it over again
        world.touch(wang.id, CLICK, world.expo.id)
    assert world.deliver() == 0 and len(world.sales.leads) == 1


def test_a_sales_outage_retries_the_hand_off_and_a_refusal_is_kept(world: World) -> None:
    li = world.store.contact("李娜", "ln@example.cn")
    zhao = world.store.contact("赵敏", "zm@example.cn")
    world.sales.down = True
    world.touch(li.id, FORM)
    assert world.deliver() == 0 and world.engagement(li.id).handoff_status == "pending"
    world.sales.down = False
    assert world.deliver() == 0  # backing off
    world.clock.advance(seconds=6)
    assert world.deliver() == 1 and len(world.sales.leads) == 1
    world.sales.refuse["zm@example.cn"] = ("email", "a competitor's address")
    world.touch(zhao.id, FORM)
    world.deliver()
    assert world.engagement(zhao.id).handoff_status == "failed"


def test_a_contact_with_a_lead_from_a_form_is_qualified_but_not_handed_over_again(world: World) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn")
    world.store.write(lambda uow: engagement_store.note_lead(uow.session, wang.id, "lead-from-form", NOW))
    world.touch(wang.id, FORM)
    assert world.engagement(wang.id).handoff_status == "already_lead"
    assert world.deliver() == 0 and world.sales.calls["capture_lead"] == 0
    assert world.store.events().count("crm.marketing.contact.qualified") == 1


def test_a_form_that_qualifies_its_sender_makes_one_lead_not_two(world: World, contacts: Any) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn")
    form = world.store.write(lambda uow: forms.create(uow, principal=MKT, now=NOW, form=pb.Form(
        name="报名", fields=[pb.FormField(name="name", label=pb.LocalizedText(zh="姓名"), required=True),
                             pb.FormField(name="email", label=pb.LocalizedText(zh="邮箱"), required=True)])))
    shown = world.store.read(lambda s: forms.public_form(s, now=NOW, key=KEY, form_id=form.id))
    world.clock.advance(seconds=5)
    world.store.write(lambda uow: forms.submit(uow, principal=MKT, now=world.clock(), key=KEY, request=pb.SubmitFormRequest(
        form_id=form.id, form_token=shown.form_token, values={"name": "王强", "email": "wq@hbsteel.cn"})))
    assert world.engagement(wang.id).handoff_status == "already_lead"  # the form's lead is on its way
    jobs.deliver_forms(world.store.db, contacts, world.sales, world.clock())
    world.deliver()
    assert [lead.source for lead in world.sales.captured()] == ["web_form"]
    assert world.engagement(wang.id).lead_id == world.sales.captured()[0].id


def test_the_score_decays_and_an_unknown_contact_has_none(world: World) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn")
    world.touch(wang.id, CLICK)
    world.clock.advance(days=60)
    assert world.engagement(wang.id).score == pytest.approx(0.75, abs=0.01)
    with pytest.raises(NotFound):
        world.engagement("c-nobody")
