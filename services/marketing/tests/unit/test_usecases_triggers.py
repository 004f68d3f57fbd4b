"""Event-triggered rules on the real schema with fakes at the ports: "three visits to
/products/x within 7 days and no inquiry → the offer template", sent once per window; visits
tied to a contact late; events of another service counted; the visit intake's checks."""
from __future__ import annotations

from typing import Any

import pytest

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.marketing.v1 import marketing_pb2 as pb
from crm.support.v1 import events_pb2 as te
from crm.support.v1 import support_pb2 as tpb
from crm_marketing import handlers, jobs
from crm_marketing.jobs import automation
from crm_marketing.rules import tracking as tokens
from crm_marketing.rules import triggers
from crm_marketing.rules.tracking import LinkMaker, tracking_key
from crm_marketing.store import projection
from crm_marketing.usecases import (
    automation_rules,
    automation_settings,
    campaigns,
    engagement,
    sequences,
    templates,
    visits,
)
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, NotFound, ResourceExhausted
from crmkit.events import new_event
from crmkit.testing import ManualClock

from .conftest import NOW

MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
MANAGER = Principal("mgr.1", ("marketing", "manager"), "marketing", "east", "经理")
KEY = tracking_key("unit-test-secret")
LINKS = LinkMaker("https://crm.example/api/v1/public", KEY)
SENDER = "Shuniu <marketing@shuniu.example>"
SITE = "shop-example-01"
INQUIRY = "crm.marketing.form.submitted"


class World:
    def __init__(self, store: Any, mailer: Any) -> None:
        self.store, self.mailer = store, mailer
        self.clock = ManualClock(NOW)
        self.campaign = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="Offers", type="email")))
        self.offer = store.write(lambda uow: templates.create(uow, principal=MKT, now=NOW, template=pb.Template(
            name="优惠", contents=[pb.TemplateContent(language="zh-CN", subject="{{ name }}，X 产品限时优惠",
                                                     text="https://shop.example/products/x?offer=1")])))
        store.write(lambda uow: automation_settings.update(
            uow, principal=MANAGER, now=NOW, patch=pb.AutomationSettings(
                sites=[pb.TrackingSite(key=SITE, name="官网", domains=["shop.example"])], visit_limit_per_visitor=5),
            paths=["sites", "visit_limit_per_visitor"], expected_version=0))

    def rule(self, **fields: Any) -> pb.AutomationRule:
        rule = pb.AutomationRule(name="看了三次没询价", campaign_id=self.campaign.id, template_id=self.offer.id,
                                 trigger=pb.RuleEvent(event_type="web.visit", url_pattern="/products/x*"),
                                 count=3, within_days=7, unless=[pb.RuleEvent(event_type=INQUIRY)])
        for name, value in fields.items():
            current = getattr(rule, name)
            if isinstance(value, list):
                del current[:]
                current.extend(value)
            elif hasattr(current, "CopyFrom"):
                current.CopyFrom(value)
            else:
                setattr(rule, name, value)
        return self.store.write(lambda uow: automation_rules.create(uow, principal=MKT, now=NOW, rule=rule,
                                                                    default_sender=SENDER))

    def visit(self, path: str = "/products/x", *, visitor: str = "visitor-wang-01", email: str = "",
              token: str = "") -> pb.TrackVisitResponse:
        request = pb.TrackVisitRequest(site_key=SITE, visitor_id=visitor, url=f"https://shop.example{path}",
                                       email=email, contact_token=token)
        return self.store.write(lambda uow: visits.track(uow, now=self.clock(), key=KEY, request=request))

    def send(self) -> None:
        automation.run_once(self.store.db, self.clock())
        jobs.Sender(self.store.db, self.mailer, LINKS, self.clock, jobs.SendOptions(rate=1_000_000)).run_once(
            self.clock())

    def offers(self, email: str) -> int:
        return len(self.mailer.to(email))


@pytest.fixture
def world(store: Any, mailer: Any) -> World:
    return World(store, mailer)


