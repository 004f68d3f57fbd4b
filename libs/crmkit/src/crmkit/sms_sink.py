"""A local SMS provider for `make run` and tests: it speaks the SendSms API that crmkit.sms's
adapter calls (form-encoded POST, signature version 1.0 checked with its own key pair), keeps
every message it accepts, and pushes what a provider pushes to a customer's callbacks:

    python -m crmkit.sms_sink --dir var/sms --port 1026 \\
        --report-url http://127.0.0.1:8080/api/v1/public/sms/reports?token=... \\
        --reply-url  http://127.0.0.1:8080/api/v1/public/sms/replies?token=...

- `POST /` Action=SendSms → `{"Code":"OK","BizId":...}`, or the provider's error codes: a bad
  signature (SignatureDoesNotMatch, HTTP 400), a number that is none (isv.MOBILE_NUMBER_ILLEGAL),
  a missing parameter (isv.INVALID_PARAMETERS), a TemplateParam that is not a JSON object
  (isv.INVALID_JSON_PARAM), or what `POST /control/outcomes` scripted for a number.
- Each accepted message is one JSON line in `<dir>/messages.jsonl` (written and flushed before the
  answer) and one log line; `GET /messages[?phone=+86…]` lists them.
- A delivery receipt (the provider's SmsReport shape: phone_number, send_time, report_time,
  success, err_code, err_msg, biz_id, out_id) per accepted message goes to --report-url, retried
  until the callback answers 2xx.
- `POST /replies {"phone": "+8613800138000", "content": "T"}` pushes an inbound reply (SmsUp:
  phone_number, content, sign_name, send_time, sequence_id) to --reply-url and answers with the
  callback's status and body: how a person's "回T退订" is played by hand or by a test.

Not for production: it delivers nowhere."""
from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import signal
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from crmkit import logs
from crmkit.sms import e164, signature

log = logs.get("crmkit.sms_sink")
DEFAULT_KEY_ID, DEFAULT_KEY_SECRET = "sink-access-key", "sink-access-secret"
REQUIRED = ("AccessKeyId", "Action", "PhoneNumbers", "SignName", "SignatureNonce", "Signature", "TemplateCode",
            "Timestamp", "Version")
_CST = timezone(timedelta(hours=8))  # the provider reports times in Beijing time


def _cst(at: float) -> str:
    return datetime.fromtimestamp(at, _CST).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Outcome:
    """What the sink does with the next messages to one number (scripted by a test)."""

    send_code: str = ""           # answer SendSms with this error code instead of OK
    receipt_error: str = ""       # accept, then report a failed delivery with this err_code


@dataclass
class SinkState:
    directory: Path
    key_id: str
    key_secret: str
    report_url: str = ""
    reply_url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    pushes: queue.Queue[tuple[str, list[dict[str, Any]]] | None] = field(default_factory=queue.Queue)


def _error(code: str, message: str) -> dict[str, str]:
    return {"Code": code, "Message": message, "RequestId": str(uuid.uuid4()).upper()}


