"""A wave through the real runtime: the audience frozen from a segment (fake contacts) and a tag
(the CONTACTS stream's projection), mailed into a real SMTP sink with merged fields and the
one-click unsubscribe header; a contact without consent gets nothing; the links count opens and
clicks; an unsubscribe reaches contacts and the next wave skips them; a stop mid-wave and a
restart still give every recipient exactly one message."""
from __future__ import annotations

import re
from typing import Any

import grpc
import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing import jobs
from crmkit.testing import wait_for

from .conftest import consented, template

pytestmark = pytest.mark.integration


def campaign_and_template(api: Any) -> tuple[pb.Campaign, pb.Template]:
    campaign = api.mkt.CreateCampaign(pb.CreateCampaignRequest(campaign=pb.Campaign(
        name="Spring Expo 2026", type="trade_show", start_date="2026-04-01")))
    return campaign, api.mkt.CreateTemplate(pb.CreateTemplateRequest(template=template()))


def wave_done(api: Any, wave_id: str, timeout: float = 30.0) -> pb.SendWave:
    wait_for(lambda: api.mkt.GetSendWave(pb.GetSendWaveRequest(id=wave_id)).status == "completed", timeout,
             what=f"wave {wave_id} completed")
    return api.mkt.GetSendWave(pb.GetSendWaveRequest(id=wave_id))


def link(message: Any, kind: str) -> str:
    body = message["List-Unsubscribe"] if kind == "unsubscribe" else message.get_body(("html",)).get_content()
    found = re.search(rf"/api/v1/public/{kind}/([A-Za-z0-9._-]+)", body)
    assert found, f"no {kind} link"
    return found.group(1)


def test_consented_recipients_get_one_merged_mail_and_the_rest_are_counted(
        marketing: Any, api: Any, contacts: Any, sink: Any) -> None:
    wang = contacts.add_contact(consented("王强", "wang.qiang@hbsteel.cn"))
    li = contacts.add_contact(consented("Li Lei", "li.lei@example.com", language="en"))
    silent = contacts.add_contact(consented("赵敏", "zhao.min@example.cn", granted=False))
    contacts.add_segment("seg-expo", [wang.id, li.id, silent.id])
    tagged = consented("孙丽", "sun.li@example.cn", tags=["vip-2026"], id="c-sun-li")
    marketing.publish_contacts(tagged)  # known to marketing through the CONTACTS stream only
    wait_for(lambda: _known(api, tagged.id), what="the projection of the published contact")
    campaign, tpl = campaign_and_template(api)

    wave = api.mkt.CreateSendWave(pb.CreateSendWaveRequest(wave=pb.SendWave(
        campaign_id=campaign.id, template_id=tpl.id,
        audience=pb.Audience(segment_ids=["seg-expo"], tags=["vip-2026"]))))
    assert (wave.status, wave.counts.recipients, wave.counts.pending) == ("ready", 4, 3)
    assert dict(wave.counts.skipped) == {"no_consent": 1}
    api.mkt.StartSendWave(pb.StartSendWaveRequest(id=wave.id, expected_version=wave.version))
    done = wave_done(api, wave.id)
    messages = sink.wait_for(3)
    assert len(messages) == 3 and done.counts.delivered == 3
    by_to = {m["To"].addresses[0].addr_spec: m for m in messages}
    assert set(by_to) == {"wang.qiang@hbsteel.cn", "li.lei@example.com", "sun.li@example.cn"}
    assert "zhao.min@example.cn" not in by_to  # no consent, no mail
    mail = by_to["wang.qiang@hbsteel.cn"]
    assert str(mail["Subject"]) == "王强，诚邀您参加Spring Expo 2026"
    assert "尊敬的王强" in mail.get_body(("plain",)).get_content()
    assert str(by_to["li.lei@example.com"]["Subject"]) == "Li Lei, join us at Spring Expo 2026"
    assert mail["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8080/api/v1/public/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert len({m["Message-ID"] for m in messages}) == 3

    # the links: an open, a click to the mail's own link with UTM, a one-click unsubscribe
    api.public.RecordOpen(pb.RecordOpenRequest(token=link(mail, "open")))
    url = api.public.ResolveClick(pb.ResolveClickRequest(token=link(mail, "click"))).url
    assert url.startswith("https://shop.example/expo?utm_source=shuniu&utm_medium=email&utm_campaign=spring-expo-2026")
    gone = api.public.Unsubscribe(pb.UnsubscribeRequest(token=link(mail, "unsubscribe")))
    assert (gone.email_masked, gone.already_unsubscribed) == ("w***@hbsteel.cn", False)
    for bad in ("o.1.AAAAAAAAAAAAAAAAAAAAAA", link(mail, "open")):
        error = _error(api.public.ResolveClick, pb.ResolveClickRequest(token=bad))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    results = api.analyst.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=campaign.id))
    assert (results.email.delivered, results.email.opened, results.email.clicked, results.email.unsubscribed) == (
        3, 1, 1, 1)
    assert results.email.skipped["no_consent"] == 1

    marketing.tick()  # the consent job: contacts records the withdrawal
    [(contact_id, consent)] = contacts.consent_history
    assert (contact_id, consent.purpose, consent.granted, consent.source) == (
        wang.id, "marketing_email", False, "unsubscribe_link")

    second = api.mkt.CreateSendWave(pb.CreateSendWaveRequest(wave=pb.SendWave(
        campaign_id=campaign.id, template_id=tpl.id, audience=pb.Audience(segment_ids=["seg-expo"]))))
    assert dict(second.counts.skipped) == {"unsubscribed": 1, "no_consent": 1}
    assert second.counts.pending == 1
    events = marketing.events()
    for subject in ("crm.marketing.campaign.created", "crm.marketing.wave.created", "crm.marketing.wave.completed",
                    "crm.marketing.email.opened", "crm.marketing.email.clicked", "crm.marketing.email.unsubscribed"):
        assert subject in events


