"""Drip / nurture sequences on the real schema with fakes at the ports: activation freezes a wave
per step, enrolment (by hand, from a wave, from sales' nurturing event), each step fired once on
its day with consent checked again, and the exits: converted, unsubscribed, replied, archived."""
from __future__ import annotations

import re
from typing import Any

import pytest

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.marketing.v1 import marketing_pb2 as pb
from crm.sales.v1 import events_pb2 as se
from crm.sales.v1 import sales_pb2 as spb
from crm.support.v1 import events_pb2 as te
from crm.support.v1 import support_pb2 as tpb
from crm_marketing import handlers, jobs
from crm_marketing.jobs import automation
from crm_marketing.rules.tracking import LinkMaker, tracking_key
from crm_marketing.usecases import campaigns, sequences, templates, tracking, waves
from crmkit.auth import Principal
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound
from crmkit.events import new_event
from crmkit.testing import ManualClock

from .conftest import NOW

MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
PUBLIC = Principal("public-web", ("public",), "", "", "visitor")
KEY = tracking_key("unit-test-secret")
LINKS = LinkMaker("https://crm.example/api/v1/public", KEY)
SENDER = "Shuniu <marketing@shuniu.example>"
FAST = jobs.SendOptions(rate=1_000_000, batch=50)


class World:
    def __init__(self, store: Any, mailer: Any) -> None:
        self.store, self.mailer = store, mailer
        self.clock = ManualClock(NOW)
        self.campaign = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="Nurture 2026", type="email")))
        self.templates = [self.template(f"第{i}封", f"第{i}封：{{{{ name }}}}，您好") for i in (1, 2, 3)]

    def template(self, name: str, subject: str) -> pb.Template:
        return self.store.write(lambda uow: templates.create(uow, principal=MKT, now=NOW, template=pb.Template(
            name=name, contents=[pb.TemplateContent(language="zh-CN", subject=subject,
                                                    html='<p>详情 <a href="https://shop.example/x">链接</a></p>')])))

    def sequence(self, days: tuple[int, ...] = (0, 3, 7), *, nurturing: bool = False,
                 activate: bool = True) -> pb.Sequence:
        steps = [pb.SequenceStep(day=d, template_id=self.templates[i].id) for i, d in enumerate(days)]
        made = self.store.write(lambda uow: sequences.create(uow, principal=MKT, now=self.clock(), sequence=pb.Sequence(
            name="新客培育", campaign_id=self.campaign.id, steps=steps, enroll_nurturing=nurturing),
            default_sender=SENDER))
        if not activate:
            return made
        return self.status(made, "active")

    def status(self, sequence: pb.Sequence, status: str) -> pb.Sequence:
        return self.store.write(lambda uow: sequences.change_status(
            uow, principal=MKT, now=self.clock(), sequence_id=sequence.id, status=status, expected_version=0,
            mail_enabled=True))

    def enrol(self, sequence: pb.Sequence, *contact_ids: str, wave_id: str = "") -> pb.EnrollContactsResponse:
        return self.store.write(lambda uow: sequences.enroll(uow, principal=MKT, now=self.clock(),
                                                             sequence_id=sequence.id, contact_ids=list(contact_ids),
                                                             wave_id=wave_id))

    def run(self) -> int:
        """The automation worker's tick, then the sender's."""
        fired = automation.run_once(self.store.db, self.clock())
        jobs.Sender(self.store.db, self.mailer, LINKS, self.clock, FAST).run_once(self.clock())
        return fired

    def subjects(self, email: str) -> list[str]:
        return [m.subject for m in self.mailer.to(email)]

    def enrolment(self, sequence: pb.Sequence, contact_id: str) -> pb.Enrollment:
        items, _ = self.store.read(lambda s: sequences.list_enrollments(
            s, principal=MKT, sequence_id=sequence.id, status="", page_size=0, page_token=""))
        return next(e for e in items if e.contact_id == contact_id)

    def event(self, producer: str, event_type: str, payload: Any) -> None:
        envelope = EventEnvelope.FromString(new_event(producer=producer, event_type=event_type,
                                                      aggregate_type="x", aggregate_id="x", aggregate_version=1,
                                                      payload=payload).data)
        self.store.write(lambda uow: handlers.handle(uow, envelope, now=self.clock()))


