"""Marketing routes → crm.marketing.v1.MarketingService: /api/v1/campaigns (+ status, results,
invitation lists, check-in), /api/v1/email-templates (+ preview), /api/v1/send-waves (+ start,
cancel, recipients), and the public links every marketing mail carries (/api/v1/public/...):

    GET  /public/unsubscribe/<token>  a confirmation page with a button; opening it changes nothing
                                      (link scanners and prefetchers open links)
    POST /public/unsubscribe/<token>  RFC 8058 one-click (body List-Unsubscribe=One-Click, form
                                      encoded), also what the page's button posts → Unsubscribe
    GET  /public/open/<token>         the open pixel: a 1×1 GIF whatever happened → RecordOpen
    GET  /public/click/<token>        302 to the link of that mail → ResolveClick (400 problem+json
                                      for a token that is not genuine)

The public ones carry no user token: the gateway calls as the public principal, rate limited per
visitor address (public.py). Marketing resolves a click only to a link that mail contained, so the
redirect is never open; the gateway also refuses to redirect anywhere but http(s). These four are
hand-written because they answer HTML, a GIF or a redirect, as is POST /mail-feedback/dsn (a relay's
delivery status notification, RFC 3464, read into the bounces of ReportMailFeedback, or its abuse
report, ARF / RFC 5965, read into complaints); every other
route is declared."""
from __future__ import annotations

import email.policy as email_policy
import html
import re
from email import message_from_bytes, message_from_string
from email.message import Message
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

import grpc
from flask import Response, request

from crm.marketing.v1 import marketing_pb2 as pb
from crm_gateway.actions import JSON, RESOURCE, Action, items
from crm_gateway.crud import Resource, summaries
from crm_gateway.problems import Problem, invalid_field
from crm_gateway.public import charge_visitor, public_call
from crm_gateway.routing import API, Call, Route, json_response, metadata, state
from crm_gateway.schemas import PAGE_PARAMS
from crm_gateway.schemas import marketing as sh
from crm_gateway.serialize import to_json
from crmkit import logs

log = logs.get("crm_gateway.marketing")
TAG = "marketing"
CAMPAIGNS, TEMPLATES, WAVES = f"{API}/campaigns", f"{API}/email-templates", f"{API}/send-waves"
CAMPAIGN, TEMPLATE, WAVE = f"{CAMPAIGNS}/<id>", f"{TEMPLATES}/<id>", f"{WAVES}/<id>"
PUBLIC = f"{API}/public"
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058 §3.1: the body of the one-click POST
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,200}")  # what marketing's signed tokens are made of
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A transparent 1×1 GIF89a: what the pixel answers to anything, so a mail never shows a broken image.
PIXEL_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
             b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
# Pages and redirects carry the token in their URL: no Referer, no cache, no frames, no script.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
          "button{margin-top:1rem;padding:.5rem 1.5rem}")


def _a(method: str, rule: str, op: str, summary: str, rpc: str, request_type: Any, response: Any, reply: Any,
       **kw: Any) -> Action:
    return Action(method, rule, op, summary, TAG, rpc, request_type, response, reply, **kw)


def _created_if_added(answer: pb.AddInviteesResponse) -> int:
    return 201 if answer.invitees else 200


# -- the public links of a mail ------------------------------------------------------------------

def _page(title: str, body: str, status: int = 200) -> Response:
    doc = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
           f'content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">'
           f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>")
    return Response(doc, status=status, mimetype="text/html", headers=PAGE_HEADERS)


def _not_valid() -> Response:
    return _page("退订 Unsubscribe", "<h1>此链接无效<br>This link is not valid</h1>"
                 "<p>请使用邮件中的完整链接。<br>Please use the complete link from the email.</p>", 400)


def unsubscribe_page(c: Call, token: str) -> Response:
    """Asks no service: the page reveals nothing about the token, and opening it unsubscribes no one."""
    charge_visitor()
    if not _TOKEN.fullmatch(token):  # whatever else a crafted URL carries never reaches the page
        return _not_valid()
    action = f"./{token}"  # relative: this same URL, behind any proxy prefix
    name, value = ONE_CLICK
    return _page("退订 Unsubscribe", (
        "<h1>退订营销邮件<br>Unsubscribe from marketing email</h1>"
        "<p>确认后，我们将不再向您发送此类营销邮件。<br>"
        "Confirm, and we will stop sending you these marketing emails.</p>"
        f'<form method="post" action="{action}"><input type="hidden" name="{name}" value="{value}">'
        '<button type="submit">确认退订 Unsubscribe</button></form>'))