def send_sms(st: SinkState, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    """The provider's side of SendSms: (HTTP status, answer)."""
    missing = [name for name in REQUIRED if not params.get(name)]
    if "Signature" in missing or "AccessKeyId" in missing:
        return 400, _error("IncompleteSignature", "the request is not signed")
    if params.get("AccessKeyId") != st.key_id:
        return 404, _error("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    signed = {k: v for k, v in params.items() if k != "Signature"}
    if not _same(signature(st.key_secret, "POST", signed), params["Signature"]):
        return 400, _error("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
    with st.lock:
        if params["SignatureNonce"] in st.nonces:
            return 400, _error("SignatureNonceUsed", "Specified signature nonce was used already.")
        st.nonces.add(params["SignatureNonce"])
    if missing:
        return 200, _error("isv.INVALID_PARAMETERS", f"missing {', '.join(missing)}")
    if params["Action"] != "SendSms":
        return 400, _error("InvalidAction.NotFound", f"no action {params['Action']}")
    try:
        template_params = json.loads(params.get("TemplateParam") or "{}")
    except ValueError:
        template_params = None
    if not isinstance(template_params, dict):
        return 200, _error("isv.INVALID_JSON_PARAM", "TemplateParam is not a JSON object")
    phone = e164(params["PhoneNumbers"])
    if not phone or "," in params["PhoneNumbers"]:
        return 200, _error("isv.MOBILE_NUMBER_ILLEGAL", f"illegal mobile number {params['PhoneNumbers']}")
    with st.lock:
        outcome = st.outcomes.get(phone, Outcome())
        if outcome.send_code:
            return 200, _error(outcome.send_code, "scripted by the test")
        n = next(st.counter)
        now = time.time()
        biz_id = f"{n:06d}^{int(now * 1000)}"
        kept = {"biz_id": biz_id, "phone": phone, "sign_name": params["SignName"],
                "template_code": params["TemplateCode"], "params": template_params, "out_id": params.get("OutId", ""),
                "at": datetime.fromtimestamp(now, UTC).isoformat()}
        with (st.directory / "messages.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(kept, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        st.messages.append(kept)
    log.info("message kept", extra={"fields": {k: kept[k] for k in ("biz_id", "phone", "template_code", "out_id")}})
    if st.report_url:
        error = outcome.receipt_error
        st.pushes.put((st.report_url, [{
            "phone_number": params["PhoneNumbers"], "send_time": _cst(now), "report_time": _cst(time.time()),
            "success": not error, "err_code": error or "DELIVERED", "err_msg": error or "用户接收成功",
            "sms_size": "1", "biz_id": biz_id, "out_id": params.get("OutId", "")}]))
    return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": str(uuid.uuid4()).upper()}


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def reply(st: SinkState, phone: str, content: str, sign_name: str = "") -> tuple[int, bytes]:
    """Push one inbound message to the reply callback now: its (status, body)."""
    if not st.reply_url:
        return 409, b'{"error": "the sink has no --reply-url"}'
    digits = e164(phone).lstrip("+")
    local = digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
    item = {"phone_number": local, "send_time": _cst(time.time()), "content": content, "sign_name": sign_name,
            "dest_code": "", "sequence_id": next(st.counter)}
    return _post(st.reply_url, [item])


def _post(url: str, payload: list[dict[str, Any]]) -> tuple[int, bytes]:
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except OSError as exc:
        return 0, str(exc).encode()


def _pusher(st: SinkState, stop: threading.Event) -> None:
    """Delivery receipts to the report callback, each retried (1 s apart) until it answers 2xx."""
    while not stop.is_set():
        item = st.pushes.get()
        if item is None:
            return
        url, payload = item
        while not stop.is_set():
            status, body = _post(url, payload)
            if 200 <= status < 300:
                break
            log.warning("receipt push refused (%s): %s", status, body[:200].decode("utf-8", "replace"))
            stop.wait(1.0)


def _handler(st: SinkState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # one log line per kept message is enough

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/messages":
                self._json(404, {"error": "GET /messages[?phone=]"})
                return
            phone = e164(dict(parse_qsl(parts.query)).get("phone", ""))
            with st.lock:
                found = [m for m in st.messages if not phone or m["phone"] == phone]
            self._json(200, found)

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            raw = self._body()
            if parts.path == "/replies" or parts.path == "/control/outcomes":
                try:
                    asked = json.loads(raw or b"{}")
                    phone = e164(str(asked["phone"]))
                except (ValueError, KeyError, TypeError):
                    self._json(400, {"error": 'send {"phone": "+86...", ...}'})
                    return
                if parts.path == "/control/outcomes":
                    with st.lock:
                        st.outcomes[phone] = Outcome(str(asked.get("send_code", "")), str(asked.get("receipt_error", "")))
                    self._json(200, {"phone": phone})
                    return
                status, body = reply(st, phone, str(asked.get("content", "")), str(asked.get("sign_name", "")))
                self._json(200 if 200 <= status < 300 else 502,
                           {"callback_status": status, "callback_body": body.decode("utf-8", "replace")})
                return
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            status, answer = send_sms(st, params)
            self._json(status, answer)

    return Handler


class SmsSinkServer:
    """The sink on a thread: `start()`, `.url`, `.messages()`, `reply(phone, content)`, `stop()`."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 1026, *,
                 key_id: str = DEFAULT_KEY_ID, key_secret: str = DEFAULT_KEY_SECRET, report_url: str = "",
                 reply_url: str = "") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.state = SinkState(directory, key_id, key_secret, report_url, reply_url)
        self.host, self.port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> SmsSinkServer:
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(self.state))
        self.port = int(self._server.server_address[1])
        self._threads = [threading.Thread(target=self._server.serve_forever, name="sms-sink", daemon=True),
                         threading.Thread(target=_pusher, args=(self.state, self._stop), name="sms-sink-push",
                                          daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def messages(self, phone: str = "") -> list[dict[str, Any]]:
        wanted = e164(phone) if phone else ""
        with self.state.lock:
            return [dict(m) for m in self.state.messages if not wanted or m["phone"] == wanted]

    def script(self, phone: str, *, send_code: str = "", receipt_error: str = "") -> None:
        with self.state.lock:
            self.state.outcomes[e164(phone)] = Outcome(send_code, receipt_error)

    def reply(self, phone: str, content: str) -> tuple[int, bytes]:
        return reply(self.state, phone, content)

    def stop(self) -> None:
        self._stop.set()
        self.state.pushes.put(None)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crmkit.sms_sink", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("var/sms"), help="where messages.jsonl is kept")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1026)
    parser.add_argument("--report-url", default="", help="the delivery receipts' callback")
    parser.add_argument("--reply-url", default="", help="the inbound replies' callback")
    args = parser.parse_args(argv)
    logs.configure("sms-sink", os.environ.get("LOG_LEVEL", "INFO"))
    # The key pair the services sign with (SMS_ACCESS_KEY_ID / _SECRET), sink defaults otherwise.
    sink = SmsSinkServer(args.dir, args.host, args.port,
                         key_id=os.environ.get("SMS_ACCESS_KEY_ID") or DEFAULT_KEY_ID,
                         key_secret=os.environ.get("SMS_ACCESS_KEY_SECRET") or DEFAULT_KEY_SECRET,
                         report_url=args.report_url, reply_url=args.reply_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        sink.start()
    except OSError as exc:
        print(f"sms sink: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    log.info("listening", extra={"fields": {"url": sink.url, "dir": str(args.dir)}})
    stop.wait()
    sink.stop()
    log.info("stopped", extra={"fields": {"kept": len(sink.state.messages)}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
