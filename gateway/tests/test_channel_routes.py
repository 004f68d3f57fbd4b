"""WeChat / WeCom callbacks through the gateway against the real support service (in-process,
SQLite): no bearer token, the URL check answers the echostr, a signed message is answered
"success" as text/plain and taken once, and a bad signature is a 403 problem+json naming the
signature, logged and counted."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_gateway.routes_channels import REFUSED
from crm_support.bootstrap import spec as make_spec
from crm_support.rules.channels import ChannelAccount
from crmkit.config import ServiceSettings
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import free_port
from crmkit.wechat.protocol import aes_key, build_xml, encrypt, sign

SECRET = "gateway-test-secret-0123456789abcdef"  # the gateway conftest's
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = ChannelAccount(name="shop", platform="wechat", token="gw-token", encoding_aes_key=AES,
                         app_id="wx5823bf96d3bd56c7", secret="s", api_base="http://127.0.0.1:9")
URL = "/api/v1/channels/wechat/shop"


@pytest.fixture(scope="module")
def support(nats_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceRuntime]:
    tmp: Path = tmp_path_factory.mktemp("support-channels")
    url = f"sqlite:///{tmp / 'support.db'}"
    spec = make_spec(contacts=lambda s: None, channels={"shop": ACCOUNT}, channel_interval=3600)
    upgrade(url, spec.migrations)
    settings = ServiceSettings.from_env("support", {
        "DATABASE_URL": url, "NATS_URL": nats_server.url, "PORT": str(free_port()), "METRICS_PORT": "0",
        "JWT_SECRET": SECRET, "DATA_DIR": str(tmp)})
    runtime = ServiceRuntime(spec, settings).start()
    yield runtime
    runtime.stop()


@pytest.fixture
def client(make_client: Any, settings: Any, support: ServiceRuntime) -> Any:
    return make_client(settings, optional_addrs={"support": support.address})


def signed(msg_id: str, *, token: str = "gw-token") -> tuple[str, bytes]:
    now = str(int(time.time()))  # the service refuses callbacks signed more than a day away
    fields = {"ToUserName": "gh_shop", "FromUserName": "o-buyer", "CreateTime": now, "MsgType": "text",
              "Content": "你好", "MsgId": msg_id}
    envelope = encrypt(aes_key(AES), build_xml(fields), ACCOUNT.app_id)
    query = (f"?timestamp={now}&nonce=n{msg_id}&encrypt_type=aes&openid=o-buyer"
             f"&msg_signature={sign(token, now, f'n{msg_id}', envelope)}")
    return query, build_xml({"ToUserName": "gh_shop", "Encrypt": envelope})


def test_the_url_check_answers_the_echostr_without_a_token(client: Any) -> None:
    ok = client.get(f"{URL}?signature={sign('gw-token', '1', '2')}&timestamp=1&nonce=2&echostr=abc123")
    assert (ok.status_code, ok.mimetype, ok.get_data(as_text=True)) == (200, "text/plain", "abc123")


def test_a_signed_message_is_answered_success_once(client: Any) -> None:
    query, body = signed("7001")
    first = client.post(URL + query, data=body, content_type="text/xml")
    assert (first.status_code, first.get_data(as_text=True)) == (200, "success")
    again = client.post(URL + query, data=body, content_type="text/xml")  # the platform's retry
    assert (again.status_code, again.get_data(as_text=True)) == (200, "success")


def test_a_bad_signature_is_403_logged_and_counted(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    query, body = signed("7002", token="not-the-token")
    before = REFUSED.labels("wechat", "bad_signature")._value.get()
    with caplog.at_level(logging.WARNING, logger="crm_gateway.channels"):
        refused = client.post(URL + query, data=body, content_type="text/xml")
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["errors"][0]["field"] == "msg_signature"
    assert any("refused a wechat callback for account shop" in r.getMessage() for r in caplog.records)
    assert REFUSED.labels("wechat", "bad_signature")._value.get() == before + 1


def test_bad_requests_name_what_is_wrong(client: Any) -> None:
    query, body = signed("7003")
    assert client.post("/api/v1/channels/qq/shop" + query, data=body).status_code == 404
    assert client.post("/api/v1/channels/wechat/nobody" + query, data=body).status_code == 404
    empty = client.post(URL + query, data=b"  ")
    assert empty.status_code == 400 and empty.get_json()["errors"][0]["field"] == "body"
    unknown = client.post(URL + query + "&debug=1", data=body)
    assert unknown.status_code == 400 and unknown.get_json()["errors"][0]["field"] == "debug"
    broken = client.post(URL + query, data=b"<xml><Encrypt>", content_type="text/xml")
    assert broken.status_code == 400