def _one_click_body() -> None:
    """The body is RFC 8058's `List-Unsubscribe=One-Click` (form or multipart encoded), or nothing."""
    mimetype = request.mimetype
    if mimetype not in FORM_TYPES:
        if request.get_data(cache=False).strip():
            raise Problem(415, "unsupported-media-type", "Unsupported media type",
                          "send List-Unsubscribe=One-Click as application/x-www-form-urlencoded")
        return
    name, value = ONE_CLICK
    for key in request.files:
        raise invalid_field(key, f"unknown field; the one-click body is {name}={value}")
    for key, values in request.form.lists():
        if key != name:
            raise invalid_field(key, f"unknown field; the one-click body is {name}={value}")
        if values != [value]:
            raise invalid_field(name, f"must be {value}")


def unsubscribe(c: Call, token: str) -> Response:
    _one_click_body()
    try:
        answer = public_call("marketing", "Unsubscribe", pb.UnsubscribeRequest(token=token))
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise  # problem+json: 503 while marketing is away, 429 when it limits
        return _not_valid()
    email = html.escape(answer.email_masked)
    done = ("此地址早已退订。 This address was unsubscribed already." if answer.already_unsubscribed
            else "我们不会再向此地址发送营销邮件。 We will not send marketing email to this address any more.")
    return _page("已退订 Unsubscribed", f"<h1>已退订<br>You are unsubscribed</h1><p>{email}</p><p>{done}</p>")


def open_pixel(c: Call, token: str) -> Response:
    """Always the GIF: a token that is not genuine, a visitor over the limit or marketing away only
    go uncounted (a mail must never show a broken image, and the answer must not tell which)."""
    try:
        public_call("marketing", "RecordOpen", pb.RecordOpenRequest(token=token))
    except (grpc.RpcError, Problem) as exc:
        reason = exc.code().name if isinstance(exc, grpc.RpcError) else exc.slug
        log.debug("open not counted: %s", reason)
    return Response(PIXEL_GIF, mimetype="image/gif",
                    headers={"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache",
                             "Referrer-Policy": "no-referrer"})


def click(c: Call, token: str) -> Response:
    answer = public_call("marketing", "ResolveClick", pb.ResolveClickRequest(token=token))
    url = answer.url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch in url for ch in "\r\n\\"):
        # Marketing keeps only http(s) links of the mail; anything else is refused, never followed.
        log.warning("click resolved to a URL that is not http(s); refused")
        raise Problem(502, "bad-gateway", "Bad gateway", "the link of this mail could not be followed")
    return Response(status=302, headers={"Location": url, "Cache-Control": "no-store",
                                         "Referrer-Policy": "no-referrer"})


# -- declared routes ----------------------------------------------------------------------------

CAMPAIGN_ROUTES = Resource(pb, "Campaign", CAMPAIGNS, TAG, {
    **summaries("campaign", "campaigns"),
    "create": "Create a campaign (webinar, trade_show, email, social, ads) as a draft owned by the caller",
    "update": "Change some fields of a campaign (status changes through /status); the keys given form the mask",
    "delete": "Delete a draft campaign (cancel the others)",
}, sh.CAMPAIGN, sh.CAMPAIGN_INPUT, sh.CAMPAIGN_PATCH, sh.CAMPAIGN_PAGE, sh.CAMPAIGN_PARAMS)
TEMPLATE_ROUTES = Resource(pb, "Template", TEMPLATES, TAG, {
    **summaries("email template", "email templates"),
    "create": "Save an email template (one content per language; an unknown merge field is refused, naming it)",
}, sh.TEMPLATE, sh.TEMPLATE_INPUT, sh.TEMPLATE_PATCH, sh.TEMPLATE_PAGE, PAGE_PARAMS)
WAVE_ROUTES = Resource(pb, "SendWave", WAVES, TAG, {
    "create": "Freeze an audience and a template into a send wave (ready; /start mails it). Recipients "
              "without consent for the purpose, unsubscribed or suppressed are kept with the reason they "
              "are skipped",
    "list": "The send waves of a campaign (campaign_id, required), newest first",
    "get": "A send wave with its counts (sent, delivered, skipped by reason, opened, clicked)",
}, sh.WAVE, sh.WAVE_INPUT, page=sh.WAVE_PAGE, list_params=sh.WAVE_PARAMS)

def _field(value: Any) -> str:
    """`rfc822; a@b.example` → `a@b.example` (a DSN field's type prefix dropped)."""
    text = " ".join(str(value or "").split())
    return text.split(";", 1)[1].strip() if ";" in text else text


def _original_headers(part: Message) -> Message | None:
    """The returned copy of our mail inside a report (message/rfc822, or text/rfc822-headers read
    as headers), or None."""
    inner = part.get_payload()
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        return inner[0]
    body = part.get_payload(decode=True)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(part.get_payload())
    return message_from_string(text.lstrip(), policy=email_policy.compat32)


