"""A local stand-in for the WeChat Official Account and WeCom platforms, for tests and `make run`.

It speaks both directions of the protocol (crmkit.wechat) on one port:
- as the platform's API: the token endpoints (/cgi-bin/token, /cgi-bin/gettoken) and the send
  endpoints (/cgi-bin/message/custom/send, /cgi-bin/message/send), which check the access token
  (an unknown or expired one answers errcode 42001) and record what was sent;
- as the platform pushing callbacks: `POST /sim/push` builds a message, encrypts it (safe mode,
  WeCom) and signs it with the account's token and EncodingAESKey, and posts it to the CRM's
  callback URL; `/sim/replay` posts a recorded callback again, byte for byte; `/sim/verify` runs
  the URL check.

Control endpoints (JSON): POST /sim/push {account, from_user, type: text|image|event, content,
event, event_key, msg_id, create_time, bad_signature}; POST /sim/replay {id}; POST /sim/verify
{account}; GET /sim/sent[?account=]; POST /sim/expire-tokens; POST /sim/fail-sends {count};
GET /sim/stats. Nothing here reaches the internet.

    python -m crm_devtools.wechat_sim --port 18090 --callback-base http://127.0.0.1:8080/api/v1/channels \\
        --accounts '[{"name": "demo", "platform": "wechat", "token": "...", ...}]'"""
from __future__ import annotations

import argparse
import base64
import contextlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from crmkit.wechat.protocol import aes_key, build_xml, encrypt, sign

TOKEN_LIFETIME = 7200


