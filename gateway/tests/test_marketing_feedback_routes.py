"""The SMTP relay's feedback through the gateway (issue 10): the webhook JSON reaches marketing as
sent, and a delivery status notification (RFC 3464) is read into its failed recipients with their
status, diagnostic and our original Message-ID; a DSN naming no failed recipient is answered with
zero counts, another media type refused, both without calling marketing."""
from __future__ import annotations

from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crmkit.auth import Principal, mint_token

SECRET = "gateway-test-secret-0123456789abcdef"  # the conftest's
MKT = {"Authorization": f"Bearer {mint_token(Principal('mkt.1', ('marketing',), 'marketing', 'east'), SECRET)}"}
DSN = b"""From: Mail Delivery System <MAILER-DAEMON@relay.example>
To: marketing@shuniu.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

The mail could not be delivered.
--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example

Final-Recipient: rfc822; gone@example.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.com>: user unknown

Final-Recipient: rfc822; fine@example.com
Action: delivered
Status: 2.0.0

--b1
Content-Type: text/rfc822-headers

From: Shuniu <marketing@shuniu.example>
Message-ID: <abc123@shuniu.example>
Subject: hi

--b1--
""".replace(b"\n", b"\r\n")


ARF = b"""From: Feedback Loop <fbl@isp.example>
To: abuse@shuniu.example
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="f1"

--f1
Content-Type: text/plain

This is an email abuse report for an email message received from you.
--f1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1
Original-Mail-From: <bounces@shuniu.example>
Arrival-Date: Tue, 1 Dec 2026 08:00:00 +0800

--f1
Content-Type: message/rfc822

From: Shuniu <marketing@shuniu.example>
To: Li Na <annoyed@example.com>
Message-ID: <wave7.r42@shuniu.example>
Subject: Our spring offer

Hello
--f1--
""".replace(b"\n", b"\r\n")


@pytest.fixture
def gw(marketing_gw: Any) -> Any:
    return marketing_gw


def test_the_webhook_json_reaches_marketing(gw: Any, marketing: Any) -> None:
    marketing.answers["ReportMailFeedback"] = pb.ReportMailFeedbackResponse(suppressed=1)
    sent = gw.post("/api/v1/mail-feedback", headers=MKT, json={"source": "relay-webhook", "feedback": [
        {"email": "gone@example.com", "kind": "complaint"}]})
    assert sent.status_code == 200 and sent.get_json()["suppressed"] == 1
    request = marketing.last("ReportMailFeedback").request
    assert (request.source, request.feedback[0].email, request.feedback[0].kind) == (
        "relay-webhook", "gone@example.com", "complaint")
    assert gw.post("/api/v1/mail-feedback", headers=MKT, json={"feedback": "x"}).status_code == 400
    marketing.calls.clear()
    for bad, field in (({"email": "two@a.example, b@b.example"}, "feedback[0].email"),
                       ({"email": "a@b.example", "status": "five"}, "feedback[0].status"),
                       ({"email": "a@b.example", "kind": "spam"}, "feedback[0].kind")):
        refused = gw.post("/api/v1/mail-feedback", headers=MKT, json={"feedback": [bad]})
        assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == field, refused.get_json()
    assert gw.post("/api/v1/mail-feedback", headers=MKT, json={"feedback": []}).status_code == 400
    assert marketing.calls == []  # refused before marketing is asked


def test_a_dsn_becomes_bounces_of_its_failed_recipients(gw: Any, marketing: Any) -> None:
    sent = gw.post("/api/v1/mail-feedback/dsn", headers={**MKT, "Content-Type": "message/rfc822"}, data=DSN)
    assert sent.status_code == 200, sent.get_json()
    request = marketing.last("ReportMailFeedback").request
    assert request.source == "dsn"
    assert [(f.email, f.kind, f.status, f.message_id) for f in request.feedback] == [
        ("gone@example.com", "bounce", "5.1.1", "<abc123@shuniu.example>")]
    assert "user unknown" in request.feedback[0].diagnostic

    marketing.calls.clear()
    nobody = DSN.replace(b"Action: failed", b"Action: delivered")
    nothing = gw.post("/api/v1/mail-feedback/dsn", headers={**MKT, "Content-Type": "message/rfc822"}, data=nobody)
    assert nothing.status_code == 200 and nothing.get_json()["suppressed"] == 0  # said, not dropped
    assert gw.post("/api/v1/mail-feedback/dsn", headers=MKT, json={"raw": "x"}).status_code == 415
    empty = gw.post("/api/v1/mail-feedback/dsn", headers={**MKT, "Content-Type": "message/rfc822"}, data=b" \r\n")
    assert empty.status_code == 400 and empty.get_json()["errors"][0]["field"] == "body"
    assert marketing.calls == []


def test_an_abuse_report_becomes_a_complaint_about_the_original_recipient(gw: Any, marketing: Any) -> None:
    sent = gw.post("/api/v1/mail-feedback/dsn", headers={**MKT, "Content-Type": "message/rfc822"}, data=ARF)
    assert sent.status_code == 200, sent.get_json()
    request = marketing.last("ReportMailFeedback").request
    assert request.source == "arf"
    assert [(f.email, f.kind, f.message_id) for f in request.feedback] == [
        ("annoyed@example.com", "complaint", "<wave7.r42@shuniu.example>")]

    # a report that names the recipient to remove wins over the returned mail's To
    named = ARF.replace(b"Version: 1\r\n", b"Version: 1\r\nRemoval-Recipient: other@example.com\r\n")
    gw.post("/api/v1/mail-feedback/dsn", headers={**MKT, "Content-Type": "message/rfc822"}, data=named)
    assert [f.email for f in marketing.last("ReportMailFeedback").request.feedback] == ["other@example.com"]

    # "not spam" is no complaint: nothing is suppressed, and the answer says so
    marketing.calls.clear()
    not_spam = ARF.replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")
    answer = gw.post("/api/v1/mail-feedback/dsn", headers={**MKT, "Content-Type": "message/rfc822"}, data=not_spam)
    assert answer.status_code == 200 and answer.get_json()["suppressed"] == 0
    assert marketing.calls == []
