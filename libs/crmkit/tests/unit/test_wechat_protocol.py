"""The WeChat / WeCom callback protocol against vectors computed outside this code (openssl enc
-aes-256-cbc -nopad over a hand-padded plaintext, and sha1sum over the sorted parts), so a bug
shared by the encrypting and the decrypting side cannot pass."""
from __future__ import annotations

import base64

import pytest

from crmkit.wechat.protocol import BadCallback, Endpoint, aes_key, build_xml, decrypt, encrypt, parse_xml, sign

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx5823bf96d3bd56c7"
MESSAGE = "<xml><Content><![CDATA[你好]]></Content></xml>".encode()
# openssl enc -aes-256-cbc -K <key hex> -iv <key hex[:32]> -nopad over
# b"0123456789abcdef" + len(MESSAGE) as 4 bytes big-endian + MESSAGE + APP_ID + 10 × b"\x0a"
VECTOR = ("Q3stYC6hdFzMh9T8HCvyDMwQK6xyeRZ7UnuZsYfP7/6Yf0piNuk7kxZYuxJFeZQQ6WWSSAGv9ZFJIKURndrGswiiPBEloTZX"
          "26Gr3A17Bn4FvUlR9H5YqIhWJz1IiXvR")


def test_the_key_is_the_base64_of_the_encoding_aes_key() -> None:
    key = aes_key(AES_KEY)
    assert key.hex() == "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051"
    with pytest.raises(ValueError, match="43 characters"):
        aes_key(AES_KEY[:-1])


def test_encryption_matches_the_vector_and_pads_to_32_bytes() -> None:
    ciphertext = encrypt(aes_key(AES_KEY), MESSAGE, APP_ID, nonce16=b"0123456789abcdef")
    assert ciphertext == VECTOR
    assert len(base64.b64decode(ciphertext)) % 32 == 0


def test_decryption_of_the_vector_gives_the_message_back() -> None:
    assert decrypt(aes_key(AES_KEY), VECTOR, APP_ID) == MESSAGE


def test_a_message_for_another_app_is_refused() -> None:
    with pytest.raises(BadCallback, match="another appid"):
        decrypt(aes_key(AES_KEY), VECTOR, "wx0000000000000000")


def test_a_broken_envelope_is_refused_not_crashed() -> None:
    other = aes_key(base64.b64encode(bytes(range(32))).decode()[:43])
    for ciphertext in ("not base64!", base64.b64encode(b"short").decode(), VECTOR[:-4] + "AAAA"):
        with pytest.raises(BadCallback):
            decrypt(aes_key(AES_KEY), ciphertext, APP_ID)
    with pytest.raises(BadCallback):
        decrypt(other, VECTOR, APP_ID)


def test_the_signature_is_sha1_of_the_sorted_parts() -> None:
    # printf '%s' 1372623149 1409659813 mytoken | sha1sum  (sorted, concatenated)
    assert sign("mytoken", "1409659813", "1372623149") == "9dc9c953710850a8f4aa17c44eb39ab1cc0f8184"


def test_xml_with_entities_or_a_dtd_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><xml><Content>&b;</Content></xml>'
    with pytest.raises(BadCallback, match="well-formed"):
        parse_xml(bomb)
    with pytest.raises(BadCallback):
        parse_xml(b"<xml><unclosed></xml>")
    assert parse_xml(build_xml({"Content": "a ]]> b", "CreateTime": "12"})) == {"Content": "a ]]> b", "CreateTime": "12"}


def _signed_post(endpoint: Endpoint, fields: dict[str, str]) -> tuple[dict[str, str], bytes]:
    envelope = encrypt(endpoint.key, build_xml(fields), endpoint.receiver_id)
    query = {"timestamp": "1700000000", "nonce": "n1", "encrypt_type": "aes",
             "msg_signature": sign(endpoint.token, "1700000000", "n1", envelope)}
    return query, build_xml({"ToUserName": "gh_x", "Encrypt": envelope})


def test_a_safe_mode_message_opens_and_a_tampered_one_does_not() -> None:
    endpoint = Endpoint("wechat", "tok", AES_KEY, APP_ID)
    fields = {"ToUserName": "gh_x", "FromUserName": "o-user", "CreateTime": "1700000000", "MsgType": "text",
              "Content": "发票开错了", "MsgId": "42"}
    query, body = _signed_post(endpoint, fields)
    message = endpoint.open(query, body)
    assert (message.from_user, message.content, message.dedup_key) == ("o-user", "发票开错了", "42")
    with pytest.raises(BadCallback) as refused:
        endpoint.open({**query, "nonce": "n2"}, body)
    assert refused.value.signature and refused.value.field == "msg_signature"


def test_events_dedup_by_sender_and_time_and_carry_the_scene() -> None:
    endpoint = Endpoint("wechat", "tok", AES_KEY, APP_ID)
    query, body = _signed_post(endpoint, {"ToUserName": "gh_x", "FromUserName": "o-user", "CreateTime": "1700000001",
                                          "MsgType": "event", "Event": "subscribe", "EventKey": "qrscene_spring-fair"})
    message = endpoint.open(query, body)
    assert (message.event, message.scene, message.dedup_key) == ("subscribe", "spring-fair", "o-user:1700000001")


def test_the_url_check_answers_echostr_plain_or_decrypted() -> None:
    plain = Endpoint("wechat", "tok", "", APP_ID)
    assert plain.verify_url({"timestamp": "1", "nonce": "2", "echostr": "e9", "signature": sign("tok", "1", "2")}) == "e9"
    with pytest.raises(BadCallback):
        plain.verify_url({"timestamp": "1", "nonce": "2", "echostr": "e9", "signature": "0" * 40})
    wecom = Endpoint("wecom", "tok", AES_KEY, "ww1234")
    echostr = encrypt(wecom.key, b"hello-check", "ww1234")
    answer = wecom.verify_url({"timestamp": "1", "nonce": "2", "echostr": echostr,
                               "msg_signature": sign("tok", "1", "2", echostr)})
    assert answer == "hello-check"


def test_a_safe_mode_account_refuses_a_plain_callback() -> None:
    endpoint = Endpoint("wechat", "tok", AES_KEY, APP_ID)
    body = build_xml({"ToUserName": "gh_x", "FromUserName": "o", "CreateTime": "1", "MsgType": "text", "MsgId": "1"})
    with pytest.raises(BadCallback, match="encrypted"):
        endpoint.open({"timestamp": "1", "nonce": "2", "signature": sign("tok", "1", "2")}, body)
