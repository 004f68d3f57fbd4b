"""SMS routes: sms waves and the replies people texted (→ crm.marketing.v1.MarketingService), and
the two callbacks the SMS provider pushes to (its HTTP push of delivery receipts and of inbound
messages, a JSON array of its own shape):

    POST /api/v1/public/sms/reports?token=…   [{"phone_number", "biz_id", "out_id", "success",
                                                "err_code", "err_msg", "report_time", ...}]
    POST /api/v1/public/sms/replies?token=…   [{"phone_number", "content", "sign_name",
                                                "send_time", ...}]

Receipts whose out_id is `s<seq>` are support's ticket SMS (→ SupportService.ReportSmsReceipts);
the rest, and every reply, go to marketing (ReportSmsEvents).

The provider signs neither, so the callback URL carries a shared secret (SMS_CALLBACK_SECRET, as
`token` in the query or the `Crm-Sms-Token` header); anything else is 403, logged and counted.
Both answer the provider's expected `{"code": 0, "msg": "成功"}` once marketing stored what they
carried; a 5xx makes the provider push again. The gateway calls marketing as the public
principal, without the visitor rate limit (the provider's servers are not visitors)."""
from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Response, g, request
from prometheus_client import Counter

from crm.marketing.v1 import marketing_pb2 as pb
from crm.support.v1 import support_pb2 as spb
from crm_gateway.actions import RESOURCE, Action, items
from crm_gateway.problems import Problem, invalid_field
from crm_gateway.routing import API, Call, QueryParam, Route, json_response, state, too_large
from crm_gateway.schemas import marketing as sh
from crmkit import logs
from crmkit.grpc_server import CLIENT_ADDR

log = logs.get("crm_gateway.sms")
REFUSED = Counter("crm_gateway_sms_callbacks_refused_total", "SMS provider callbacks refused", ["reason"])
TAG = "sms"
CALLBACKS = f"{API}/public/sms"
MAX_ITEMS = 500
MAX_CALLBACK_BYTES = 512 * 1024
SUPPORT_PREFIX = "s"  # out_id of support's ticket SMS ("s<seq>"); marketing's are "m<seq>"
TOKEN_QUERY = (QueryParam("token", description="the shared secret of the callback URL (SMS_CALLBACK_SECRET)",
                          max_length=200),)


def _authorized(c: Call) -> None:
    secret = state().settings.sms_callback_secret
    given = str(c.query.get("token") or request.headers.get("Crm-Sms-Token", ""))
    if not secret or not given or not hmac.compare_digest(given.encode(), secret.encode()):
        reason = "not_configured" if not secret else "bad_token"
        REFUSED.labels(reason).inc()
        log.warning("refused an SMS callback from %s: %s", request.remote_addr, reason)
        raise Problem(403, "forbidden", "Forbidden", "this callback URL needs its token")


def _items(c: Call) -> list[dict[str, Any]]:
    _authorized(c)
    if request.content_length is not None and request.content_length > MAX_CALLBACK_BYTES:
        raise too_large(MAX_CALLBACK_BYTES)
    try:
        doc = json.loads(request.get_data(cache=False) or b"null")
    except ValueError:
        raise invalid_field("body", "not JSON: the provider pushes a JSON array") from None
    doc = [doc] if isinstance(doc, dict) else doc
    if not isinstance(doc, list) or not doc or not all(isinstance(x, dict) for x in doc):
        raise invalid_field("body", "a JSON array of objects, at least one")
    if len(doc) > MAX_ITEMS:
        raise invalid_field("body", f"at most {MAX_ITEMS} items a push")
    return doc


def _text(item: dict[str, Any], name: str, where: str, *, required: bool = False, limit: int = 200) -> str:
    value = item.get(name)
    if value is None or value == "":
        if required:
            raise invalid_field(where, "required")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise invalid_field(where, "a string")
    text = str(value)
    if len(text) > limit or "\x00" in text:
        raise invalid_field(where, f"at most {limit} characters, no NUL")
    return text


def _metadata() -> tuple[tuple[str, str], ...]:
    authorization = state().public_credentials.authorization()
    if not authorization:
        raise Problem(503, "service-unavailable", "Service unavailable",
                      "SMS callbacks need a service credential on this gateway")
    return (("authorization", authorization), ("x-request-id", g.get("request_id", "")),
            (CLIENT_ADDR, request.remote_addr or ""))