def report_feedback(message: Message) -> list[pb.MailFeedback]:
    """The recipients a relay's report is about. A delivery status notification (RFC 3464,
    message/delivery-status) gives bounces of its failed recipients, each with its status and
    diagnostic; an abuse report (ARF, RFC 5965, message/feedback-report) gives a complaint about
    the original recipient. Both carry our original Message-ID when the relay returned the mail's
    headers, so the exact mail is marked too."""
    original = ""
    recipient_of_original = ""
    blocks: list[Message] = []
    complaints: list[Message] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            payload = part.get_payload()
            blocks += [b for b in payload[1:] if isinstance(b, Message)] if isinstance(payload, list) else []
        elif kind == "message/feedback-report":
            report = _original_headers(part)
            complaints += [report] if report is not None else []
        elif kind in ("text/rfc822-headers", "message/rfc822") and not original:
            headers = _original_headers(part)
            if headers is not None:
                original = str(headers.get("Message-ID", "") or "").strip()
                recipient_of_original = str(headers.get("To", "") or "")
    out = []
    for block in blocks:
        if str(block.get("Action", "")).strip().lower() not in ("failed", "delayed"):
            continue  # delivered, relayed, expanded: nothing went wrong
        email = _field(block.get("Final-Recipient") or block.get("Original-Recipient"))
        if email:
            out.append(pb.MailFeedback(email=email[:320], kind="bounce", status=_field(block.get("Status"))[:20],
                                       diagnostic=_field(block.get("Diagnostic-Code"))[:2000],
                                       message_id=original[:200]))
    for report in complaints:
        feedback_type = _field(report.get("Feedback-Type")).lower()
        if feedback_type not in ("abuse", "fraud", "virus", "other", ""):
            continue  # not-spam, auth-failure: no one complained about the mail
        named = report.get_all("Removal-Recipient") or report.get_all("Original-Rcpt-To") or []
        emails = [_field(v) for v in named] or [parseaddr(recipient_of_original)[1]]
        for email in filter(None, emails):
            out.append(pb.MailFeedback(email=email[:320], kind="complaint", status="",
                                       diagnostic=f"feedback report: {feedback_type or 'abuse'}"[:2000],
                                       message_id=original[:200]))
    return out


def mail_feedback_dsn(c: Call) -> Response:
    """A relay's report as it is (message/rfc822): a bounce message's failed recipients, or an
    abuse report's complained recipient → ReportMailFeedback."""
    if request.mimetype not in ("message/rfc822", "multipart/report"):
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send the delivery status notification as message/rfc822")
    raw = request.get_data(cache=False)
    if not raw.strip():  # the document asks for a message (minLength 1); nothing is not "no bounces"
        raise invalid_field("body", "the delivery status notification is empty")
    if request.mimetype == "multipart/report":  # the body without its header: give it back its type
        raw = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode() + raw
    items = report_feedback(message_from_bytes(raw, policy=email_policy.compat32))
    if not items:  # delivered, relayed, or not a DSN at all: nothing to suppress, and it says so
        return json_response({"suppressed": 0, "already_suppressed": 0, "soft_bounces": 0, "recipients_marked": 0},
                             200)
    source = "arf" if any(item.kind == "complaint" for item in items) else "dsn"
    answer = state().backends.client("marketing").call(
        "ReportMailFeedback", pb.ReportMailFeedbackRequest(feedback=items[:500], source=source), metadata=metadata())
    return json_response(to_json(answer), 200)


