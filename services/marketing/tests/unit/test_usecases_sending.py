"""Send waves end to end on the real schema with fakes at the ports: freeze, send through the
worker, consent and suppression, tracking links, unsubscribe with its retried consent job, and
what a crash mid-wave leaves behind."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing import jobs
from crm_marketing.ports import ContactGone, ContactRefused, ContactsUnavailable, GrpcContacts
from crm_marketing.rules.tracking import LinkMaker, tracking_key
from crm_marketing.tables import consent_jobs
from crm_marketing.usecases import campaigns, sending, templates, tracking, waves
from crmkit.auth import Principal
from crmkit.config import AuthSettings
from crmkit.credentials import ServiceCredentials
from crmkit.errors import FailedPrecondition, InvalidArgument
from crmkit.testing import ManualClock

from .conftest import NOW, fakes

MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
PUBLIC = Principal("public-web", ("public",), "", "", "visitor")
KEY = tracking_key("unit-test-secret")
LINKS = LinkMaker("https://crm.example/api/v1/public", KEY)
SENDER = "Shuniu 市场部 <marketing@shuniu.example>"
FAST = jobs.SendOptions(rate=1_000_000, batch=3, flush_every=2)


class World:
    def __init__(self, store: Any, contacts: Any, mailer: Any) -> None:
        self.store, self.contacts, self.mailer = store, contacts, mailer
        self.clock = ManualClock(NOW)
        self.campaign = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="Spring Expo", type="email")))
        self.template = store.write(lambda uow: templates.create(uow, principal=MKT, now=NOW, template=pb.Template(
            name="邀请", contents=[
                pb.TemplateContent(language="zh-CN", subject="{{ name }}，您好", text="详情 https://shop.example/expo",
                                   html='<p>{{ name }}</p><a href="https://shop.example/expo">展会</a>'
                                        '<a href="{{ unsubscribe_url }}">退订</a>'),
                pb.TemplateContent(language="en", subject="Hello {{ name }}", text="See https://shop.example/expo")])))

    def wave(self, **audience: Any) -> pb.SendWave:
        request = pb.SendWave(campaign_id=self.campaign.id, template_id=self.template.id,
                              audience=pb.Audience(**audience))
        members = self.store.read(lambda s: waves.prepare(s, self.contacts, principal=MKT, wave=request))
        created = self.store.write(lambda uow: waves.create(uow, principal=MKT, now=self.clock(), wave=request,
                                                            members=members, default_sender=SENDER))
        return self.store.write(lambda uow: waves.start(uow, principal=MKT, now=self.clock(), wave_id=created.id,
                                                        expected_version=1, mail_enabled=True))

    def sender(self, mailer: Any = None, options: jobs.SendOptions = FAST) -> jobs.Sender:
        return jobs.Sender(self.store.db, mailer or self.mailer, LINKS, self.clock, options)

    def send(self) -> int:
        return self.sender().run_once(self.clock())

    def counts(self, wave: pb.SendWave) -> pb.EmailCounts:
        return self.store.read(lambda s: waves.get(s, principal=MKT, wave_id=wave.id)).counts


@pytest.fixture
def world(store: Any, contacts: Any, mailer: Any) -> World:
    return World(store, contacts, mailer)


def token(mail: Any, kind: str) -> str:
    source = mail.headers["List-Unsubscribe"] if kind == "unsubscribe" else mail.html
    found = re.search(rf"/{kind}/([A-Za-z0-9._-]+)", source)
    assert found, f"no {kind} link in the mail"
    return found.group(1)


def test_freeze_then_send_mails_each_consented_recipient_once_and_counts_the_rest(world: World) -> None:
    s = world.store
    wang = s.contact("王强", "wq@hbsteel.cn", tags=("expo",))
    li = s.contact("Li Lei", "li@example.com", language="en")
    s.contact("没同意", "no@example.cn", consent=False, tags=("expo",))
    twin = s.contact("王强二号", "WQ@hbsteel.cn", id="c-zz-twin", tags=("expo",))
    s.contact("无邮箱", "", id="c-noemail", tags=("expo",))
    s.contact("排除", "ex@example.cn", tags=("expo", "competitor"))
    world.contacts.segments["seg-en"] = [li]
    wave = world.wave(segment_ids=["seg-en"], tags=["expo"], contact_ids=["c-unknown"], exclude_tags=["competitor"])
    assert wave.status == "sending" and wave.counts.recipients == 6 and wave.counts.pending == 2
    assert dict(wave.counts.skipped) == {"no_consent": 1, "duplicate_email": 1, "no_email": 1, "unknown_contact": 1}
    assert world.send() == 2
    assert world.send() == 0  # nothing twice
    to_wang, to_li = world.mailer.to("wq@hbsteel.cn"), world.mailer.to("li@example.com")
    assert len(to_wang) == len(to_li) == 1 and len(world.mailer.sent) == 2
    mail = to_wang[0]
    assert mail.subject == "王强，您好" and "<p>王强</p>" in mail.html and mail.sender == SENDER
    assert to_li[0].subject == "Hello Li Lei"  # her language
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.headers["List-Unsubscribe"].startswith("<https://crm.example/api/v1/public/unsubscribe/")
    assert mail.message_id == sending.message_id(wave, wang.id) and mail.message_id.endswith("@shuniu.example>")
    assert "https://shop.example" not in mail.html + mail.text and "/click/" in mail.text
    assert "/unsubscribe/" in mail.html and "/open/" in mail.html
    counts = world.counts(wave)
    assert (counts.sent, counts.delivered, counts.pending, counts.failed) == (2, 2, 0, 0)
    done = s.read(lambda sess: waves.get(sess, principal=MKT, wave_id=wave.id))
    assert done.status == "completed"
    assert s.events().count("crm.marketing.wave.completed") == 1
    assert twin.id  # the twin address was skipped, not mailed
    recipients, _ = s.read(lambda sess: waves.list_recipients(sess, principal=MKT, wave_id=wave.id, status="skipped",
                                                              reason="", page_size=0, page_token=""))
    assert {r.skip_reason for r in recipients} == {"no_consent", "duplicate_email", "no_email", "unknown_contact"}


def test_a_consent_withdrawn_after_the_freeze_is_honoured_at_send_time(world: World) -> None:
    s = world.store
    s.contact("王强", "wq@hbsteel.cn", tags=("expo",))
    s.contact("李娜", "ln@example.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    s.contact("李娜", "ln@example.cn", tags=("expo",), consent=False, version=2)  # crm.contacts.consent.changed
    world.send()
    assert [m.to for m in world.mailer.sent] == ["王强 <wq@hbsteel.cn>"]
    assert dict(world.counts(wave).skipped) == {"no_consent": 1}


def test_tracking_links_count_opens_and_clicks_and_redirect_only_to_the_mails_links(world: World) -> None:
    s = world.store
    s.contact("王强", "wq@hbsteel.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    world.send()
    mail = world.mailer.sent[0]
    for _ in range(3):
        s.write(lambda uow: tracking.record_open(uow, principal=PUBLIC, now=NOW, key=KEY, token=token(mail, "open")))
    url = s.write(lambda uow: tracking.resolve_click(uow, principal=PUBLIC, now=NOW, key=KEY,
                                                     token=token(mail, "click")))
    assert url.startswith("https://shop.example/expo?") and "utm_source=shuniu" in url
    assert "utm_medium=email" in url and f"utm_campaign={world.campaign.slug}" in url and "utm_content=main" in url
    forged = token(mail, "click").replace(".0.", ".5.")
    for bad in (forged, token(mail, "open"), "c.1.0.AAAAAAAAAAAAAAAAAAAAAA", ""):
        with pytest.raises(InvalidArgument) as info:
            s.write(lambda uow, t=bad: tracking.resolve_click(uow, principal=PUBLIC, now=NOW, key=KEY, token=t))
        assert (info.value.field, info.value.message) == ("token", "this link is not valid")
    counts = world.counts(wave)
    assert (counts.opened, counts.clicked, counts.open_rate, counts.click_rate) == (1, 1, 1.0, 1.0)
    events = s.events()
    assert (events.count("crm.marketing.email.opened"), events.count("crm.marketing.email.clicked")) == (1, 1)
    results = s.read(lambda sess: campaigns.results(sess, principal=MKT, campaign_id=world.campaign.id))
    assert (results.waves, results.email.delivered, results.email.opened) == (1, 1, 1)


def test_unsubscribe_is_immediate_here_and_reaches_contacts_through_a_retried_job(world: World) -> None:
    s = world.store
    wang = s.contact("王强", "wq@hbsteel.cn", tags=("expo",))
    world.wave(tags=["expo"])
    world.send()
    unsubscribe = token(world.mailer.sent[0], "unsubscribe")
    masked, already = s.write(lambda uow: tracking.unsubscribe(uow, principal=PUBLIC, now=NOW, key=KEY,
                                                               token=unsubscribe))
    assert (masked, already) == ("w***@hbsteel.cn", False)
    assert s.write(lambda uow: tracking.unsubscribe(uow, principal=PUBLIC, now=NOW, key=KEY, token=unsubscribe)) == (
        masked, True)
    assert s.events().count("crm.marketing.email.unsubscribed") == 1
    next_wave = world.wave(tags=["expo"])
    assert dict(next_wave.counts.skipped) == {"unsubscribed": 1} and next_wave.counts.pending == 0
    world.send()
    assert len(world.mailer.sent) == 1  # the next wave skipped them

    world.contacts.down = True
    assert jobs.record_consents(s.db, world.contacts, NOW) == 0
    assert jobs.record_consents(s.db, world.contacts, NOW + timedelta(seconds=1)) == 0  # backing off: not asked
    assert world.contacts.calls["record_consent"] == 1
    world.contacts.down = False
    assert jobs.record_consents(s.db, world.contacts, NOW + timedelta(seconds=6)) == 1
    assert jobs.record_consents(s.db, world.contacts, NOW + timedelta(hours=2)) == 0  # done once
    [recorded] = world.contacts.consents.values()
    assert (recorded.purpose, recorded.granted, recorded.source, recorded.recorded_by) == (
        "marketing_email", False, "unsubscribe_link", wang.id)


def test_a_consent_contacts_refuses_ends_its_job_with_the_refusal_instead_of_retrying_forever(
        world: World) -> None:
    s = world.store
    s.contact("王强", "wq@hbsteel.cn", tags=("expo",))
    world.wave(tags=["expo"])
    world.send()
    s.write(lambda uow: tracking.unsubscribe(uow, principal=PUBLIC, now=NOW, key=KEY,
                                             token=token(world.mailer.sent[0], "unsubscribe")))
    world.contacts.refusing = True
    assert jobs.record_consents(s.db, world.contacts, NOW) == 1  # taken: done with, not owed any more
    assert jobs.record_consents(s.db, world.contacts, NOW + timedelta(hours=2)) == 0
    assert world.contacts.calls["record_consent"] == 1
    [job] = s.read(lambda sess: sess.execute(select(consent_jobs)).all())
    assert job.done_at is not None and job.last_error.startswith("refused by contacts: INVALID_ARGUMENT")


class _Refusal(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "'newsletter' is not a consent purpose"


class _AnsweringClient:
    def __init__(self, code: grpc.StatusCode) -> None:
        self.code = code

    def call(self, method: str, request: object, **_: object) -> object:
        raise _Refusal(self.code)


@pytest.mark.parametrize(("code", "raised"), [
    (grpc.StatusCode.INVALID_ARGUMENT, ContactRefused), (grpc.StatusCode.FAILED_PRECONDITION, ContactRefused),
    (grpc.StatusCode.NOT_FOUND, ContactGone), (grpc.StatusCode.UNAVAILABLE, ContactsUnavailable),
    (grpc.StatusCode.PERMISSION_DENIED, ContactsUnavailable),  # configuration: fixed without a new call
])
def test_contacts_answers_to_a_consent_are_told_apart(code: grpc.StatusCode, raised: type[Exception]) -> None:
    port = GrpcContacts("127.0.0.1:1", ServiceCredentials(AuthSettings(jwt_secret="s" * 40, jwks_url=None, issuer=None, audience=None)))
    port._client = _AnsweringClient(code)  # type: ignore[assignment]
    with pytest.raises(raised):
        port.record_consent("c-1", cpb.Consent(purpose="newsletter", granted=True), key="k")


def test_a_refused_address_fails_and_is_suppressed_and_a_relay_away_pauses_the_wave(world: World) -> None:
    s = world.store
    s.contact("王强", "wq@hbsteel.cn", tags=("expo",))
    s.contact("错地址", "gone@example.cn", tags=("expo",))
    world.mailer.refuse["gone@example.cn"] = (True, 550)
    world.mailer.unavailable = True
    wave = world.wave(tags=["expo"])
    assert world.send() == 0 and world.counts(wave).pending == 2  # released, nothing lost
    world.mailer.unavailable = False
    assert world.send() == 1
    counts = world.counts(wave)
    assert (counts.delivered, counts.failed, counts.sent) == (1, 1, 2)
    again = world.wave(tags=["expo"])
    assert dict(again.counts.skipped) == {"suppressed": 1}


def test_a_crash_between_hand_off_and_record_resends_once_with_the_same_message_id(world: World) -> None:
    s = world.store
    for i in range(3):
        s.contact(f"客户{i}", f"c{i}@example.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    # A worker claims the batch and hands two mails over, then dies before recording anything.
    with s.db.unit_of_work() as uow:
        claim = sending.claim(uow, wave_id=wave.id, worker="dead", now=world.clock(), limit=10,
                              lease=timedelta(seconds=60), links=LINKS)
        uow.commit()
    relay = fakes.CheckingMailer()
    for item in claim.mails[:2]:
        relay.send(item.mail)
    assert world.sender(relay).run_once(world.clock()) == 0  # the claims are still live: nobody takes them
    world.clock.advance(seconds=61)
    assert world.sender(relay).run_once(world.clock()) == 1  # the relay knew the first two: only one left
    assert sorted(m.to for m in relay.sent) == sorted(f"客户{i} <c{i}@example.cn>" for i in range(3))
    assert world.counts(wave).delivered == 3

    # A plain relay cannot tell: the second copy carries the first one's Message-ID.
    wave2 = world.wave(tags=["expo"])
    with s.db.unit_of_work() as uow:
        first = sending.claim(uow, wave_id=wave2.id, worker="dead", now=world.clock(), limit=1,
                              lease=timedelta(seconds=60), links=LINKS).mails[0]
        uow.commit()
    world.mailer.send(first.mail)
    world.clock.advance(seconds=61)
    world.send()
    copies = [m for m in world.mailer.sent if m.to == first.mail.to]
    assert len(copies) == 2 and copies[0].message_id == copies[1].message_id
    assert len({m.message_id for m in world.mailer.sent}) == 3


def test_a_stopped_sender_releases_what_it_had_not_handed_over(world: World) -> None:
    s = world.store
    for i in range(4):
        s.contact(f"客户{i}", f"c{i}@example.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    sender = world.sender()

    class StopAfterOne(fakes.FakeMailer):  # type: ignore[misc, name-defined]
        def send(self, mail: Any) -> None:
            super().send(mail)
            sender.halt.set()

    sender.mailer = StopAfterOne()
    assert sender.run_once(world.clock()) == 1
    counts = world.counts(wave)
    assert (counts.delivered, counts.pending) == (1, 3)
    assert world.send() == 3  # a new process picks up at once: nothing was left claimed


def test_a_wave_needs_an_audience_a_live_campaign_and_mail(world: World) -> None:
    s = world.store
    request = pb.SendWave(campaign_id=world.campaign.id, template_id=world.template.id)
    with pytest.raises(InvalidArgument) as info:
        s.read(lambda sess: waves.prepare(sess, world.contacts, principal=MKT, wave=request))
    assert info.value.field == "wave.audience"
    s.contact("王强", "wq@hbsteel.cn", tags=("expo",))
    request.audience.tags.append("expo")
    members = s.read(lambda sess: waves.prepare(sess, world.contacts, principal=MKT, wave=request))
    created = s.write(lambda uow: waves.create(uow, principal=MKT, now=NOW, wave=request, members=members,
                                               default_sender=SENDER))
    with pytest.raises(FailedPrecondition):
        s.write(lambda uow: waves.start(uow, principal=MKT, now=NOW, wave_id=created.id, expected_version=1,
                                        mail_enabled=False))
    cancelled = s.write(lambda uow: waves.cancel(uow, principal=MKT, now=NOW, wave_id=created.id,
                                                 expected_version=1))
    assert cancelled.status == "cancelled" and dict(cancelled.counts.skipped) == {"cancelled": 1}
    with pytest.raises(InvalidArgument):
        bad = pb.SendWave(campaign_id=world.campaign.id, template_id=world.template.id, sender="not an address",
                          audience=pb.Audience(tags=["expo"]))
        s.write(lambda uow: waves.create(uow, principal=MKT, now=NOW, wave=bad, members=waves.Members(),
                                         default_sender=SENDER))
    with pytest.raises(InvalidArgument) as typo:  # no one can consent to it: every recipient was skipped
        bad = pb.SendWave(campaign_id=world.campaign.id, template_id=world.template.id, purpose="Marketing Email",
                          audience=pb.Audience(tags=["expo"]))
        s.write(lambda uow: waves.create(uow, principal=MKT, now=NOW, wave=bad, members=waves.Members(),
                                         default_sender=SENDER))
    assert typo.value.field == "wave.purpose"
    world.contacts.segments.clear()
    with pytest.raises(Exception) as missing:
        s.read(lambda sess: waves.prepare(sess, world.contacts, principal=MKT, wave=pb.SendWave(
            campaign_id=world.campaign.id, audience=pb.Audience(segment_ids=["seg-x"]))))
    assert getattr(missing.value, "field", "") == "audience.segment_ids"
    assert cpb.Contact  # the fake's snapshots are contacts' own messages


def test_a_segment_is_frozen_a_page_at_a_time_and_never_held_whole(world: World) -> None:
    """prepare projects each page of members as contacts lists it (fresh consent and address
    included) and keeps only their ids: the freeze of a big segment holds one page of snapshots."""
    s = world.store
    members = []
    for i in range(5):  # known to marketing only through the segment listing
        member = cpb.Contact(id=f"c-seg-{i}", name=f"成员{i}", version=3, emails=[cpb.Email(address=f"m{i}@example.cn")])
        member.consents.add(purpose="marketing_email", granted=i != 4, source="web_form").at.FromDatetime(NOW)
        members.append(member)
    world.contacts.segments["seg-big"] = members  # the fake lists two a page
    pages: list[int] = []

    def project(page: Any) -> None:
        pages.append(len(page))
        s.write(lambda uow: waves.project_page(uow, page, NOW))

    request = pb.SendWave(campaign_id=world.campaign.id, template_id=world.template.id,
                          audience=pb.Audience(segment_ids=["seg-big"]))
    prepared = s.read(lambda sess: waves.prepare(sess, world.contacts, principal=MKT, wave=request, project=project))
    assert pages == [2, 2, 1] and not prepared.unprojected
    assert prepared.by_segment == {"seg-big": [f"c-seg-{i}" for i in range(5)]}
    created = s.write(lambda uow: waves.create(uow, principal=MKT, now=NOW, wave=request, members=prepared,
                                               default_sender=SENDER))
    assert (created.counts.recipients, created.counts.pending, dict(created.counts.skipped)) == (5, 4, {"no_consent": 1})
    s.write(lambda uow: waves.start(uow, principal=MKT, now=NOW, wave_id=created.id, expected_version=1,
                                    mail_enabled=True))
    assert world.send() == 4 and world.mailer.to("m0@example.cn")[0].subject == "成员0，您好"
