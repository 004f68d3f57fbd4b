"""The relay's bounce and complaint webhook through the gateway (issue 10): a hard bounce
suppresses the address, and the next wave to that audience skips it, counted as suppressed; a
soft bounce changes nothing; a rep may not report; bad input is a 400 naming the field."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import new_contact

pytestmark = pytest.mark.e2e


def test_a_bounce_from_the_relay_suppresses_the_address_for_the_next_wave(api: Callable[[str], Any],
                                                                          tag: str) -> None:
    mkt = api("marketing.hq")
    emails = []
    for name in ("退信", "满箱"):
        person = mkt.post("/contacts", json=new_contact(f"{name} {tag}", tags=[tag]))
        assert person.status_code == 201, person.text
        emails.append(person.json()["emails"][0]["address"])
        granted = mkt.post(f"/contacts/{person.json()['id']}/consents", json={
            "purpose": "marketing_email", "granted": True, "lawful_basis": "consent", "source": "web_form:e2e"})
        assert granted.status_code == 200, granted.text
    bounced, full = emails

    assert api("rep.north.1").post("/mail-feedback", json={"feedback": [{"email": bounced}]}).status_code == 403
    bad = mkt.post("/mail-feedback", json={"feedback": [{"email": bounced, "status": "five-one-one"}]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "feedback[0].status", bad.text
    report = mkt.post("/mail-feedback", json={"source": "relay-webhook", "feedback": [
        {"email": bounced, "kind": "bounce", "status": "5.1.1", "diagnostic": "550 5.1.1 user unknown"},
        {"email": full, "kind": "bounce", "status": "4.2.2", "diagnostic": "452 mailbox full"}]})
    assert report.status_code == 200, report.text
    assert (report.json().get("suppressed"), report.json().get("soft_bounces")) == (1, 1)

    segment = mkt.post("/segments", json={"name": f"bounce {tag}", "filter": {"tags_any": [tag]}})
    template = mkt.post("/email-templates", json={"name": f"bounce {tag}", "contents": [
        {"language": "zh-CN", "subject": "{{ name }}，您好", "text": "详情 https://shop.example/x"}]})
    campaign = mkt.post("/campaigns", json={"name": f"Bounce {tag}", "type": "email",
                                            "audience": {"segment_ids": [segment.json()["id"]]}})
    wave = mkt.post("/send-waves", json={"campaign_id": campaign.json()["id"], "template_id": template.json()["id"]})
    assert wave.status_code == 201, wave.text
    counts = wave.json()["counts"]
    assert (counts["recipients"], counts.get("pending"), counts["skipped"]) == (2, 1, {"suppressed": 1}), counts
    skipped = mkt.get(f"/send-waves/{wave.json()['id']}/recipients", params={"skip_reason": "suppressed"}).json()
    assert [r["email"] for r in skipped["items"]] == [bounced]


def test_an_abuse_report_from_a_feedback_loop_suppresses_the_complainer(api: Callable[[str], Any],
                                                                        tag: str) -> None:
    """An ISP's feedback loop mails an ARF report (RFC 5965) with our mail attached; posted as it
    is, the person it was sent to is suppressed and the next wave skips them."""
    mkt = api("marketing.hq")
    person = mkt.post("/contacts", json=new_contact(f"投诉 {tag}", tags=[tag]))
    assert person.status_code == 201, person.text
    email = person.json()["emails"][0]["address"]
    granted = mkt.post(f"/contacts/{person.json()['id']}/consents", json={
        "purpose": "marketing_email", "granted": True, "lawful_basis": "consent", "source": "web_form:e2e"})
    assert granted.status_code == 200, granted.text
    arf = "\r\n".join([
        "From: Feedback Loop <fbl@isp.example>", "To: abuse@shuniu.example", "Subject: Abuse report",
        "MIME-Version: 1.0", 'Content-Type: multipart/report; report-type=feedback-report; boundary="f1"', "",
        "--f1", "Content-Type: text/plain", "", "An abuse report.",
        "--f1", "Content-Type: message/feedback-report", "", "Feedback-Type: abuse", "Version: 1", "",
        "--f1", "Content-Type: message/rfc822", "", "From: Shuniu <marketing@shuniu.example>", f"To: {email}",
        "Message-ID: <not-ours@shuniu.example>", "Subject: offer", "", "Hello",
        "--f1--", ""]).encode()
    report = mkt.post("/mail-feedback/dsn", data=arf, headers={"Content-Type": "message/rfc822"})
    assert report.status_code == 200, report.text
    assert report.json().get("suppressed") == 1, report.json()

    segment = mkt.post("/segments", json={"name": f"arf {tag}", "filter": {"tags_any": [tag]}})
    template = mkt.post("/email-templates", json={"name": f"arf {tag}", "contents": [
        {"language": "zh-CN", "subject": "{{ name }}，您好", "text": "详情"}]})
    campaign = mkt.post("/campaigns", json={"name": f"ARF {tag}", "type": "email",
                                            "audience": {"segment_ids": [segment.json()["id"]]}})
    wave = mkt.post("/send-waves", json={"campaign_id": campaign.json()["id"], "template_id": template.json()["id"]})
    assert wave.status_code == 201, wave.text
    assert wave.json()["counts"]["skipped"] == {"suppressed": 1}, wave.json()["counts"]
