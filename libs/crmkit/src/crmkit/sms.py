"""The SMS port every service sends through: an `OutgoingSms` (phone, template code and its
parameters, signature name), the `SmsSender` protocol and its adapter for Alibaba Cloud's SMS
API (Dysmsapi `SendSms`, version 2017-05-25, RPC style, signature version 1.0 / HMAC-SHA1).

Chinese carriers only deliver pre-approved templates under a registered signature (签名), so a
message is a template code plus its parameters, never free text. The provider's answer maps to:

- `SmsAccepted` (its BizId, which its delivery receipt names, and our `out_id` echoed back);
- `SmsRejected(permanent=True)`: this message will never go (a bad number, a template or its
  parameters refused, the number's daily limit); `invalid_number` when the number itself is bad;
- `SmsRejected(permanent=False)`: try this one later (per-number flow control, a system error);
- `SmsUnavailable`: the provider or our account cannot send anything now (unreachable, 5xx, the
  key refused, the balance spent): the caller pauses. `handed` is True when the request went out
  and the answer was lost: the provider may have taken it.

Settings (`SmsSettings.from_env`): SMS_URL (the API's base URL; unset: this process sends no
SMS), SMS_ACCESS_KEY_ID and SMS_ACCESS_KEY_SECRET (from a Secret, never in the repository),
SMS_SIGN_NAME (the default signature name), SMS_REGION (default cn-hangzhou), SMS_TIMEOUT
(seconds, default 10). Plain http:// only to a loopback host (the local sink)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote, urlsplit

from crmkit import logs
from crmkit.config import ConfigError

log = logs.get("crmkit.sms")

API_VERSION = "2017-05-25"
DEFAULT_REGION = "cn-hangzhou"
DEFAULT_TIMEOUT = 10.0
MAX_PARAM = 35  # characters per template parameter the provider takes for a variable (longer: refused)

# Codes of the provider's answer, by what the caller should do. Anything not listed is permanent:
# retrying an unknown refusal would only spend money and the recipient's patience.
RETRYABLE = frozenset({
    "isv.BUSINESS_LIMIT_CONTROL",   # per-number flow control (minute / hour): later is fine
    "isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "InternalError", "ServiceUnavailable",
    "Throttling", "Throttling.User", "Throttling.Api", "Throttling.Concurrency",
})
ACCOUNT = frozenset({  # nothing will go until an operator acts: pause, do not fail recipients
    "isv.OUT_OF_SERVICE", "isv.AMOUNT_NOT_ENOUGH", "isv.ACCOUNT_NOT_EXISTS", "isv.ACCOUNT_ABNORMAL",
    "isp.RAM_PERMISSION_DENY", "Forbidden.RAM", "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive",
    "SignatureDoesNotMatch", "IncompleteSignature", "InvalidTimeStamp.Expired", "SignatureNonceUsed",
})
INVALID_NUMBER = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT"})


@dataclass(frozen=True)
class OutgoingSms:
    phone: str                                   # E.164, e.g. +8613800138000
    template_code: str                           # e.g. SMS_123456789 (approved by the provider)
    params: Mapping[str, str] = field(default_factory=dict)  # the template's ${variables}
    sign_name: str = ""                          # 签名; the sender's default when empty
    out_id: str = ""                             # ours, echoed in the delivery receipt


@dataclass(frozen=True)
class SmsAccepted:
    provider_id: str                             # the provider's BizId
    request_id: str = ""


class SmsRejected(Exception):
    """The provider refused this message (`code` its error code)."""

    def __init__(self, permanent: bool, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.permanent, self.code, self.message = permanent, code, message

    @property
    def invalid_number(self) -> bool:
        return self.code in INVALID_NUMBER


class SmsUnavailable(Exception):
    """Nothing can be sent now. `handed`: the request went out and its answer was lost."""

    def __init__(self, message: str, *, handed: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.handed, self.code = handed, code


class SmsSender(Protocol):
    def send(self, sms: OutgoingSms) -> SmsAccepted: ...


def classify(code: str, message: str = "") -> SmsRejected | SmsUnavailable | None:
    """The exception an answer's Code means (None for "OK")."""
    if code == "OK":
        return None
    if code in ACCOUNT:
        return SmsUnavailable(f"the SMS account cannot send: {code}: {message}", code=code)
    return SmsRejected(code not in RETRYABLE, code, message)


# -- the signature (RPC style, SignatureVersion 1.0)

def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8 bytes: only A-Z a-z 0-9 - _ . ~ stay as they are
    (a space is %20, "*" is %2A), what the provider's canonical form asks for."""
    return quote(value, safe="")  # keeps letters, digits and "_.-~" only