def _report(message: pb.ReportSmsEventsRequest, tickets: list[spb.TicketSmsReceipt] | None = None) -> Response:
    """Marketing's part (its waves' receipts, every reply), and support's ticket SMS (out_id s…)."""
    st, md = state(), _metadata()
    if tickets:
        st.backends.client("support").call("ReportSmsReceipts", spb.ReportSmsReceiptsRequest(receipts=tickets),
                                           metadata=md)
    opted_out = 0
    if message.replies or message.receipts:
        opted_out = st.backends.client("marketing").call("ReportSmsEvents", message, metadata=md).opted_out
    log.info("sms callback", extra={"fields": {"replies": len(message.replies), "receipts": len(message.receipts),
                                               "ticket_receipts": len(tickets or []), "opted_out": opted_out}})
    return json_response({"code": 0, "msg": "成功"}, 200)


def receipts(c: Call) -> Response:
    out = pb.ReportSmsEventsRequest()
    tickets: list[spb.TicketSmsReceipt] = []
    for i, item in enumerate(_items(c)):
        where = f"body[{i}]"
        success = item.get("success")
        if not isinstance(success, bool):
            raise invalid_field(f"{where}.success", "true or false")
        out.receipts.add(phone=_text(item, "phone_number", f"{where}.phone_number", limit=32),
                         provider_id=_text(item, "biz_id", f"{where}.biz_id", limit=64),
                         out_id=_text(item, "out_id", f"{where}.out_id", limit=64), success=success,
                         error_code=_text(item, "err_code", f"{where}.err_code", limit=64),
                         error_message=_text(item, "err_msg", f"{where}.err_msg", limit=500),
                         reported_at=_text(item, "report_time", f"{where}.report_time", limit=40))
        got = out.receipts[-1]
        if not got.out_id and not got.provider_id:
            raise invalid_field(f"{where}.out_id", "a receipt names out_id or biz_id")
        if got.out_id.startswith(SUPPORT_PREFIX):  # a ticket's SMS (support's outbox)
            tickets.append(spb.TicketSmsReceipt(out_id=got.out_id, provider_id=got.provider_id, success=got.success,
                                                error_code=got.error_code, error_message=got.error_message))
            del out.receipts[-1]
    return _report(out, tickets)


def replies(c: Call) -> Response:
    out = pb.ReportSmsEventsRequest()
    for i, item in enumerate(_items(c)):
        where = f"body[{i}]"
        out.replies.add(phone=_text(item, "phone_number", f"{where}.phone_number", required=True, limit=32),
                        content=_text(item, "content", f"{where}.content", limit=2000),
                        sign_name=_text(item, "sign_name", f"{where}.sign_name", limit=100),
                        sent_at=_text(item, "send_time", f"{where}.send_time", limit=40))
    return _report(out)


_PUSH: dict[str, Any] = {"application/json": {"schema": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                                                         "items": {"type": "object"}}}}
_ACK = {"type": "object", "properties": {"code": {"type": "integer"}, "msg": {"type": "string"}},
        "description": "the provider's expected acknowledgement"}

ROUTES: list[Action | Route] = [
    Action("POST", f"{API}/sms-waves", "createSmsWave", "Freeze an audience into an sms wave: the provider's "
           "template code and variables (merge templates per recipient); recipients without marketing_sms "
           "consent, opted out, without a phone or with a number already on the list are kept with the reason "
           "(ready; POST /send-waves/{id}/start texts it)", TAG, "CreateSendWave", pb.CreateSendWaveRequest,
           sh.WAVE, RESOURCE, body=sh.SMS_WAVE_INPUT, body_field="wave", status=201, location=f"{API}/send-waves",
           fill=lambda req: setattr(req.wave, "channel", "sms")),
    Action("GET", f"{API}/sms-replies", "listSmsReplies", "Every SMS people texted back, newest first, with "
           "whether it was an opt-out (T, TD, 退订 ...) and the contacts of that phone", TAG, "ListSmsReplies",
           pb.ListSmsRepliesRequest, sh.SMS_REPLY_PAGE, items("replies", paged=True), query=sh.SMS_REPLY_PARAMS),
    Route("POST", f"{CALLBACKS}/reports", receipts, "reportSmsReceipts", "The SMS provider's delivery receipts "
          "(its HTTP push): each marks its message delivered or failed. Authenticated by the URL's token", "public",
          response=_ACK, query=TOKEN_QUERY, public=True, errors=(400, 403, 413, 503, 504), request_body=_PUSH),
    Route("POST", f"{CALLBACKS}/replies", replies, "reportSmsReplies", "Inbound SMS (the provider's HTTP push): "
          "each is kept; an opt-out word (回T退订: T, TD, 退订 ...) withdraws marketing_sms consent of the "
          "contacts of that phone, here at once and in contacts. Authenticated by the URL's token", "public",
          response=_ACK, query=TOKEN_QUERY, public=True, errors=(400, 403, 413, 503, 504), request_body=_PUSH),
]