class Platform:
    """The simulator's state: accounts, issued tokens, sent messages, pushed callbacks."""

    def __init__(self, accounts: list[dict[str, str]], callback_base: str) -> None:
        self.accounts = {a["name"]: a for a in accounts}
        self.by_app = {a["app_id"]: a for a in accounts}
        self.callback_base = callback_base.rstrip("/")
        self.tokens: dict[str, str] = {}  # token → app_id
        self.sent: list[dict[str, Any]] = []
        self.pushes: list[dict[str, Any]] = []
        self.token_fetches = 0
        self.fail_sends = 0
        self.lock = threading.Lock()
        self._msg_ids = int(time.time()) * 1000

    # -- the platform's API
    def issue_token(self, app_id: str, secret: str, platform: str) -> dict[str, Any]:
        account = self.by_app.get(app_id)
        if account is None or account["platform"] != platform or not secrets.compare_digest(account["secret"], secret):
            return {"errcode": 40125 if platform == "wechat" else 40001, "errmsg": "invalid appid or secret"}
        with self.lock:
            token = secrets.token_urlsafe(24)
            self.tokens[token] = app_id
            self.token_fetches += 1
        answer: dict[str, Any] = {"access_token": token, "expires_in": TOKEN_LIFETIME}
        return {"errcode": 0, "errmsg": "ok", **answer} if platform == "wecom" else answer

    def receive_send(self, platform: str, token: str, body: bytes) -> dict[str, Any]:
        with self.lock:
            app_id = self.tokens.get(token)
            if app_id is None:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if self.fail_sends > 0:
                self.fail_sends -= 1
                return {"errcode": -1, "errmsg": "system error"}
            try:
                payload = json.loads(body)
            except ValueError:
                return {"errcode": 47001, "errmsg": "data format error"}
            account = self.by_app[app_id]
            self.sent.append({"account": account["name"], "platform": platform, "touser": payload.get("touser"),
                              "msgtype": payload.get("msgtype"), "content": (payload.get("text") or {}).get("content"),
                              "agentid": payload.get("agentid"), "at": time.time()})
        return {"errcode": 0, "errmsg": "ok"}

    # -- the platform pushing callbacks
    def next_msg_id(self) -> str:
        with self.lock:
            self._msg_ids += 1
            return str(self._msg_ids)

    def push(self, spec: dict[str, Any]) -> dict[str, Any]:
        account = self.accounts[spec["account"]]
        kind = spec.get("type", "text")
        created = str(int(spec.get("create_time") or time.time()))
        fields = {"ToUserName": spec.get("to_user") or (account["app_id"] if account["platform"] == "wecom"
                                                         else f"gh_{account['name']}"),
                  "FromUserName": spec["from_user"], "CreateTime": created, "MsgType": kind}
        if kind == "event":
            fields["Event"] = spec.get("event", "subscribe")
            if spec.get("event_key") is not None:
                fields["EventKey"] = str(spec.get("event_key"))
        else:
            if kind == "text":
                fields["Content"] = str(spec.get("content", ""))
            elif kind == "image":
                fields["PicUrl"] = str(spec.get("pic_url", "http://127.0.0.1/image.jpg"))
                fields["MediaId"] = str(spec.get("media_id", "media-1"))
            fields["MsgId"] = str(spec.get("msg_id") or self.next_msg_id())
        if account["platform"] == "wecom":
            fields["AgentID"] = account.get("agent_id") or "1000002"
        timestamp, nonce = created, secrets.token_hex(5)
        token = account["token"] + ("-wrong" if spec.get("bad_signature") else "")
        plain = build_xml(fields)
        query = {"timestamp": timestamp, "nonce": nonce, "signature": sign(token, timestamp, nonce)}
        if account.get("encoding_aes_key"):
            envelope = encrypt(aes_key(account["encoding_aes_key"]), plain, account["app_id"])
            query["msg_signature"] = sign(token, timestamp, nonce, envelope)
            if account["platform"] == "wechat":
                query["encrypt_type"] = "aes"
                query["openid"] = spec["from_user"]
            outer = {"ToUserName": fields["ToUserName"], "Encrypt": envelope}
            if account["platform"] == "wecom":
                del query["signature"]
                outer["AgentID"] = fields["AgentID"]
            body = build_xml(outer)
        else:
            body = plain
        request = {"account": account["name"], "platform": account["platform"], "query": query,
                   "body": body.decode("utf-8")}
        with self.lock:
            self.pushes.append(request)
            push_id = len(self.pushes) - 1
        status, text = self._post(request)
        return {"id": push_id, "status": status, "body": text, "msg_id": fields.get("MsgId", ""),
                "fields": fields}

    def replay(self, push_id: int) -> dict[str, Any]:
        status, text = self._post(self.pushes[push_id])
        return {"id": push_id, "status": status, "body": text}

    def verify(self, name: str) -> dict[str, Any]:
        account = self.accounts[name]
        timestamp, nonce, echo = str(int(time.time())), secrets.token_hex(5), secrets.token_hex(8)
        if account["platform"] == "wecom":
            echostr = encrypt(aes_key(account["encoding_aes_key"]), echo.encode(), account["app_id"])
            query = {"msg_signature": sign(account["token"], timestamp, nonce, echostr), "timestamp": timestamp,
                     "nonce": nonce, "echostr": echostr}
        else:
            query = {"signature": sign(account["token"], timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                     "echostr": echo}
        url = f"{self.callback_base}/{account['platform']}/{name}?{urllib.parse.urlencode(query)}"
        status, text = _http("GET", url, None)
        return {"status": status, "body": text, "expected": echo}

    def _post(self, request: dict[str, Any]) -> tuple[int, str]:
        url = (f"{self.callback_base}/{request['platform']}/{request['account']}?"
               f"{urllib.parse.urlencode(request['query'])}")
        return _http("POST", url, request["body"].encode("utf-8"))


def _http(method: str, url: str, body: bytes | None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "text/xml"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 - the local CRM
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _handler(platform: Platform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            return  # quiet: the tests read /sim/sent, not a log

        def _json(self, doc: Any, status: int = 200) -> None:
            data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            url = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/cgi-bin/token":
                self._json(platform.issue_token(q.get("appid", ""), q.get("secret", ""), "wechat"))
            elif url.path == "/cgi-bin/gettoken":
                self._json(platform.issue_token(q.get("corpid", ""), q.get("corpsecret", ""), "wecom"))
            elif url.path == "/sim/sent":
                with platform.lock:
                    sent = [s for s in platform.sent if not q.get("account") or s["account"] == q["account"]]
                self._json({"sent": sent})
            elif url.path == "/sim/stats":
                self._json({"token_fetches": platform.token_fetches, "sent": len(platform.sent),
                            "pushes": len(platform.pushes)})
            else:
                self._json({"errcode": 404, "errmsg": "not found"}, 404)

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            url = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            body = self._body()
            try:
                if url.path in ("/cgi-bin/message/custom/send", "/cgi-bin/message/send"):
                    kind = "wechat" if url.path.endswith("custom/send") else "wecom"
                    self._json(platform.receive_send(kind, q.get("access_token", ""), body))
                    return
                spec = json.loads(body or b"{}")
                if url.path == "/sim/push":
                    self._json(platform.push(spec))
                elif url.path == "/sim/replay":
                    self._json(platform.replay(int(spec["id"])))
                elif url.path == "/sim/verify":
                    self._json(platform.verify(spec["account"]))
                elif url.path == "/sim/expire-tokens":
                    with platform.lock:
                        platform.tokens.clear()
                    self._json({"ok": True})
                elif url.path == "/sim/fail-sends":
                    with platform.lock:
                        platform.fail_sends = int(spec.get("count", 1))
                    self._json({"ok": True})
                else:
                    self._json({"errcode": 404, "errmsg": "not found"}, 404)
            except (KeyError, ValueError, IndexError) as exc:
                self._json({"error": f"bad control request: {exc}"}, 400)

    return Handler


class WechatSimulator:
    """The simulator in a thread (tests): `url`, and the `platform` state to look at."""

    def __init__(self, accounts: list[dict[str, str]], callback_base: str, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.platform = Platform(accounts, callback_base)
        self.server = ThreadingHTTPServer((host, port), _handler(self.platform))
        self.thread = threading.Thread(target=self.server.serve_forever, name="wechat-sim", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WechatSimulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def demo_accounts(api_base: str) -> list[dict[str, str]]:
    """Two accounts with fresh secrets (`make run`, the e2e suite): a safe-mode official account
    and a WeCom app."""
    def aes() -> str:  # 43 characters: the base64 of 32 random bytes without its "="
        return base64.b64encode(secrets.token_bytes(32)).decode("ascii")[:43]
    return [
        {"name": "demo", "platform": "wechat", "token": secrets.token_hex(16), "encoding_aes_key": aes(),
         "app_id": "wx" + secrets.token_hex(8), "secret": secrets.token_hex(16), "api_base": api_base},
        {"name": "demo-wecom", "platform": "wecom", "token": secrets.token_hex(16), "encoding_aes_key": aes(),
         "app_id": "ww" + secrets.token_hex(8), "secret": secrets.token_hex(16), "api_base": api_base,
         "agent_id": "1000002"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--callback-base", required=True, help="the CRM's .../api/v1/channels")
    parser.add_argument("--accounts", required=True, help="JSON list, or @file holding it")
    args = parser.parse_args()
    raw = Path(args.accounts[1:]).read_text(encoding="utf-8") if args.accounts.startswith("@") else args.accounts
    sim = WechatSimulator(json.loads(raw), args.callback_base, args.host, args.port)
    print(f"wechat simulator on {sim.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sim.server.serve_forever()


if __name__ == "__main__":
    main()
