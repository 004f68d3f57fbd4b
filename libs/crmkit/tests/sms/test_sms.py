"""crmkit.sms: the provider's request signature against a vector worked out by hand from the
documented algorithm, the error codes' meaning, and the adapter against the sink over a real
socket (signed requests accepted, a wrong key refused, receipts and replies pushed)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crmkit.config import ConfigError
from crmkit.sms import (
    AliyunSms,
    OutgoingSms,
    SmsRejected,
    SmsSettings,
    SmsUnavailable,
    canonical_query,
    classify,
    e164,
    provider_phone,
    signature,
    string_to_sign,
)
from crmkit.sms_sink import SmsSinkServer
from crmkit.testing import free_port, wait_for

AT = datetime(2026, 12, 1, 8, 30, 0, tzinfo=UTC)


def test_signature_of_a_request_matches_the_documented_steps_done_by_hand() -> None:
    params = {"Timestamp": "2026-12-01T08:30:00Z", "AccessKeyId": "testId", "SignName": "数牛",
              "TemplateParam": '{"name":"王 小明"}', "Action": "SendSms"}
    # 1. sorted by name, each part percent-encoded (space %20, non-ASCII as UTF-8 bytes, ":" %3A)
    canonical = ("AccessKeyId=testId&Action=SendSms&SignName=%E6%95%B0%E7%89%9B"
                 "&TemplateParam=%7B%22name%22%3A%22%E7%8E%8B%20%E5%B0%8F%E6%98%8E%22%7D"
                 "&Timestamp=2026-12-01T08%3A30%3A00Z")
    assert canonical_query(params) == canonical
    # 2. METHOD & encode("/") & encode(canonical): every % of step 1 becomes %25
    expected_sts = "POST&%2F&" + canonical.replace("%", "%25").replace("=", "%3D").replace("&", "%26")
    assert string_to_sign("POST", params) == expected_sts
    # 3. Base64(HMAC-SHA1(secret + "&", string to sign))
    digest = hmac.new(b"testSecret&", expected_sts.encode(), hashlib.sha1).digest()
    assert signature("testSecret", "POST", params) == base64.b64encode(digest).decode()
    assert signature("otherSecret", "POST", params) != signature("testSecret", "POST", params)


def test_request_carries_every_common_parameter_and_the_mainland_number_without_its_prefix() -> None:
    sender = AliyunSms(SmsSettings("https://sms.example.test/", "kid", "ksecret", "数牛"), clock=lambda: AT,
                       nonce=lambda: "n-1")
    params = sender.request_params(OutgoingSms("+8613800138000", "SMS_1", {"code": "42"}, out_id="m1"))
    assert params["PhoneNumbers"] == "13800138000"
    assert params["Timestamp"] == "2026-12-01T08:30:00Z"
    assert params["TemplateParam"] == '{"code":"42"}'
    assert (params["Action"], params["Version"], params["SignatureMethod"], params["SignatureVersion"]) == (
        "SendSms", "2017-05-25", "HMAC-SHA1", "1.0")
    assert params["SignName"] == "数牛" and params["OutId"] == "m1" and params["SignatureNonce"] == "n-1"
    body = sender.body(OutgoingSms("+8613800138000", "SMS_1", {"code": "42"}))
    from urllib.parse import parse_qsl

    sent = dict(parse_qsl(body.decode()))
    assert sent.pop("Signature") == signature("ksecret", "POST", sent)


def test_error_codes_mean_retry_later_never_or_pause() -> None:
    limited = classify("isv.BUSINESS_LIMIT_CONTROL", "flow control")
    assert isinstance(limited, SmsRejected) and not limited.permanent
    bad = classify("isv.MOBILE_NUMBER_ILLEGAL")
    assert isinstance(bad, SmsRejected) and bad.permanent and bad.invalid_number
    assert isinstance(classify("isv.SOMETHING_NEW"), SmsRejected) and classify("isv.SOMETHING_NEW").permanent
    assert isinstance(classify("isv.AMOUNT_NOT_ENOUGH"), SmsUnavailable)
    assert isinstance(classify("SignatureDoesNotMatch"), SmsUnavailable)
    assert classify("OK") is None


def test_phone_numbers_both_ways() -> None:
    assert provider_phone("+85291234567") == "85291234567"
    assert e164("13800138000") == "+8613800138000"
    assert e164("0085291234567") == "+85291234567"
    assert e164("T") == ""
    with pytest.raises(SmsRejected):
        provider_phone("+86 abc")


def test_settings_need_the_key_pair_and_https_off_loopback() -> None:
    assert SmsSettings.from_env({}).url is None
    with pytest.raises(ConfigError, match="SMS_ACCESS_KEY_SECRET"):
        SmsSettings.from_env({"SMS_URL": "https://sms.example.test/", "SMS_ACCESS_KEY_ID": "k"})
    with pytest.raises(ConfigError, match="https"):
        SmsSettings.from_env({"SMS_URL": "http://sms.example.test/", "SMS_ACCESS_KEY_ID": "k",
                              "SMS_ACCESS_KEY_SECRET": "s"})


class _Collector:
    """A callback receiver on a real socket, answering as the provider expects ({"code": 0})."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[dict[str, Any]]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((self.path, json.loads(data)))
                body = b'{"code":0,"msg":"ok"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_adapter_and_sink_over_a_socket(tmp_path: Path) -> None:
    hooks = _Collector()
    sink = SmsSinkServer(tmp_path, port=free_port(), key_id="kid", key_secret="ksecret",
                         report_url=hooks.url + "/reports", reply_url=hooks.url + "/replies").start()
    try:
        sender = AliyunSms(SmsSettings(sink.url, "kid", "ksecret", "数牛"))
        accepted = sender.send(OutgoingSms("+8613800138000", "SMS_100", {"name": "王"}, out_id="m7"))
        kept = sink.messages("+8613800138000")
        assert [(m["biz_id"], m["template_code"], m["params"], m["sign_name"]) for m in kept] == [
            (accepted.provider_id, "SMS_100", {"name": "王"}, "数牛")]
        assert json.loads((tmp_path / "messages.jsonl").read_text(encoding="utf-8").splitlines()[0])["out_id"] == "m7"
        wait_for(lambda: any(path == "/reports" for path, _ in hooks.received), what="a delivery receipt")
        receipt = next(body for path, body in hooks.received if path == "/reports")[0]
        assert (receipt["biz_id"], receipt["out_id"], receipt["success"]) == (accepted.provider_id, "m7", True)

        with pytest.raises(SmsUnavailable, match="SignatureDoesNotMatch"):  # a wrong secret: every send fails
            AliyunSms(SmsSettings(sink.url, "kid", "wrong", "数牛")).send(OutgoingSms("+8613800138001", "SMS_1"))
        sink.script("+8613800138002", send_code="isv.BUSINESS_LIMIT_CONTROL")
        with pytest.raises(SmsRejected) as limited:
            sender.send(OutgoingSms("+8613800138002", "SMS_1"))
        assert not limited.value.permanent
        assert len(sink.messages()) == 1

        status, _ = sink.reply("+8613800138000", "T")
        assert status == 200
        replies = [body for path, body in hooks.received if path == "/replies"]
        assert replies[0][0]["phone_number"] == "13800138000" and replies[0][0]["content"] == "T"
    finally:
        sink.stop()
        hooks.close()


def test_unreachable_provider_is_unavailable_and_nothing_was_handed(tmp_path: Path) -> None:
    with pytest.raises(SmsUnavailable) as away:
        AliyunSms(SmsSettings(f"http://127.0.0.1:{free_port()}/", "k", "s", "数牛")).send(
            OutgoingSms("+8613800138000", "SMS_1"))
    assert not away.value.handed
