"""The writes that read contacts: a retry of CreateSendWave with the same idempotency key gets the
first answer and never asks contacts again; contacts down at freeze time answers UNAVAILABLE and
writes nothing; an unsubscribe while contacts is down reaches it once it is back."""
from __future__ import annotations

import re
from typing import Any

import grpc
import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crmkit.testing import wait_for

from .conftest import consented, template

pytestmark = pytest.mark.integration


def setup(api: Any, contacts: Any) -> tuple[pb.SendWave, Any]:
    people = [contacts.add_contact(consented(f"客户{i}", f"c{i}@example.cn")) for i in range(3)]
    contacts.add_segment("seg-r", [p.id for p in people])
    campaign = api.mkt.CreateCampaign(pb.CreateCampaignRequest(campaign=pb.Campaign(name="Retry", type="email")))
    tpl = api.mkt.CreateTemplate(pb.CreateTemplateRequest(template=template()))
    return pb.SendWave(campaign_id=campaign.id, template_id=tpl.id, audience=pb.Audience(segment_ids=["seg-r"])), people


def test_create_wave_retry_returns_the_first_answer_without_asking_contacts(
        marketing: Any, api: Any, contacts: Any, rpc_error: Any) -> None:
    wave, people = setup(api, contacts)
    request = pb.CreateSendWaveRequest(wave=wave)
    first = api.mkt.CreateSendWave(request, key="wave-retry")
    asked = contacts.calls["ListSegmentMembers"]
    contacts.add_segment("seg-r", [people[0].id])  # the segment changes in contacts meanwhile
    again = api.mkt.CreateSendWave(request, key="wave-retry")
    assert again == first and again.counts.recipients == 3
    assert contacts.calls["ListSegmentMembers"] == asked
    assert marketing.events().count("crm.marketing.wave.created") == 1
    assert api.mkt.CreateSendWave(request, key="wave-new").counts.recipients == 1  # a new request sees it
    other = pb.CreateSendWaveRequest(wave=pb.SendWave(campaign_id=wave.campaign_id, template_id=wave.template_id,
                                                      audience=pb.Audience(contact_ids=[people[1].id])))
    assert rpc_error(api.mkt.CreateSendWave, other, "wave-retry").code() == grpc.StatusCode.ABORTED


def test_contacts_down_at_freeze_is_unavailable_and_an_unsubscribe_waits_for_it(
        marketing: Any, api: Any, contacts: Any, sink: Any, rpc_error: Any) -> None:
    wave, people = setup(api, contacts)
    contacts.unavailable = True
    assert rpc_error(api.mkt.CreateSendWave, pb.CreateSendWaveRequest(wave=wave)).code() == grpc.StatusCode.UNAVAILABLE
    assert "crm.marketing.wave.created" not in marketing.events()
    contacts.unavailable = False
    created = api.mkt.CreateSendWave(pb.CreateSendWaveRequest(wave=wave))
    api.mkt.StartSendWave(pb.StartSendWaveRequest(id=created.id))
    mail = sink.wait_for(3)[0]
    token = re.search(r"/unsubscribe/([A-Za-z0-9._-]+)", mail["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    contacts.unavailable = True
    api.public.Unsubscribe(pb.UnsubscribeRequest(token=token))  # effective here at once
    marketing.tick()
    assert contacts.consent_history == []
    contacts.unavailable = False
    marketing.restart()  # the owed withdrawal survives a restart too
    # the job backs off after a failure: it is due again within seconds; tick until contacts has it
    def recorded() -> bool:
        marketing.tick()
        return len(contacts.consent_history) == 1

    wait_for(recorded, timeout=20, interval=0.5, what="the consent withdrawal in contacts")
    assert contacts.consent_history[0][1].granted is False
    again = marketing.as_user("public").Unsubscribe(pb.UnsubscribeRequest(token=token))
    assert again.already_unsubscribed and len(contacts.consent_history) == 1


def test_create_ab_test_retry_returns_the_first_answer_without_asking_contacts(
        marketing: Any, api: Any, contacts: Any) -> None:
    wave, people = setup(api, contacts)
    request = pb.CreateAbTestRequest(test=pb.AbTest(
        campaign_id=wave.campaign_id, template_id=wave.template_id, audience=wave.audience, test_percent=100,
        variants=[pb.AbVariant(), pb.AbVariant(subject="另一个标题")]))
    first = api.mkt.CreateAbTest(request, key="ab-retry")
    asked = contacts.calls["ListSegmentMembers"]
    contacts.add_segment("seg-r", [people[0].id])
    again = api.mkt.CreateAbTest(request, key="ab-retry")
    assert again == first and again.test_size == 3
    assert contacts.calls["ListSegmentMembers"] == asked
    assert marketing.events().count("crm.marketing.abtest.created") == 1