@pytest.fixture
def world(store: Any, mailer: Any) -> World:
    return World(store, mailer)


def test_a_sequence_needs_steps_in_order_with_templates_and_mail_to_start(world: World) -> None:
    with pytest.raises(InvalidArgument) as info:
        world.sequence((0, 3, 3))
    assert info.value.field == "steps[2].day"
    bad = pb.Sequence(name="x", campaign_id=world.campaign.id, steps=[pb.SequenceStep(day=0, template_id="nope")])
    with pytest.raises(NotFound) as missing:
        world.store.write(lambda uow: sequences.create(uow, principal=MKT, now=NOW, sequence=bad, default_sender=SENDER))
    assert missing.value.field == "steps[0].template_id"
    draft = world.sequence(activate=False)
    with pytest.raises(FailedPrecondition):
        world.store.write(lambda uow: sequences.change_status(uow, principal=MKT, now=NOW, sequence_id=draft.id,
                                                              status="active", expected_version=0, mail_enabled=False))
    with pytest.raises(FailedPrecondition):  # contacts join an active sequence only
        world.enrol(draft, "c-x")
    active = world.status(draft, "active")
    assert all(step.wave_id for step in active.steps)
    step_wave = world.store.read(lambda s: waves.get(s, principal=MKT, wave_id=active.steps[0].wave_id))
    assert (step_wave.kind, step_wave.source_id, step_wave.status, step_wave.variant) == (
        "sequence", active.id, "sending", "step-1")
    with pytest.raises(FailedPrecondition) as fixed:
        world.store.write(lambda uow: sequences.update(uow, principal=MKT, now=NOW, patch=pb.Sequence(
            id=active.id, steps=[pb.SequenceStep(day=1, template_id=world.templates[0].id)]), paths=["steps"],
            expected_version=0, default_sender=SENDER))
    assert fixed.value.field == "steps"


def test_each_step_goes_out_once_on_its_day_and_consent_is_checked_before_each(world: World) -> None:
    s = world.store
    wang = s.contact("王强", "wq@hbsteel.cn")
    li = s.contact("李娜", "ln@example.cn")
    s.contact("没同意", "no@example.cn", consent=False, id="c-no")
    sequence = world.sequence()
    answer = world.enrol(sequence, wang.id, li.id, "c-no", "c-unknown")
    assert (answer.enrolled, dict(answer.skipped)) == (3, {"unknown_contact": 1})
    assert world.enrol(sequence, wang.id).already_enrolled == 1  # once per sequence
    assert world.run() == 3
    assert world.subjects("wq@hbsteel.cn") == ["第1封：王强，您好"] and world.subjects("no@example.cn") == []
    assert world.run() == 0 and len(world.mailer.sent) == 2  # nothing twice
    first = s.read(lambda sess: waves.get(sess, principal=MKT, wave_id=sequence.steps[0].wave_id))
    assert (first.status, first.counts.delivered, dict(first.counts.skipped)) == ("sending", 2, {"no_consent": 1})

    s.contact("李娜", "ln@example.cn", consent=False, version=2, id=li.id)  # she withdraws before step 2
    world.clock.advance(days=2, hours=23)
    assert world.run() == 0  # day 3 has not come
    world.clock.advance(hours=2)
    assert world.run() == 3
    assert world.subjects("wq@hbsteel.cn")[-1] == "第2封：王强，您好" and len(world.subjects("ln@example.cn")) == 1
    world.clock.advance(days=4)
    world.run()
    assert len(world.subjects("wq@hbsteel.cn")) == 3
    assert world.enrolment(sequence, wang.id).status == "completed"
    assert (world.enrolment(sequence, li.id).status, world.enrolment(sequence, li.id).steps_done) == ("completed", 3)
    done = s.read(lambda sess: sequences.get(sess, principal=MKT, sequence_id=sequence.id))
    assert (done.counts.enrolled, done.counts.completed, done.counts.active) == (3, 3, 0)
    assert s.events().count("crm.marketing.enrollment.started") == 3
    assert s.events().count("crm.marketing.email.sent") == 4


