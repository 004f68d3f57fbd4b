"""The access token is cached until shortly before it expires, fetched again when the platform
says it expired, and a send the platform refuses is reported with its errcode."""
from __future__ import annotations

import json
from typing import Any

import pytest

from crmkit.wechat.api import ApiAccount, SendFailed, TokenCache, send_text

ACCOUNT = ApiAccount("wechat", "wx1", "s3cret", "http://platform.test")


class FakePlatform:
    def __init__(self) -> None:
        self.now = 1000.0
        self.issued = 0
        self.valid: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.send_errcode = 0

    def clock(self) -> float:
        return self.now

    def http(self, method: str, url: str, body: bytes | None) -> dict[str, Any]:
        if "/cgi-bin/token" in url:
            self.issued += 1
            token = f"t{self.issued}"
            self.valid.add(token)
            return {"access_token": token, "expires_in": 7200}
        token = url.split("access_token=")[1]
        if token not in self.valid:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if self.send_errcode:
            return {"errcode": self.send_errcode, "errmsg": "refused"}
        self.sent.append(json.loads(body or b"{}"))
        return {"errcode": 0}


def test_the_token_is_reused_until_shortly_before_expiry() -> None:
    platform = FakePlatform()
    tokens = TokenCache(platform.http, platform.clock)
    assert tokens.token(ACCOUNT) == tokens.token(ACCOUNT) == "t1"
    platform.now += 7200 - 301  # still inside the lifetime less the early refresh
    assert tokens.token(ACCOUNT) == "t1"
    platform.now += 2
    assert tokens.token(ACCOUNT) == "t2"


def test_an_expired_token_error_fetches_a_new_one_and_sends_once() -> None:
    platform = FakePlatform()
    tokens = TokenCache(platform.http, platform.clock)
    tokens.token(ACCOUNT)
    platform.valid.clear()  # the platform expired it early (another process fetched a new one)
    send_text(tokens, ACCOUNT, "o-user", "您好")
    assert platform.sent == [{"touser": "o-user", "msgtype": "text", "text": {"content": "您好"}}]
    assert platform.issued == 2


def test_a_refused_send_says_why_and_whether_to_retry() -> None:
    platform = FakePlatform()
    tokens = TokenCache(platform.http, platform.clock)
    platform.send_errcode = 45015  # the reply window closed: retrying cannot help
    with pytest.raises(SendFailed) as refused:
        send_text(tokens, ACCOUNT, "o-user", "hi")
    assert refused.value.permanent and refused.value.errcode == 45015
    platform.send_errcode = -1  # system busy
    with pytest.raises(SendFailed) as busy:
        send_text(tokens, ACCOUNT, "o-user", "hi")
    assert not busy.value.permanent