ROUTES: list[Action | Route] = [
    # campaigns
    *CAMPAIGN_ROUTES.actions(),
    _a("POST", f"{CAMPAIGN}/status", "changeCampaignStatus", "Move a campaign: draft → scheduled (needs a "
       "start date) → active → completed, or cancelled; every change is in its history", "ChangeCampaignStatus",
       pb.ChangeCampaignStatusRequest, sh.CAMPAIGN, RESOURCE, body=sh.STATUS_INPUT),
    _a("GET", f"{CAMPAIGN}/results", "getCampaignResults", "Email counts over every wave (open and click rates), "
       "invitations, registrations, attendance, budget and cost", "GetCampaignResults",
       pb.GetCampaignResultsRequest, sh.RESULTS, JSON, path={"id": "campaign_id"}),
    _a("POST", f"{CAMPAIGN}/invitees", "addCampaignInvitees", "Invite contacts (a check-in code each); those "
       "invited before are counted, not added twice", "AddInvitees", pb.AddInviteesRequest, sh.INVITE_RESULT,
       JSON, body=sh.INVITE_INPUT, path={"id": "campaign_id"}, status_of=_created_if_added),
    _a("GET", f"{CAMPAIGN}/invitees", "listCampaignInvitees", "The invitation list with each invitee's status",
       "ListInvitees", pb.ListInviteesRequest, sh.INVITEE_PAGE, items("invitees", paged=True),
       path={"id": "campaign_id"}, query=sh.INVITEE_PARAMS),
    _a("POST", f"{CAMPAIGN}/invitees/<contact_id>/register", "registerCampaignInvitee", "Record an invitee's "
       "registration", "RegisterInvitee", pb.RegisterInviteeRequest, sh.INVITEE, RESOURCE,
       path={"id": "campaign_id"}),
    _a("POST", f"{CAMPAIGN}/check-ins", "checkInCampaignInvitee", "Admit an invitee by the code they show (once; "
       "case and dashes do not matter)", "CheckInInvitee", pb.CheckInInviteeRequest, sh.INVITEE, RESOURCE,
       body=sh.CHECK_IN_INPUT, path={"id": "campaign_id"}),
    # email templates
    _a("POST", f"{TEMPLATES}/preview", "previewDraftTemplate", "Render an unsaved template for one contact "
       "(a missing merge field is a 400 naming it)", "PreviewTemplate", pb.PreviewTemplateRequest, sh.PREVIEW,
       JSON, body=sh.DRAFT_PREVIEW_INPUT),
    *TEMPLATE_ROUTES.actions(),
    _a("POST", f"{TEMPLATE}/preview", "previewTemplate", "Render a saved template for one contact, in their "
       "language unless language is given", "PreviewTemplate", pb.PreviewTemplateRequest, sh.PREVIEW, JSON,
       body=sh.PREVIEW_INPUT, path={"id": "template_id"}),
    # send waves
    *WAVE_ROUTES.actions(),
    _a("POST", f"{WAVE}/start", "startSendWave", "Start mailing a ready wave (throttled, resumable, one message "
       "per recipient)", "StartSendWave", pb.StartSendWaveRequest, sh.WAVE, RESOURCE),
    _a("POST", f"{WAVE}/cancel", "cancelSendWave", "Stop a wave; recipients not mailed yet stay unmailed",
       "CancelSendWave", pb.CancelSendWaveRequest, sh.WAVE, RESOURCE),
    _a("GET", f"{WAVE}/recipients", "listSendWaveRecipients", "The frozen recipient list: status, skip reason, "
       "opens and clicks of each", "ListRecipients", pb.ListRecipientsRequest, sh.RECIPIENT_PAGE,
       items("recipients", paged=True), path={"id": "wave_id"}, query=sh.RECIPIENT_PARAMS),
    # the relay's bounces and complaints (its webhook with a service token, or marketing by hand)
    _a("POST", f"{API}/mail-feedback", "reportMailFeedback", "Bounces and complaints from the SMTP relay: a hard "
       "bounce (5.x.x or no status) or a complaint suppresses the address for every later mail; a soft bounce "
       "(4.x.x) is only counted", "ReportMailFeedback", pb.ReportMailFeedbackRequest, sh.MAIL_FEEDBACK_RESULT, JSON,
       body=sh.MAIL_FEEDBACK_INPUT),
    Route("POST", f"{API}/mail-feedback/dsn", mail_feedback_dsn, "reportMailDsn", "A relay's delivery status "
          "notification (RFC 3464) or abuse report (ARF, RFC 5965) as message/rfc822: a DSN's failed recipients are "
          "reported as bounces, an abuse report's recipient as a complaint (suppressed for every later mail)", TAG,
          response=sh.MAIL_FEEDBACK_RESULT, request_body=sh.DSN_BODY),
    # public: the links in a mail, no user token
    Route("GET", f"{PUBLIC}/unsubscribe/<token>", unsubscribe_page, "unsubscribePage", "The page the unsubscribe "
          "link opens: a button that confirms (HTML; opening it unsubscribes no one)", "public",
          response=sh.HTML_PAGE, media_type="text/html", public=True),
    Route("POST", f"{PUBLIC}/unsubscribe/<token>", unsubscribe, "unsubscribe", "One-click unsubscribe (RFC 8058: "
          "body List-Unsubscribe=One-Click, application/x-www-form-urlencoded); withdraws the consent in contacts. "
          "Answers an HTML page", "public", response=sh.HTML_PAGE, media_type="text/html", public=True),
    Route("GET", f"{PUBLIC}/open/<token>", open_pixel, "openPixel", "The open-tracking pixel: a 1×1 GIF, always; "
          "counts an open when the token is genuine", "public", response=sh.PIXEL, media_type="image/gif",
          public=True),
    Route("GET", f"{PUBLIC}/click/<token>", click, "followClick", "A tracked link: 302 to the link of that mail "
          "(with its UTM parameters), counting the click; 400 for a token that is not genuine", "public",
          status=302, public=True),
]