def test_an_unsubscribe_from_a_step_mail_ends_the_enrolment_at_once(world: World) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn")
    sequence = world.sequence()
    world.enrol(sequence, wang.id)
    world.run()
    found = re.search(r"/unsubscribe/([A-Za-z0-9._-]+)", world.mailer.sent[0].headers["List-Unsubscribe"])
    assert found
    world.store.write(lambda uow: tracking.unsubscribe(uow, principal=PUBLIC, now=world.clock(), key=KEY,
                                                       token=found.group(1)))
    assert (world.enrolment(sequence, wang.id).status, world.enrolment(sequence, wang.id).exit_reason) == (
        "exited", "unsubscribed")
    world.clock.advance(days=10)
    world.run()
    assert len(world.mailer.sent) == 1


def test_sales_nurturing_enrols_and_a_conversion_or_a_reply_ends_it(world: World) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn")
    li = world.store.contact("李娜", "ln@example.cn")
    nurture = world.sequence(nurturing=True)
    other = world.sequence()
    for email in ("WQ@hbsteel.cn", "ln@example.cn", "stranger@example.cn"):
        world.event("sales", handlers.SALES.LEAD_NURTURING, se.LeadSentToNurturing(
            lead=spb.Lead(id=f"lead-{email}", email=email, status="nurturing"), reason="预算下季度"))
    assert world.enrolment(nurture, wang.id).source == "nurturing:lead-WQ@hbsteel.cn"
    assert world.store.read(lambda s: sequences.get(s, principal=MKT, sequence_id=other.id)).counts.enrolled == 0
    world.enrol(other, wang.id)
    world.run()
    world.event("sales", handlers.SALES.OPPORTUNITY_WON, se.OpportunityClosed(
        opportunity=spb.Opportunity(id="o-1", contact_id=wang.id, status="won")))
    for seq in (nurture, other):
        assert (world.enrolment(seq, wang.id).status, world.enrolment(seq, wang.id).exit_reason) == (
            "exited", "converted")
    world.event("support", handlers.SUPPORT.TICKET_CREATED, te.TicketCreated(ticket=tpb.Ticket(
        id="t-1", channel="email", requester_email="ln@example.cn")))
    assert world.enrolment(nurture, li.id).exit_reason == "replied"
    world.clock.advance(days=10)
    world.run()
    assert len(world.subjects("wq@hbsteel.cn")) == 2 and len(world.subjects("ln@example.cn")) == 1


def test_a_wave_enrols_whom_it_mailed_and_pause_archive_stop_the_steps(world: World) -> None:
    wang = world.store.contact("王强", "wq@hbsteel.cn", tags=("expo",))
    world.store.contact("没同意", "no@example.cn", consent=False, tags=("expo",))
    request = pb.SendWave(campaign_id=world.campaign.id, template_id=world.templates[0].id,
                          audience=pb.Audience(tags=["expo"]))
    wave = world.store.write(lambda uow: waves.create(uow, principal=MKT, now=NOW, wave=request,
                                                      members=waves.Members(), default_sender=SENDER))
    world.store.write(lambda uow: waves.start(uow, principal=MKT, now=NOW, wave_id=wave.id, expected_version=0,
                                              mail_enabled=True))
    world.run()
    sequence = world.sequence((1, 2))
    assert world.enrol(sequence, wave_id=wave.id).enrolled == 1  # only the one it mailed
    world.status(sequence, "paused")
    world.clock.advance(days=1, hours=1)
    assert world.run() == 0
    world.status(sequence, "active")
    assert world.run() == 1 and world.subjects("wq@hbsteel.cn")[-1] == "第1封：王强，您好"
    world.status(sequence, "archived")
    assert world.enrolment(sequence, wang.id).exit_reason == "archived"
    world.clock.advance(days=5)
    assert world.run() == 0
    step = world.store.read(lambda s: waves.get(s, principal=MKT, wave_id=sequence.steps[1].wave_id))
    assert step.status == "cancelled"
