"""The platforms' HTTP API as a sender needs it: the access token (fetched from the token
endpoint, cached until shortly before it expires, fetched again when the platform says it
expired) and the customer-service text message.

- WeChat: GET {base}/cgi-bin/token?grant_type=client_credential&appid=&secret= and
  POST {base}/cgi-bin/message/custom/send?access_token= {"touser", "msgtype": "text", "text"}.
- WeCom: GET {base}/cgi-bin/gettoken?corpid=&corpsecret= and
  POST {base}/cgi-bin/message/send?access_token= {"touser", "msgtype", "agentid", "text"}.

The base URL is configuration (the simulator in tests, the platform in production)."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The token is refreshed this long before the expiry the platform gave: a send that starts
# with a token about to expire would otherwise fail and cost a retry.
EARLY_REFRESH_SECONDS = 300
# errcodes that mean "this access_token is no good (any more)": fetch a new one and retry once.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
TIMEOUT = 10.0


class SendFailed(Exception):
    """The platform refused or did not answer. `permanent`: retrying cannot help (e.g. the user
    unfollowed, 43004; the reply window closed, 45015), else try again later."""

    def __init__(self, message: str, *, permanent: bool = False, errcode: int = 0) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.errcode = errcode


# What the platforms answer for a reply that can never be delivered as it is.
PERMANENT_ERRORS = frozenset({40003, 43004, 45015, 45047, 48001, 81013})


@dataclass(frozen=True)
class ApiAccount:
    platform: str       # wechat | wecom
    app_id: str         # appid / corpid
    secret: str         # AppSecret / the app's corpsecret
    api_base: str       # e.g. the simulator's http://127.0.0.1:port
    agent_id: str = ""  # WeCom: the app that sends


Http = Callable[[str, str, bytes | None], dict[str, Any]]


def http_json(method: str, url: str, body: bytes | None) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - the configured base URL
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise SendFailed(f"HTTP {exc.code} from {urllib.parse.urlsplit(url).path}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SendFailed(f"no answer from the platform: {exc}") from None
    return answer if isinstance(answer, dict) else {}


class TokenCache:
    """One access token per account, shared by the process's senders."""

    def __init__(self, http: Http = http_json, clock: Callable[[], float] = time.monotonic) -> None:
        self.http, self.clock = http, clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.fetches = 0  # tokens asked of the platform (operators and tests)

    def token(self, account: ApiAccount, *, fresh: bool = False) -> str:
        with self._lock:
            cached = self._tokens.get(account.app_id)
            if cached is not None and not fresh and self.clock() < cached[1]:
                return cached[0]
            base = account.api_base.rstrip("/")
            if account.platform == "wecom":
                query = {"corpid": account.app_id, "corpsecret": account.secret}
                url = f"{base}/cgi-bin/gettoken?{urllib.parse.urlencode(query)}"
            else:
                query = {"grant_type": "client_credential", "appid": account.app_id, "secret": account.secret}
                url = f"{base}/cgi-bin/token?{urllib.parse.urlencode(query)}"
            answer = self.http("GET", url, None)
            self.fetches += 1
            token = str(answer.get("access_token") or "")
            if not token:
                code = int(answer.get("errcode") or 0)
                raise SendFailed(f"no access_token: {answer.get('errmsg') or 'no reason given'} ({code})",
                                 errcode=code, permanent=code in (40013, 40125, 40164, 40001))
            lifetime = max(int(answer.get("expires_in") or 7200) - EARLY_REFRESH_SECONDS, 0)
            self._tokens[account.app_id] = (token, self.clock() + lifetime)
            return token


def send_text(tokens: TokenCache, account: ApiAccount, to_user: str, text: str) -> None:
    """One text message to `to_user`; a token the platform says expired is refreshed once."""
    payload: dict[str, Any] = {"touser": to_user, "msgtype": "text", "text": {"content": text}}
    path = "/cgi-bin/message/custom/send"
    if account.platform == "wecom":
        path = "/cgi-bin/message/send"
        payload["agentid"] = int(account.agent_id) if account.agent_id.isdigit() else account.agent_id
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    for attempt in (1, 2):
        token = tokens.token(account, fresh=attempt == 2)
        url = f"{account.api_base.rstrip('/')}{path}?{urllib.parse.urlencode({'access_token': token})}"
        answer = tokens.http("POST", url, body)
        code = int(answer.get("errcode") or 0)
        if code == 0:
            return
        if code in TOKEN_ERRORS and attempt == 1:
            continue
        raise SendFailed(f"{answer.get('errmsg') or 'refused'} ({code})", errcode=code,
                         permanent=code in PERMANENT_ERRORS)