def canonical_query(params: Mapping[str, str]) -> str:
    """The parameters sorted by name (byte order), each name=value percent-encoded, joined by &."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Base64(HMAC-SHA1(secret + "&", StringToSign)): the value of the Signature parameter."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def provider_phone(phone: str) -> str:
    """E.164 → what the API takes: a mainland number as its 11 digits, any other as its digits
    with the country code (no "+")."""
    digits = phone.strip().lstrip("+")
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise SmsRejected(True, "isv.MOBILE_NUMBER_ILLEGAL", f"not a phone number: {phone!r}")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


_MAINLAND = re.compile(r"1[3-9]\d{9}")


def e164(number: str) -> str:
    """A number as the provider reports it (11 mainland digits, or digits with a country code,
    with or without + or 00) → E.164; "" when it is none."""
    digits = re.sub(r"[\s-]", "", number.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if _MAINLAND.fullmatch(digits):
        return "+86" + digits
    if digits.startswith("+") and digits[1:].isdigit() and 8 <= len(digits) <= 16:
        return digits
    if digits.isdigit() and 8 <= len(digits) <= 15:
        return "+" + digits
    return ""


# -- the adapter

@dataclass(frozen=True)
class SmsSettings:
    url: str | None = None
    access_key_id: str = ""
    access_key_secret: str = field(default="", repr=False)
    sign_name: str = ""
    region: str = DEFAULT_REGION
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmsSettings:
        env = os.environ if env is None else env
        url = (env.get("SMS_URL") or "").strip() or None
        if url is None:
            return cls()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"SMS_URL must be an http(s) URL, not {url!r}")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError("SMS_URL: plain http:// only to a local sink (127.0.0.1); use https://")
        key_id, secret = (env.get("SMS_ACCESS_KEY_ID") or "").strip(), (env.get("SMS_ACCESS_KEY_SECRET") or "").strip()
        for name, value in (("SMS_ACCESS_KEY_ID", key_id), ("SMS_ACCESS_KEY_SECRET", secret)):
            if not value:
                raise ConfigError(f"{name} is required with SMS_URL (from the SMS provider's Secret)")
        try:
            timeout = float(env.get("SMS_TIMEOUT") or DEFAULT_TIMEOUT)
        except ValueError:
            raise ConfigError("SMS_TIMEOUT is seconds") from None
        if timeout <= 0:
            raise ConfigError("SMS_TIMEOUT must be positive")
        return cls(url, key_id, secret, (env.get("SMS_SIGN_NAME") or "").strip(),
                   (env.get("SMS_REGION") or DEFAULT_REGION).strip(), timeout)


class AliyunSms:
    """SendSms over HTTP(S) POST, one connection per call (a bulk sender throttles to a few tens
    a second; the provider's own limits are per account and per number)."""

    def __init__(self, settings: SmsSettings, *, context: ssl.SSLContext | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 nonce: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        if not settings.url:
            raise ConfigError("SMS_URL is not set")
        parts = urlsplit(settings.url)
        self.settings = settings
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname or "", parts.port or (443 if self.https else 80)
        self.path = parts.path or "/"
        self.context = context or (ssl.create_default_context() if self.https else None)
        self._clock, self._nonce = clock, nonce

    def __repr__(self) -> str:
        return f"AliyunSms({self.settings.url})"

    def request_params(self, sms: OutgoingSms) -> dict[str, str]:
        """Every parameter of the request but Signature (what it signs)."""
        s = self.settings
        params = {
            "AccessKeyId": s.access_key_id, "Action": "SendSms", "Format": "JSON", "RegionId": s.region,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": self._nonce(), "SignatureVersion": "1.0",
            "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": API_VERSION,
            "PhoneNumbers": provider_phone(sms.phone), "SignName": sms.sign_name or s.sign_name,
            "TemplateCode": sms.template_code,
            "TemplateParam": json.dumps(dict(sms.params), ensure_ascii=False, separators=(",", ":")),
        }
        if sms.out_id:
            params["OutId"] = sms.out_id
        if not params["SignName"]:
            raise SmsRejected(True, "isv.SMS_SIGNATURE_ILLEGAL", "no signature name (SMS_SIGN_NAME or the message's)")
        if not sms.template_code:
            raise SmsRejected(True, "isv.SMS_TEMPLATE_ILLEGAL", "no template code")
        return params

    def body(self, sms: OutgoingSms) -> bytes:
        params = self.request_params(sms)
        sig = signature(self.settings.access_key_secret, "POST", params)
        return f"{canonical_query(params)}&Signature={percent_encode(sig)}".encode("ascii")

    def send(self, sms: OutgoingSms) -> SmsAccepted:
        data = self.body(sms)
        conn: http.client.HTTPConnection
        if self.https:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.settings.timeout,
                                               context=self.context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.settings.timeout)
        try:
            try:
                conn.connect()
            except OSError as exc:  # nothing went out
                raise SmsUnavailable(f"{self.settings.url} unreachable: {exc}") from None
            try:
                conn.request("POST", self.path, body=data,
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                                      "Accept": "application/json"})
                response = conn.getresponse()
                status, raw = response.status, response.read()
            except OSError as exc:  # the request may have arrived
                raise SmsUnavailable(f"{self.settings.url}: no answer: {exc}", handed=True) from None
        finally:
            conn.close()
        return _answer(status, raw, self.settings.url or "")


def _answer(status: int, raw: bytes, where: str) -> SmsAccepted:
    try:
        answer = json.loads(raw.decode("utf-8"))
        code, message = str(answer.get("Code", "")), str(answer.get("Message", ""))
    except (ValueError, AttributeError):
        answer, code, message = {}, "", raw[:200].decode("utf-8", "replace")
    if not code:
        raise SmsUnavailable(f"{where} answered HTTP {status} without a code: {message}", handed=status < 500)
    problem = classify(code, message)
    if problem is not None:
        raise problem
    return SmsAccepted(str(answer.get("BizId", "")), str(answer.get("RequestId", "")))


def sender_from_settings(settings: SmsSettings, *, context: ssl.SSLContext | None = None) -> AliyunSms | None:
    """The SMS sender of SMS_URL, or None (and a log line saying so) when SMS is off."""
    if not settings.url:
        log.info("SMS_URL is not set: this process sends no SMS")
        return None
    sender = AliyunSms(settings, context=context)
    log.info("SMS goes through %s", settings.url)
    return sender