def test_a_rule_names_contract_event_types_and_one_action(world: World) -> None:
    def refused(**fields: Any) -> str:
        with pytest.raises((InvalidArgument, NotFound)) as info:
            world.rule(**fields)
        return str(info.value.field)

    assert refused(trigger=pb.RuleEvent(event_type="crm.sales.lead.exploded")) == "trigger.event_type"
    assert refused(trigger=pb.RuleEvent(event_type="crm.support.ticket.created", url_pattern="/x")) == \
        "trigger.url_pattern"
    assert refused(unless=[pb.RuleEvent(event_type="inquiry")]) == "unless[0].event_type"
    assert refused(sequence_id="s-1") == "template_id"
    assert refused(within_days=400) == "within_days"
    assert refused(template_id="t-gone") == "template_id"
    made = world.rule(count=0, within_days=0, trigger=pb.RuleEvent(event_type="crm.support.ticket.created"))
    assert (made.count, made.within_days, made.status, made.purpose) == (1, 7, "active", "marketing_email")
    assert "crm.support.ticket.created" in triggers.KNOWN and "crm.contacts.contact.tagged" in triggers.KNOWN


def test_three_visits_to_the_product_within_7_days_and_no_inquiry_send_the_offer_once(world: World) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn")
    world.rule()
    assert world.visit(email="WQ@hbsteel.cn").identified  # day 0: the site knows who it is
    world.clock.advance(days=2)
    world.visit("/products/y")  # another product counts for nothing
    world.visit()
    world.send()
    assert world.offers("wq@hbsteel.cn") == 0  # two so far
    world.clock.advance(days=3)
    world.visit("/products/x/specs")
    world.send()
    assert world.offers("wq@hbsteel.cn") == 1
    [mail] = world.mailer.to("wq@hbsteel.cn")
    assert mail.subject == "王强，X 产品限时优惠"
    world.clock.advance(days=1)
    world.visit()
    world.send()
    assert world.offers("wq@hbsteel.cn") == 1  # once per window
    rule = world.store.read(lambda s: automation_rules.list_rules(s, principal=MKT, campaign_id="", page_size=0,
                                                                  page_token=""))[0][0]
    assert rule.fired == 1 and world.store.events().count("crm.marketing.rule.fired") == 1
    world.clock.advance(days=8)  # the next window: three more visits fire it again (round 2, its own wave)
    for _ in range(3):
        world.visit()
    world.send()
    assert world.offers("wq@hbsteel.cn") == 2 and wang.id


def test_an_inquiry_in_the_window_or_visits_spread_too_far_send_nothing(world: World) -> None:
    world.store.contact("李娜", "ln@example.cn")
    world.store.contact("赵敏", "zm@example.cn")
    world.rule()
    world.visit(visitor="visitor-li-0001", email="ln@example.cn")
    world.store.write(lambda uow: engagement.record(uow, now=world.clock(), kind=INQUIRY,
                                                    contact_id=world.store.read(lambda s: _id(s, "ln@example.cn"))))
    world.visit(visitor="visitor-li-0001")
    world.visit(visitor="visitor-li-0001")
    for day in (0, 5, 5):  # zhao: days 0, 5, 10 — never three within 7 days
        world.clock.advance(days=day)
        world.visit(visitor="visitor-zhao-01", email="zm@example.cn")
    world.send()
    assert world.offers("ln@example.cn") == 0 and world.offers("zm@example.cn") == 0
    world.clock.advance(days=1)  # day 11: 5, 10, 11 are within 7 days
    world.visit(visitor="visitor-zhao-01")
    world.send()
    assert world.offers("zm@example.cn") == 1


def _id(session: Any, email: str) -> str:
    found = projection.contact_by_email(session, email)
    assert found
    return found


def test_anonymous_visits_count_once_the_visitor_turns_out_to_be_a_contact(world: World) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn")
    world.rule()
    for _ in range(3):
        assert not world.visit(visitor="anon-visitor-1").identified
    world.send()
    assert world.offers("wq@hbsteel.cn") == 0
    # the link of a tracked mail carried crm_ct: the next page view names the contact
    link = tokens.with_contact("https://shop.example/products/x?utm_source=shuniu", KEY, wang.id,
                               frozenset({"shop.example"}))
    assert "crm_ct=t." in link and tokens.with_contact("https://other.example/", KEY, wang.id,
                                                       frozenset({"shop.example"})) == "https://other.example/"
    token = link.split("crm_ct=")[1]
    assert world.visit("/about", visitor="anon-visitor-1", token=token).identified
    world.send()
    assert world.offers("wq@hbsteel.cn") == 1
    with pytest.raises(InvalidArgument) as info:
        world.visit(visitor="anon-visitor-1", token=token[:-3] + "AAA")
    assert info.value.field == "contact_token"