def _known(api: Any, contact_id: str) -> bool:
    try:
        api.mkt.PreviewTemplate(pb.PreviewTemplateRequest(template=template(), contact_id=contact_id))
        return True
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return False


def _error(fn: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn(request)
    return info.value


@pytest.fixture
def send_options() -> jobs.SendOptions:
    return jobs.SendOptions(rate=15, batch=5, flush_every=1)


def test_a_stop_mid_wave_and_a_restart_mail_every_recipient_exactly_once(
        marketing: Any, api: Any, contacts: Any, sink: Any) -> None:
    people = [contacts.add_contact(consented(f"客户{i:02d}", f"customer{i:02d}@example.cn")) for i in range(30)]
    contacts.add_segment("seg-all", [p.id for p in people])
    campaign, tpl = campaign_and_template(api)
    wave = api.mkt.CreateSendWave(pb.CreateSendWaveRequest(wave=pb.SendWave(
        campaign_id=campaign.id, template_id=tpl.id, audience=pb.Audience(segment_ids=["seg-all"]))))
    api.mkt.StartSendWave(pb.StartSendWaveRequest(id=wave.id))
    sink.wait_for(5)
    marketing.restart()  # SIGTERM's path: the mail in hand finishes and is recorded, the rest waits
    in_between = len(sink.files())
    assert in_between < 30, "the wave finished before the stop: nothing was tested"
    api = type(api)(marketing)
    done = wave_done(api, wave.id, timeout=60)
    messages = sink.wait_for(30)
    assert len(messages) == 30 and done.counts.delivered == 30 and done.counts.pending == 0
    recipients = sorted(m["To"].addresses[0].addr_spec for m in messages)
    assert recipients == sorted(f"customer{i:02d}@example.cn" for i in range(30))
    assert len({m["Message-ID"] for m in messages}) == 30
