"""WeChat Official Account and WeCom callbacks → crm.support.v1.SupportService.ReceiveChannelCallback.

`GET|POST /api/v1/channels/{wechat|wecom}/{account}` carry no bearer token: the platform signs
each call (signature / msg_signature over the account's token), and support, which holds the
token and the EncodingAESKey, checks it. A bad signature is a 403 problem+json, logged and
counted here (`crm_gateway_channel_callbacks_refused_total`) as well as in support. The platform
wants its answer within seconds: support stores the message once and answers; the ticket
follows from its channel worker. The gateway calls support as the public principal, without the
visitor rate limit (the platform's servers are not visitors; a forged call costs a SHA1)."""
from __future__ import annotations

import grpc
from flask import Response, g, request
from prometheus_client import Counter

from crm.support.v1 import support_pb2 as pb
from crm_gateway.problems import Problem, invalid_field
from crm_gateway.routing import API, Call, QueryParam, Route, state, too_large
from crmkit import logs
from crmkit.grpc_server import CLIENT_ADDR

log = logs.get("crm_gateway.channels")
REFUSED = Counter("crm_gateway_channel_callbacks_refused_total", "WeChat / WeCom callbacks refused",
                  ["platform", "reason"])
PLATFORMS = ("wechat", "wecom")
MAX_CALLBACK_BYTES = 256 * 1024
_TOKEN = "^[A-Za-z0-9_=+/.-]{0,512}$"
QUERY = tuple(QueryParam(name, description=text, pattern=_TOKEN) for name, text in (
    ("signature", "SHA1 of the sorted token, timestamp and nonce (plain mode)"),
    ("msg_signature", "SHA1 of the sorted token, timestamp, nonce and Encrypt (safe mode, WeCom)"),
    ("timestamp", "seconds since 1970"),
    ("nonce", "the platform's random string"),
    ("echostr", "URL check: answered as is (WeChat) or decrypted (WeCom)"),
    ("encrypt_type", "aes in safe mode"),
    ("openid", "the sender (WeChat adds it; the signed message is what counts)"),
))
_REASONS = {grpc.StatusCode.PERMISSION_DENIED: "bad_signature", grpc.StatusCode.INVALID_ARGUMENT: "malformed",
            grpc.StatusCode.NOT_FOUND: "unknown_account"}


def callback(c: Call, platform: str, account: str) -> Response:
    if platform not in PLATFORMS:
        raise Problem(404, "not-found", "Not found", f"no channel {platform!r}: wechat or wecom")
    body = b""
    if request.method == "POST":
        if request.content_length is not None and request.content_length > MAX_CALLBACK_BYTES:
            raise too_large(MAX_CALLBACK_BYTES)
        body = request.get_data(cache=False)
        if not body.strip():
            raise invalid_field("body", "the callback's XML is empty")
    st = state()
    client = st.backends.client("support")
    authorization = st.public_credentials.authorization()
    if not authorization:
        raise Problem(503, "service-unavailable", "Service unavailable", "channel callbacks need a service "
                      "credential on this gateway")
    method = "GET" if request.method == "HEAD" else request.method  # Flask answers HEAD with the GET view
    message = pb.ChannelCallbackRequest(platform=platform, account=account, method=method,
                                        query={k: str(v) for k, v in c.query.items()}, body=body)
    md = (("authorization", authorization), ("x-request-id", g.get("request_id", "")),
          (CLIENT_ADDR, request.remote_addr or ""))
    try:
        answer = client.call("ReceiveChannelCallback", message, metadata=md)
    except grpc.RpcError as exc:
        reason = _REASONS.get(exc.code()) if hasattr(exc, "code") else None
        if reason is not None:
            REFUSED.labels(platform, reason).inc()
            log.warning("refused a %s callback for account %s from %s: %s", platform, account, request.remote_addr,
                        reason)
        raise
    return Response(answer.reply, status=200, mimetype="text/plain")


_SUMMARY = ("{platform} callback: the URL check (GET, answers echostr) and messages (POST, the XML as the "
            "platform posts it; answers 'success' once the message is stored). Signed, not token-authenticated.")
_TEXT = {"type": "string"}
ROUTES: list[Route] = [
    Route(method, f"{API}/channels/<platform>/<account>", callback,
          f"{'verify' if method == 'GET' else 'receive'}ChannelCallback",
          _SUMMARY.format(platform="WeChat Official Account or WeCom"), "channels", response=_TEXT,
          media_type="text/plain", query=QUERY, public=True, errors=(400, 403, 404, 429, 503, 504),
          request_body={"text/xml": {"schema": _TEXT}, "application/xml": {"schema": _TEXT}} if method == "POST"
          else None)
    for method in ("GET", "POST")
]
