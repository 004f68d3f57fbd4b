"""The callback protocol of WeChat Official Accounts (plain and safe mode) and WeCom apps.

- Signature: SHA1 over the sorted, concatenated [token, timestamp, nonce] (plain mode, the
  `signature` query parameter) or [token, timestamp, nonce, encrypt] (safe mode and WeCom, the
  `msg_signature` parameter), as lower-case hex.
- Envelope: AES-256-CBC with key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7 padding to
  a multiple of 32 bytes; plaintext = 16 random bytes + 4-byte big-endian length + the message
  XML + the receiver id (appid / corpid), which must be ours.
- Messages: XML parsed with defusedxml (no entities, no DTDs): text, image, event.

Every failure is a `BadCallback` naming what was wrong; callers answer 403 for signatures and
400 for the rest, never a 500."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree as SafeXml

BLOCK = 32  # the platforms pad to 32 bytes, not AES's 16
MAX_BODY = 256 * 1024  # a callback is a few KB; anything larger is not the platform's


class BadCallback(Exception):
    """A callback we refuse. `signature`: the signature did not check (403), else malformed (400)."""

    def __init__(self, message: str, *, field: str, signature: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.signature = signature


def sign(*parts: str) -> str:
    """SHA1 hex of the sorted parts, concatenated (token, timestamp, nonce[, encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def check_signature(expected: str, *parts: str, field: str) -> None:
    if not expected or not hmac.compare_digest(sign(*parts), expected.strip().lower()):
        raise BadCallback(f"{field} does not match", field=field, signature=True)


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key of a 43-character EncodingAESKey."""
    if len(encoding_aes_key) != 43:
        raise ValueError("an EncodingAESKey has 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise ValueError("an EncodingAESKey is base64 (A-Z a-z 0-9 + /)") from None
    if len(key) != 32:
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def encrypt(key: bytes, message: bytes, receiver_id: str, *, nonce16: bytes | None = None) -> str:
    """The base64 ciphertext of `message` for `receiver_id`; `nonce16` fixes the random prefix
    (test vectors)."""
    prefix = nonce16 if nonce16 is not None else os.urandom(16)
    if len(prefix) != 16:
        raise ValueError("the random prefix is 16 bytes")
    plain = _pad(prefix + struct.pack(">I", len(message)) + message + receiver_id.encode("utf-8"))
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")


def decrypt(key: bytes, ciphertext: str, receiver_id: str) -> bytes:
    """The message inside an envelope; BadCallback when it is not for `receiver_id` or broken."""
    try:
        raw = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise BadCallback("Encrypt is not base64", field="Encrypt") from None
    if not raw or len(raw) % 16:
        raise BadCallback("Encrypt is not whole AES blocks", field="Encrypt")
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(raw) + dec.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise BadCallback("Encrypt does not decrypt with this EncodingAESKey", field="Encrypt")
    body = plain[16:-pad]
    if len(body) < 4:
        raise BadCallback("Encrypt holds no message", field="Encrypt")
    (length,) = struct.unpack(">I", body[:4])
    if length > len(body) - 4:
        raise BadCallback("Encrypt's length prefix is longer than its content", field="Encrypt")
    message, receiver = body[4:4 + length], body[4 + length:]
    if not hmac.compare_digest(receiver, receiver_id.encode("utf-8")):
        raise BadCallback("the message is for another appid / corpid", field="Encrypt")
    return message


# -- XML

def parse_xml(data: bytes) -> dict[str, str]:
    """The child elements of a callback's <xml> root as a flat dict (text stripped of CDATA)."""
    if len(data) > MAX_BODY:
        raise BadCallback(f"the body is larger than {MAX_BODY} bytes", field="body")
    try:
        root: Element = SafeXml.fromstring(data, forbid_dtd=True)
    except Exception:  # noqa: BLE001 - ParseError, EntitiesForbidden, DTDForbidden ...: all malformed
        raise BadCallback("the body is not well-formed XML without DTDs or entities", field="body") from None
    if root.tag != "xml":
        raise BadCallback("the root element is not <xml>", field="body")
    return {child.tag: (child.text or "").strip() for child in root}


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_xml(fields: dict[str, str]) -> bytes:
    """<xml> with one element per field; numbers bare, text in CDATA (as the platforms send)."""
    inner = "".join(f"<{k}>{v if v.isdigit() else _cdata(v)}</{k}>" for k, v in fields.items())
    return f"<xml>{inner}</xml>".encode()


@dataclass(frozen=True)
class Message:
    """One callback message, normalized. `dedup_key` is what a redelivery repeats: MsgId for
    messages, FromUserName + CreateTime for events (they carry no MsgId)."""

    to_user: str
    from_user: str
    create_time: int
    msg_type: str            # text | image | voice | video | location | link | event ...
    content: str = ""
    msg_id: str = ""
    pic_url: str = ""
    media_id: str = ""
    event: str = ""          # subscribe | unsubscribe | CLICK | SCAN | VIEW ... (lower-cased)
    event_key: str = ""
    agent_id: str = ""

    @property
    def dedup_key(self) -> str:
        return self.msg_id or f"{self.from_user}:{self.create_time}"

    @property
    def scene(self) -> str:
        """The QR scene value of a subscribe (EventKey qrscene_<scene>) or a scan (EventKey <scene>)."""
        if self.event == "subscribe" and self.event_key.startswith("qrscene_"):
            return self.event_key[len("qrscene_"):]
        if self.event == "scan":
            return self.event_key
        return ""


def message_of(fields: dict[str, str]) -> Message:
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not fields.get(name):
            raise BadCallback(f"{name} is missing", field=name)
    try:
        created = int(fields["CreateTime"])
    except ValueError:
        raise BadCallback("CreateTime is not a number", field="CreateTime") from None
    return Message(
        to_user=fields["ToUserName"], from_user=fields["FromUserName"], create_time=created,
        msg_type=fields["MsgType"].lower(), content=fields.get("Content", ""), msg_id=fields.get("MsgId", ""),
        pic_url=fields.get("PicUrl", ""), media_id=fields.get("MediaId", ""),
        event=fields.get("Event", "").lower(), event_key=fields.get("EventKey", ""),
        agent_id=fields.get("AgentID", ""))


# -- one account's side of the protocol

@dataclass(frozen=True)
class Endpoint:
    """What verifying and opening a callback needs of one configured account."""

    platform: str            # wechat | wecom
    token: str
    encoding_aes_key: str    # "" for a plain-mode official account
    receiver_id: str         # the appid (official account) or corpid (WeCom)

    @property
    def key(self) -> bytes:
        return aes_key(self.encoding_aes_key)

    def verify_url(self, query: dict[str, str]) -> str:
        """The answer to the platform's URL check (GET): echostr, decrypted for WeCom."""
        timestamp, nonce, echostr = query.get("timestamp", ""), query.get("nonce", ""), query.get("echostr", "")
        if not echostr:
            raise BadCallback("echostr is missing", field="echostr")
        if self.platform == "wecom":
            check_signature(query.get("msg_signature", ""), self.token, timestamp, nonce, echostr,
                            field="msg_signature")
            return decrypt(self.key, echostr, self.receiver_id).decode("utf-8")
        check_signature(query.get("signature", ""), self.token, timestamp, nonce, field="signature")
        return echostr

    def open(self, query: dict[str, str], body: bytes) -> Message:
        """The message of a POSTed callback, after its signature checked."""
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        outer = parse_xml(body)
        encrypted = self.platform == "wecom" or query.get("encrypt_type", "") == "aes" or "Encrypt" in outer
        if not encrypted:
            if self.encoding_aes_key:
                raise BadCallback("this account takes encrypted (safe mode) callbacks only", field="encrypt_type")
            check_signature(query.get("signature", ""), self.token, timestamp, nonce, field="signature")
            return message_of(outer)
        envelope = outer.get("Encrypt", "")
        if not envelope:
            raise BadCallback("Encrypt is missing", field="Encrypt")
        check_signature(query.get("msg_signature", ""), self.token, timestamp, nonce, envelope,
                        field="msg_signature")
        if not self.encoding_aes_key:
            raise BadCallback("no EncodingAESKey is configured for this account", field="Encrypt")
        return message_of(parse_xml(decrypt(self.key, envelope, self.receiver_id)))
