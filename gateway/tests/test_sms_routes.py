"""SMS through the gateway (issue 15) against contract fakes: an sms wave is CreateSendWave with
channel sms; the provider's callbacks need the URL's token (403 otherwise, marketing never
called), malformed pushes are a 400 naming the item and field, replies and marketing's receipts
go to marketing, and receipts of ticket SMS (out_id s…) to support; the answer is the provider's
expected acknowledgement."""
from __future__ import annotations

from typing import Any

import pytest

from crm.support.v1 import support_pb2
from crmkit.auth import Principal, mint_token

SECRET = "gateway-test-secret-0123456789abcdef"  # the conftest's
TOKEN = "callback-token-0123456789"
MKT = {"Authorization": f"Bearer {mint_token(Principal('mkt.1', ('marketing',), 'marketing', 'east'), SECRET)}"}
REPLIES, REPORTS = "/api/v1/public/sms/replies", "/api/v1/public/sms/reports"


@pytest.fixture
def gw(make_client: Any, settings: Any, marketing_server: Any, recorder: Any) -> Any:
    support = recorder(support_pb2)
    client = make_client(settings, sms_callback_secret=TOKEN, optional_addrs={
        "marketing": f"127.0.0.1:{marketing_server[1].port}", "support": support.address})
    client.support = support
    return client


def test_an_sms_wave_is_a_send_wave_of_channel_sms(gw: Any, marketing: Any) -> None:
    created = gw.post("/api/v1/sms-waves", headers=MKT, json={
        "campaign_id": "c1", "audience": {"tags": ["vip"]},
        "sms": {"template_code": "SMS_1", "params": {"name": "{{ name }}"}}})
    assert created.status_code == 201, created.get_json()
    sent = marketing.last("CreateSendWave").request.wave
    assert (sent.channel, sent.sms.template_code, dict(sent.sms.params)) == ("sms", "SMS_1", {"name": "{{ name }}"})
    bad = gw.post("/api/v1/sms-waves", headers=MKT, json={"campaign_id": "c1", "sms": {
        "template_code": "SMS_1", "params": {"名字": "x"}}})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"].startswith("sms.params")
    mail_fields = gw.post("/api/v1/send-waves", headers=MKT, json={"campaign_id": "c1", "template_id": "t1",
                                                                  "channel": "sms"})
    assert mail_fields.status_code == 400 and mail_fields.get_json()["errors"][0]["field"] == "channel"


@pytest.mark.parametrize("query", ["", "?token=wrong", "?token="])
def test_a_callback_without_its_token_is_refused(gw: Any, marketing: Any, query: str) -> None:
    answer = gw.post(REPLIES + query, json=[{"phone_number": "13800138000", "content": "T"}])
    assert answer.status_code == 403 and answer.mimetype == "application/problem+json"
    assert "ReportSmsEvents" not in marketing.methods()


def test_the_token_may_come_in_a_header(gw: Any, marketing: Any) -> None:
    answer = gw.post(REPLIES, headers={"Crm-Sms-Token": TOKEN}, json={"phone_number": "13800138000", "content": "T"})
    assert answer.status_code == 200 and answer.get_json() == {"code": 0, "msg": "成功"}
    assert marketing.last("ReportSmsEvents").request.replies[0].content == "T"


def test_replies_reach_marketing_as_pushed(gw: Any, marketing: Any) -> None:
    answer = gw.post(f"{REPLIES}?token={TOKEN}", json=[
        {"phone_number": "13800138000", "content": "T", "sign_name": "数牛", "send_time": "2026-12-01 10:00:00",
         "dest_code": "", "sequence_id": 7}])
    assert answer.status_code == 200, answer.get_json()
    (reply,) = marketing.last("ReportSmsEvents").request.replies
    assert (reply.phone, reply.content, reply.sign_name, reply.sent_at) == (
        "13800138000", "T", "数牛", "2026-12-01 10:00:00")


def test_receipts_split_between_marketing_and_support(gw: Any, marketing: Any) -> None:
    answer = gw.post(f"{REPORTS}?token={TOKEN}", json=[
        {"phone_number": "13800138000", "biz_id": "b1", "out_id": "m12", "success": True, "err_code": "DELIVERED"},
        {"phone_number": "13800138001", "biz_id": "b2", "out_id": "s3", "success": False, "err_code": "MK:0001",
         "err_msg": "停机"}])
    assert answer.status_code == 200, answer.get_json()
    assert [r.out_id for r in marketing.last("ReportSmsEvents").request.receipts] == ["m12"]
    (ticket,) = gw.support.last("ReportSmsReceipts").request.receipts
    assert (ticket.out_id, ticket.success, ticket.error_code, ticket.error_message) == ("s3", False, "MK:0001", "停机")


@pytest.mark.parametrize(("body", "field"), [
    ("not json", "body"),
    ([], "body"),
    ([{"content": "T"}], "body[0].phone_number"),
    ([{"phone_number": ["x"], "content": "T"}], "body[0].phone_number"),
])
def test_a_malformed_reply_push_names_what_is_wrong(gw: Any, marketing: Any, body: Any, field: str) -> None:
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {"json": body}
    answer = gw.post(f"{REPLIES}?token={TOKEN}", **kwargs)
    assert answer.status_code == 400 and answer.get_json()["errors"][0]["field"] == field
    assert "ReportSmsEvents" not in marketing.methods()


def test_a_receipt_needs_success_and_an_id(gw: Any) -> None:
    no_flag = gw.post(f"{REPORTS}?token={TOKEN}", json=[{"out_id": "m1", "success": "yes"}])
    assert no_flag.status_code == 400 and no_flag.get_json()["errors"][0]["field"] == "body[0].success"
    no_id = gw.post(f"{REPORTS}?token={TOKEN}", json=[{"success": True}])
    assert no_id.status_code == 400 and no_id.get_json()["errors"][0]["field"] == "body[0].out_id"