def test_events_of_other_services_count_and_a_rule_can_enrol_in_a_sequence(world: World) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn")
    sequence = world.store.write(lambda uow: sequences.create(uow, principal=MKT, now=NOW, sequence=pb.Sequence(
        name="关怀", campaign_id=world.campaign.id, steps=[pb.SequenceStep(day=1, template_id=world.offer.id)]),
        default_sender=SENDER))
    world.store.write(lambda uow: sequences.change_status(uow, principal=MKT, now=NOW, sequence_id=sequence.id,
                                                          status="active", expected_version=0, mail_enabled=True))
    world.rule(template_id="", sequence_id=sequence.id, count=2, within_days=30, unless=[],
               trigger=pb.RuleEvent(event_type="crm.support.ticket.created"))
    counted = world.store.read(automation_rules.referenced_types) & triggers.OTHERS
    assert counted == {"crm.support.ticket.created"}
    for number in ("T-1", "T-2"):
        env = EventEnvelope.FromString(new_event(
            producer="support", event_type="crm.support.ticket.created", aggregate_type="ticket", aggregate_id=number,
            aggregate_version=1, payload=te.TicketCreated(ticket=tpb.Ticket(id=number, number=number, channel="web",
                                                                            requester_email="WQ@hbsteel.cn")),
            occurred_at=world.clock()).data)
        world.store.write(lambda uow, e=env: handlers.handle(uow, e, now=world.clock(), counted=counted))
    listed, _ = world.store.read(lambda s: sequences.list_enrollments(s, principal=MKT, sequence_id=sequence.id,
                                                                      status="", page_size=0, page_token=""))
    assert [(e.contact_id, e.source) for e in listed] == [(wang.id, f"rule:{listed[0].source.split(':')[1]}")]


def test_the_visit_intake_refuses_unknown_sites_foreign_pages_and_floods(world: World) -> None:
    with pytest.raises(InvalidArgument) as info:
        world.store.write(lambda uow: visits.track(uow, now=NOW, key=KEY, request=pb.TrackVisitRequest(
            site_key="nope-nope", url="https://shop.example/")))
    assert info.value.field == "site_key"
    with pytest.raises(InvalidArgument) as info:
        world.store.write(lambda uow: visits.track(uow, now=NOW, key=KEY, request=pb.TrackVisitRequest(
            site_key=SITE, url="https://evil.example/shop.example")))
    assert info.value.field == "url"
    first = world.store.write(lambda uow: visits.track(uow, now=NOW, key=KEY, request=pb.TrackVisitRequest(
        site_key=SITE, url="https://www.shop.example/")))
    assert len(first.visitor_id) == 32 and not first.identified  # issued on the first view
    for _ in range(4):
        world.visit(visitor=first.visitor_id)
    with pytest.raises(ResourceExhausted):
        world.visit(visitor=first.visitor_id)
    world.clock.advance(minutes=2)
    assert world.visit(visitor=first.visitor_id).visitor_id == first.visitor_id  # a minute later it may again


def test_a_chinese_domain_is_tracked_as_the_browser_reports_it_and_its_mail_links_carry_the_contact() -> None:
    from crm_marketing.rules import settings as site_rules

    doc = site_rules.defaults()
    doc.sites.append(pb.TrackingSite(key="site-zh-001", name="官网", domains=["www.例子.中国"]))
    site_rules.check(doc)  # was refused: "a domain is a host name like example.cn"
    [site] = doc.sites
    assert list(site.domains) == ["xn--fsqu00a.xn--fiqs8s"]  # what location.href carries
    assert site_rules.url_allowed(site, "https://www.xn--fsqu00a.xn--fiqs8s/产品")
    assert site_rules.url_allowed(site, "https://例子.中国/产品")  # as a template's link may spell it
    assert not site_rules.url_allowed(site, "https://例子.example/")
    linked = tokens.with_contact("https://例子.中国/产品", KEY, "c-1", frozenset(site.domains))
    assert "crm_ct=" in linked
