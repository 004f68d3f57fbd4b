"""SMS waves on the real schema with a fake provider: who is texted (consent for marketing_sms,
a phone, no duplicates), the template variables per recipient, the provider's refusals, the
opt-out reply that withdraws consent and is honoured by the next wave, and delivery receipts."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing.jobs.sms import SmsWaveSender
from crm_marketing.rules import sms as rules
from crm_marketing.rules.eligibility import ConsentState, Reachability
from crm_marketing.store import sending as send_store
from crm_marketing.usecases import campaigns, sms, waves
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.sms import OutgoingSms, SmsAccepted, SmsRejected, SmsUnavailable
from crmkit.testing import ManualClock

from .conftest import NOW

MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
PUBLIC = Principal("public-web", ("public",), "", "", "visitor")


@pytest.mark.parametrize("text", ["T", "t", "TD", " 退订 ", "退订。", "Ｔ", "STOP", "unsubscribe!", "N", "回T退订",
                                  "回TD退订", "T退订"])
def test_opt_out_words(text: str) -> None:
    assert rules.is_opt_out(text)


@pytest.mark.parametrize("text", ["T恤还有货吗", "谢谢", "", "test", "我不想退订"])
def test_other_replies_are_not_opt_outs(text: str) -> None:
    assert not rules.is_opt_out(text)


def test_consent_rule_for_sms() -> None:
    granted = {"marketing_sms": ConsentState(True, NOW)}
    assert rules.skip_reason(Reachability("", phone="+8613800138000", consents=granted), "marketing_sms") == ""
    assert rules.skip_reason(Reachability("a@b.c", phone="+8613800138000",
                                          consents={"marketing_email": ConsentState(True, NOW)}),
                             "marketing_sms") == "no_consent"  # mail consent is not sms consent
    assert rules.skip_reason(Reachability("", phone="", consents=granted), "marketing_sms") == "no_phone"
    opted_out = Reachability("", phone="+8613800138000", consents=granted, unsubscribed_at=NOW + timedelta(hours=1))
    assert rules.skip_reason(opted_out, "marketing_sms") == "unsubscribed"
    regranted = Reachability("", phone="+8613800138000", consents={"marketing_sms": ConsentState(True, NOW)},
                             unsubscribed_at=NOW - timedelta(hours=1))
    assert rules.skip_reason(regranted, "marketing_sms") == ""
    seen: set[str] = set()
    reach = Reachability("", phone="+8613800138000", consents=granted)
    assert [rules.skip_reason(reach, "marketing_sms", seen) for _ in range(2)] == ["", "duplicate_phone"]


def test_content_checks_name_the_variable() -> None:
    with pytest.raises(InvalidArgument) as bad:
        rules.check_content(pb.SmsContent(template_code="SMS_1", params={"name": "{{ first_name }}"}))
    assert bad.value.field == "wave.sms.params.name"
    with pytest.raises(InvalidArgument) as code:
        rules.check_content(pb.SmsContent(template_code="短信模板"))
    assert code.value.field == "wave.sms.template_code"
    with pytest.raises(InvalidArgument) as long:
        rules.render_params(pb.SmsContent(template_code="SMS_1", params={"x": "{{ name }}"}), {"name": "长" * 40})
    assert long.value.field == "sms.params.x"


class FakeProvider:
    def __init__(self) -> None:
        self.sent: list[OutgoingSms] = []
        self.refuse: dict[str, Exception] = {}

    def send(self, message: OutgoingSms) -> SmsAccepted:
        if message.phone in self.refuse:
            raise self.refuse[message.phone]
        self.sent.append(message)
        return SmsAccepted(f"biz-{len(self.sent)}")


class World:
    def __init__(self, store: Any, contacts: Any) -> None:
        self.store, self.contacts = store, contacts
        self.clock = ManualClock(NOW)
        self.provider = FakeProvider()
        self.campaign = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="双十二", type="social")))

    def person(self, key: str, phone: str, *, sms_consent: bool | None = True, tags: tuple[str, ...] = ("vip",)) -> str:
        contact = cpb.Contact(id=f"c-{key}", name=f"客户{key}", tags=list(tags), version=1,
                              phones=[cpb.Phone(number=phone, raw=phone)] if phone else [])
        if sms_consent is not None:
            contact.consents.add(purpose="marketing_sms", granted=sms_consent).at.FromDatetime(NOW)
        from crm_marketing.usecases import projection

        self.store.write(lambda uow: projection.apply_contact(uow.session, contact, NOW))
        return contact.id

    def wave(self, template_code: str = "SMS_900") -> pb.SendWave:
        request = pb.SendWave(campaign_id=self.campaign.id, channel="sms", audience=pb.Audience(tags=["vip"]),
                              sms=pb.SmsContent(template_code=template_code, sign_name="数牛",
                                                params={"name": "{{ name }}", "day": "12月12日"}))
        members = self.store.read(lambda s: waves.prepare(s, self.contacts, principal=MKT, wave=request))
        created = self.store.write(lambda uow: sms.create(uow, principal=MKT, now=self.clock(), wave=request,
                                                          members=members))
        return self.store.write(lambda uow: waves.start(uow, principal=MKT, now=self.clock(), wave_id=created.id,
                                                        expected_version=1, mail_enabled=False, sms_enabled=True))

    def send(self) -> int:
        return SmsWaveSender(self.store.db, self.provider, self.clock, rate=1_000_000).run_once(self.clock())

    def get(self, wave: pb.SendWave) -> pb.SendWave:
        return self.store.read(lambda s: waves.get(s, principal=MKT, wave_id=wave.id))

    def report(self, **kw: Any) -> pb.ReportSmsEventsResponse:
        return self.store.write(lambda uow: sms.report_events(uow, principal=PUBLIC, now=self.clock(),
                                                              replies=kw.get("replies", []),
                                                              receipts=kw.get("receipts", [])))


@pytest.fixture
def world(store: Any, contacts: Any) -> World:
    return World(store, contacts)


def test_a_wave_texts_only_consenting_contacts_with_their_variables(world: World) -> None:
    world.person("a", "+8613800138000")
    world.person("b", "+8613800138001", sms_consent=None)
    world.person("c", "")
    world.person("d", "+8613800138000")  # the same number again
    wave = world.wave()
    assert dict(wave.sms_counts.skipped) == {"no_consent": 1, "no_phone": 1, "duplicate_phone": 1}
    assert world.send() == 1
    assert [(m.phone, m.template_code, dict(m.params), m.sign_name) for m in world.provider.sent] == [
        ("+8613800138000", "SMS_900", {"day": "12月12日", "name": "客户a"}, "数牛")]
    done = world.get(wave)
    assert done.status == "completed"
    assert (done.sms_counts.sent, done.sms_counts.pending, done.sms_counts.failed) == (1, 0, 0)
    assert world.store.read(lambda s: waves.get(s, principal=MKT, wave_id=wave.id)).counts.recipients == 0
    results = world.store.read(lambda s: campaigns.results(s, principal=MKT, campaign_id=world.campaign.id))
    assert (results.sms.sent, results.email.recipients) == (1, 0)


def test_an_email_template_on_an_sms_wave_is_refused(world: World) -> None:
    with pytest.raises(InvalidArgument) as refused:
        world.wave(template_code="")
    assert refused.value.field == "wave.sms.template_code"


def test_refusals_fail_or_wait_and_an_away_provider_pauses(world: World) -> None:
    world.person("a", "+8613800138000")
    world.person("b", "+8613800138001")
    world.person("c", "+8613800138002")
    world.provider.refuse = {"+8613800138000": SmsRejected(True, "isv.MOBILE_NUMBER_ILLEGAL", "bad"),
                             "+8613800138001": SmsRejected(False, "isv.BUSINESS_LIMIT_CONTROL", "flow")}
    wave = world.wave()
    world.send()
    counts = world.get(wave).sms_counts
    assert (counts.sent, counts.failed, counts.pending) == (1, 1, 1)  # the limited one waits, still owed
    world.provider.refuse = {"+8613800138001": SmsUnavailable("down")}
    world.clock.advance(minutes=1)
    assert world.send() == 0 and world.get(wave).status == "sending"
    world.provider.refuse = {}
    world.send()
    assert world.get(wave).status == "completed" and world.get(wave).sms_counts.sent == 2
    failed = world.store.read(lambda s: send_store.list_recipients(s, wave.id, "failed", "", 10, ""))[0]
    assert "isv.MOBILE_NUMBER_ILLEGAL" in failed[0].error


def test_an_opt_out_reply_withdraws_consent_and_the_next_wave_skips_them(world: World) -> None:
    world.person("a", "+8613800138000")
    world.person("b", "+8613800138001")
    first = world.wave()
    world.send()
    answer = world.report(replies=[pb.SmsReply(phone="13800138000", content="T"),
                                   pb.SmsReply(phone="13800138001", content="几点开始？")])
    assert (answer.opted_out, answer.replies_kept, answer.replies_unmatched) == (1, 2, 0)
    # contacts is told: a consent job RecordConsent(marketing_sms, withdrawn, sms_reply)
    with world.store.db.read() as session:
        jobs = send_store.due_consent_jobs(session, world.clock() + timedelta(seconds=1), 10)
    assert [(j.contact_id, j.purpose, j.granted, j.source) for j in jobs] == [("c-a", "marketing_sms", 0, "sms_reply")]
    assert world.get(first).sms_counts.opted_out == 1
    world.provider.sent.clear()
    second = world.wave()
    world.send()
    assert [m.phone for m in world.provider.sent] == ["+8613800138001"]
    assert dict(world.get(second).sms_counts.skipped) == {"unsubscribed": 1}
    kept = world.store.read(lambda s: sms.list_replies(s, principal=MKT, phone="", page_size=10, page_token=""))[0]
    assert {(r.content, r.opt_out) for r in kept} == {("T", True), ("几点开始？", False)}


def test_receipts_mark_delivered_or_failed(world: World) -> None:
    world.person("a", "+8613800138000")
    world.person("b", "+8613800138001")
    wave = world.wave()
    world.send()
    rows = world.store.read(lambda s: send_store.list_recipients(s, wave.id, "sent", "", 10, ""))[0]
    ids = {r.phone: r.message_id for r in rows}
    answer = world.report(receipts=[
        pb.SmsReceipt(out_id=ids["+8613800138000"], success=True, error_code="DELIVERED"),
        pb.SmsReceipt(out_id=ids["+8613800138001"], success=False, error_code="MK:0001", error_message="停机"),
        pb.SmsReceipt(out_id="m999999", success=True)])
    assert (answer.receipts_marked, answer.receipts_unmatched) == (2, 1)
    counts = world.get(wave).sms_counts
    assert (counts.sent, counts.delivered, counts.failed) == (2, 1, 1)


def test_a_reply_needs_a_phone(world: World) -> None:
    with pytest.raises(InvalidArgument) as bad:
        world.report(replies=[pb.SmsReply(phone="abc", content="T")])
    assert bad.value.field == "replies[0].phone"


def test_a_sequence_step_by_sms_texts_only_those_with_sms_consent(world: World, mailer: Any) -> None:
    from crm_marketing import jobs
    from crm_marketing.jobs import automation
    from crm_marketing.rules.tracking import LinkMaker, tracking_key
    from crm_marketing.usecases import sequences, templates

    store = world.store
    for key, phone, sms_ok in (("a", "+8613800138000", True), ("b", "+8613800138001", False)):
        contact = cpb.Contact(id=f"c-{key}", name=f"客户{key}", version=1, emails=[cpb.Email(address=f"{key}@x.example")],
                              phones=[cpb.Phone(number=phone)])
        contact.consents.add(purpose="marketing_email", granted=True).at.FromDatetime(NOW)
        if sms_ok:
            contact.consents.add(purpose="marketing_sms", granted=True).at.FromDatetime(NOW)
        from crm_marketing.usecases import projection

        store.write(lambda uow, c=contact: projection.apply_contact(uow.session, c, NOW))
    template = store.write(lambda uow: templates.create(uow, principal=MKT, now=NOW, template=pb.Template(
        name="欢迎", contents=[pb.TemplateContent(language="zh-CN", subject="{{ name }}您好", text="欢迎")])))
    with pytest.raises(InvalidArgument) as bad:
        store.write(lambda uow: sequences.create(uow, principal=MKT, now=NOW, default_sender="m@x.example",
                                                 sequence=pb.Sequence(name="x", campaign_id=world.campaign.id, steps=[
                                                     pb.SequenceStep(day=0, channel="sms")])))
    assert bad.value.field == "steps[0].sms.template_code"
    made = store.write(lambda uow: sequences.create(uow, principal=MKT, now=NOW, default_sender="m@x.example",
                                                    sequence=pb.Sequence(name="培育", campaign_id=world.campaign.id, steps=[
                                                        pb.SequenceStep(day=0, template_id=template.id),
                                                        pb.SequenceStep(day=3, channel="sms", sms=pb.SmsContent(
                                                            template_code="SMS_77", params={"name": "{{ name }}"}))])))
    active = store.write(lambda uow: sequences.change_status(uow, principal=MKT, now=NOW, sequence_id=made.id,
                                                             status="active", expected_version=0, mail_enabled=True))
    store.write(lambda uow: sequences.enroll(uow, principal=MKT, now=NOW, sequence_id=active.id,
                                             contact_ids=["c-a", "c-b"], wave_id=""))
    links = LinkMaker("https://crm.example/api/v1/public", tracking_key("k"))

    def tick() -> None:
        automation.run_once(store.db, world.clock())
        jobs.Sender(store.db, mailer, links, world.clock, jobs.SendOptions(rate=1_000_000)).run_once(world.clock())
        world.send()

    tick()
    assert len(mailer.sent) == 2 and world.provider.sent == []  # day 0: the mail to both
    world.clock.advance(days=3, minutes=1)
    tick()
    assert [(m.phone, dict(m.params)) for m in world.provider.sent] == [("+8613800138000", {"name": "客户a"})]
    step_wave = world.get(pb.SendWave(id=store.read(lambda s: sequences.get(
        s, principal=MKT, sequence_id=active.id)).steps[1].wave_id))
    assert step_wave.channel == "sms" and step_wave.status == "sending"  # continuous: never completes
    assert (step_wave.sms_counts.sent, dict(step_wave.sms_counts.skipped)) == (1, {"no_consent": 1})
    counts = store.read(lambda s: sequences.get(s, principal=MKT, sequence_id=active.id)).counts
    assert counts.completed == 2  # no SMS consent skips the step, not the rest of the sequence
