"""Marketing automation routes → crm.marketing.v1.MarketingService: /api/v1/automation-settings,
/api/v1/forms (+ submissions), /api/v1/sequences (+ status, enrolments), /api/v1/automation-rules,
/api/v1/ab-tests (+ start, cancel), /api/v1/engagement/<contact_id>, and the public side:

    GET  /public/forms/<id>              the form as an HTML page (embeddable), with a signed token
                                         and a honeypot; ?lang=en|zh-CN, utm_* and page_url are kept
    GET  /public/forms/<id>/definition   the same form as JSON (for a site that renders its own)
    POST /public/forms/<id>/submissions  JSON (or text/plain JSON, which needs no CORS preflight):
                                         202 with the thank-you text, 400 problem+json naming every
                                         bad field; form-encoded (the HTML form): an HTML page
    POST /public/track                   a page view on a tracked site (site key, visitor id, url)

The public ones carry no user token: the gateway calls as the public principal, rate limited per
visitor address (public.py), and passes the visitor's address and user agent; marketing adds its
own limits (per address and per email for forms, per visitor for visits)."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import grpc
from flask import Response, request

from crm.marketing.v1 import marketing_pb2 as pb
from crm_gateway import form_page
from crm_gateway.actions import JSON, RESOURCE, Action, Mask, items, required
from crm_gateway.crud import Resource, summaries
from crm_gateway.problems import FieldError, Problem, from_rpc_error, invalid_field
from crm_gateway.public import public_call
from crm_gateway.routing import API, Call, QueryParam, Route, json_response, state
from crm_gateway.schema import require_valid, to_message
from crm_gateway.schemas import marketing_automation as sh
from crm_gateway.serialize import to_json
from crmkit.errors import ERROR_DETAILS_KEY

TAG = "marketing automation"
PUBLIC = f"{API}/public"
FORMS = f"{API}/forms"
SEQUENCES = f"{API}/sequences"
RULES = f"{API}/automation-rules"
AB_TESTS = f"{API}/ab-tests"
VISITOR_COOKIE = "crm_vid"
SETTINGS = f"{API}/automation-settings"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
JSON_TYPES = ("application/json", "text/plain", "")
CORS = {"Access-Control-Allow-Origin": "*", "Vary": "Origin"}
# Keys of a form-encoded post that are not fields of the form.
_CONTROL = frozenset({"form_token", "consent", "language", "visitor_id", "page_url", "referrer", *form_page.UTM_KEYS})
_TICKED = frozenset({"1", "true", "on", "yes"})
_GONE = (pb.LocalizedText(zh="表单不可用", en="Form unavailable"),
         pb.LocalizedText(zh="此表单不存在或已停止收集。", en="This form does not exist or no longer takes submissions."))
_BUSY = (pb.LocalizedText(zh="请稍后再试", en="Please try again later"),
         pb.LocalizedText(zh="提交过于频繁，请稍后再试。", en="Too many submissions; please try again later."))
_AWAY = (pb.LocalizedText(zh="暂时无法提交", en="Temporarily unavailable"),
         pb.LocalizedText(zh="服务暂时不可用，您的信息尚未提交，请稍后再试。",
                          en="The service is unavailable; nothing was sent. Please try again later."))
_THANKS = pb.LocalizedText(zh="提交成功", en="Thank you")
PAGE_PARAMS = (
    QueryParam("lang", choices=("zh-CN", "en", "zh")),
    QueryParam("page_url", description="the page the form is embedded in (default: the Referer)"),
    QueryParam("visitor_id", description="the web-visit cookie of the page, to tie earlier visits to the lead"),
    *(QueryParam(k, description="kept with the submission and the lead") for k in form_page.UTM_KEYS),
)


def _a(method: str, rule: str, op: str, summary: str, rpc: str, request_type: Any, response: Any, reply: Any,
       **kw: Any) -> Action:
    return Action(method, rule, op, summary, TAG, rpc, request_type, response, reply, **kw)


def _visitor(message: Any) -> None:
    message.visitor_ip = request.remote_addr or ""
    message.user_agent = request.headers.get("User-Agent", "")[:500]


# -- the public form ------------------------------------------------------------------------------

def _language(default: str) -> str:
    return form_page.language_of(request.args.get("lang", ""), request.headers.get("Accept-Language", ""), default)


def _hidden_from_query() -> dict[str, str]:
    """What the page passes on to its post: the UTM parameters and the page it is on."""
    hidden = {k: request.args.get(k, "")[:200] for k in form_page.UTM_KEYS if request.args.get(k)}
    page_url = request.args.get("page_url") or request.referrer or ""
    if page_url:
        hidden["page_url"] = page_url[:2000]
    if request.args.get("visitor_id"):
        hidden["visitor_id"] = request.args["visitor_id"][:64]
    return hidden


def _code(exc: grpc.RpcError) -> grpc.StatusCode:
    return exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN


def form_html(c: Call, id: str) -> Response:
    try:
        form = public_call("marketing", "GetPublicForm", pb.GetPublicFormRequest(form_id=id))
    except grpc.RpcError as exc:
        if _code(exc) != grpc.StatusCode.NOT_FOUND:
            raise
        return form_page.message_page(*_GONE, _language(""), 404)
    return form_page.form_page(form, language=_language(form.default_language), hidden=_hidden_from_query())


def form_definition(c: Call, id: str) -> Response:
    form = public_call("marketing", "GetPublicForm", pb.GetPublicFormRequest(form_id=id))
    return json_response(to_json(form), headers={**CORS, "Cache-Control": "no-store"})


def _field_errors(exc: grpc.RpcError) -> list[FieldError]:
    """Every bad field marketing named (crm-error-details {"errors": [...]}), else the one field."""
    raw = next((m.value for m in exc.trailing_metadata() or () if m.key == ERROR_DETAILS_KEY), "")
    try:
        listed = json.loads(raw).get("errors", []) if isinstance(raw, str) and raw else []
    except (ValueError, AttributeError):
        listed = []
    found = [FieldError(str(e["field"]), str(e["message"])) for e in listed
             if isinstance(e, dict) and "field" in e and "message" in e]
    return found or from_rpc_error(exc).errors


def _json_body(schema: Any) -> dict[str, Any]:
    """A JSON object sent as application/json or as text/plain (a beacon: no CORS preflight)."""
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise invalid_field("body", f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise invalid_field("body", "expected a JSON object")
    return require_valid(state().registry, body, schema)


def _json_submission(form_id: str) -> pb.SubmitFormRequest:
    message = pb.SubmitFormRequest(form_id=form_id)
    to_message(_json_body(sh.SUBMISSION_INPUT), message)
    return message


def _form_submission(form_id: str) -> pb.SubmitFormRequest:
    form = request.form
    message = pb.SubmitFormRequest(
        form_id=form_id, form_token=form.get("form_token", ""), language=form.get("language", ""),
        visitor_id=form.get("visitor_id", ""), page_url=form.get("page_url", ""), referrer=form.get("referrer", ""),
        consent=form.get("consent", "").lower() in _TICKED)
    for key in form_page.UTM_KEYS:
        setattr(message.utm, key.removeprefix("utm_"), form.get(key, ""))
    honeypot = "homepage"
    for key, values in form.lists():
        if key == honeypot:
            message.honeypot = values[0]
        elif key not in _CONTROL:
            message.values[key] = values[-1]  # the service refuses a key the form has no field for
    return message


def submit(c: Call, id: str) -> Response:
    mimetype = request.mimetype
    browser = mimetype in FORM_TYPES
    if not browser and mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send application/json, text/plain JSON or a form (application/x-www-form-urlencoded)")
    message = _form_submission(id) if browser else _json_submission(id)
    _visitor(message)
    try:
        answer = public_call("marketing", "SubmitForm", message)
    except grpc.RpcError as exc:
        if browser:
            return _html_refusal(exc, message)
        code = _code(exc)
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            problem = from_rpc_error(exc)
            problem.errors = _field_errors(exc)
            problem.headers.update(CORS)
            raise problem from None
        raise
    if browser:
        language = message.language or "zh-CN"
        return form_page.message_page(_THANKS, answer.thank_you, language, 200)
    return json_response(to_json(answer), 202, headers=CORS)


def _html_refusal(exc: grpc.RpcError, sent: pb.SubmitFormRequest) -> Response:
    code, language = _code(exc), sent.language or "zh-CN"
    if code == grpc.StatusCode.NOT_FOUND:
        return form_page.message_page(*_GONE, language, 404)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return form_page.message_page(*_BUSY, language, 429)
    if code != grpc.StatusCode.INVALID_ARGUMENT:
        return form_page.message_page(*_AWAY, language, 503)
    errors = {e.field.removeprefix("values."): e.message for e in _field_errors(exc)}
    try:
        form = public_call("marketing", "GetPublicForm", pb.GetPublicFormRequest(form_id=sent.form_id))
    except grpc.RpcError:
        return form_page.message_page(*_AWAY, language, 503)
    hidden = {k: v for k, v in (("page_url", sent.page_url), ("referrer", sent.referrer),
                                ("visitor_id", sent.visitor_id)) if v}
    hidden.update({f"utm_{k}": getattr(sent.utm, k) for k in ("source", "medium", "campaign", "term", "content")
                   if getattr(sent.utm, k)})
    # The token the visitor's page had still holds (the wait counts from when it was served),
    # unless the token itself was the problem.
    token = "" if "form_token" in errors else sent.form_token
    return form_page.form_page(form, language=language, hidden=hidden, values=dict(sent.values), errors=errors,
                               consent=sent.consent, status=400, token=token, action="submissions")


# -- web visits -----------------------------------------------------------------------------------

def track(c: Call) -> Response:
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send the page view as application/json or text/plain JSON (navigator.sendBeacon)")
    message = pb.TrackVisitRequest()
    to_message(_json_body(sh.TRACK_INPUT), message)
    message.visitor_id = message.visitor_id or request.cookies.get(VISITOR_COOKIE, "")[:64]
    _visitor(message)
    try:
        answer = public_call("marketing", "TrackVisit", message)
    except grpc.RpcError as exc:
        problem = from_rpc_error(exc)
        problem.headers.update(CORS)
        raise problem from None
    response = json_response(to_json(answer), headers={**CORS, "Cache-Control": "no-store"})
    response.set_cookie(VISITOR_COOKIE, answer.visitor_id, max_age=2 * 365 * 24 * 3600, path=PUBLIC,
                        httponly=True, samesite="Lax")
    return response


# -- declared routes ------------------------------------------------------------------------------

FORM_ROUTES = Resource(pb, "Form", FORMS, TAG, {
    **summaries("lead-capture form", "lead-capture forms"),
    "create": "Define a lead-capture form: fields (labels zh/en, required), consent checkbox (wording and "
              "purpose), thank-you text, campaign, assignment hints",
    "delete": "Delete a form that never received a submission (close the others: status closed)",
}, sh.FORM, sh.FORM_INPUT, sh.FORM_PATCH, sh.FORM_PAGE, sh.FORM_PARAMS)

SEQUENCE_ROUTES = Resource(pb, "Sequence", SEQUENCES, TAG, {
    **summaries("drip sequence", "drip sequences"),
    "create": "Define a drip / nurture sequence on a campaign: steps (day offset, template), consent purpose, "
              "whether leads sales sends back for nurturing join it; a draft until activated",
    "update": "Change some fields of a sequence (steps, purpose and sender only while a draft)",
    "delete": "Delete a draft sequence (archive the others)",
}, sh.SEQUENCE, sh.SEQUENCE_INPUT, sh.SEQUENCE_PATCH, sh.SEQUENCE_PAGE, sh.SEQUENCE_PARAMS)

RULE_ROUTES = Resource(pb, "AutomationRule", RULES, TAG, {
    **summaries("event-triggered rule", "event-triggered rules"),
    "create": "Define a rule: when an event type (any service's, or web.visit with a URL pattern) happened count "
              "times within within_days, and none of unless → send a template or enrol in a sequence (once per "
              "contact per window)",
}, sh.RULE, sh.RULE_INPUT, sh.RULE_PATCH, sh.RULE_PAGE, sh.RULE_PARAMS)

AB_TEST_ROUTES = Resource(pb, "AbTest", AB_TESTS, TAG, {
    "create": "Freeze an audience into an A/B test: variants of subject and body (each its own utm_content), the "
              "share tested (split evenly), the metric (open or click), the wait, the significance level",
    "list": "A campaign's A/B tests, newest first, with each variant's counts and rate",
    "get": "An A/B test with each variant's counts and rate, the winner and why (z, p), the winner's counts",
}, sh.AB_TEST, sh.AB_TEST_INPUT, page=sh.AB_TEST_PAGE, list_params=sh.AB_TEST_PARAMS)

ROUTES: list[Action | Route] = [
    # settings
    _a("GET", SETTINGS, "getAutomationSettings", "Scoring weights, decay and MQL threshold, A/B significance, "
       "form and visit limits, tracked sites", "GetAutomationSettings", pb.GetAutomationSettingsRequest,
       sh.SETTINGS, RESOURCE),
    _a("PATCH", SETTINGS, "updateAutomationSettings", "Change some automation settings (managers); the keys "
       "given form the mask", "UpdateAutomationSettings", pb.UpdateAutomationSettingsRequest, sh.SETTINGS,
       RESOURCE, body=sh.SETTINGS_PATCH, body_field="settings", mask=Mask()),
    # forms
    *FORM_ROUTES.actions(),
    _a("GET", f"{FORMS}/<id>/submissions", "listFormSubmissions", "A form's submissions, newest first, with their "
       "delivery to sales (pending, delivered, failed) and spam", "ListFormSubmissions",
       pb.ListFormSubmissionsRequest, sh.SUBMISSION_PAGE, items("submissions", paged=True),
       path={"id": "form_id"}, query=sh.SUBMISSION_PARAMS),
    _a("POST", f"{API}/form-submissions/<id>/retry", "retryFormSubmission", "Deliver a failed submission again",
       "RetryFormSubmission", pb.RetryFormSubmissionRequest, sh.SUBMISSION, JSON),
    # sequences
    *SEQUENCE_ROUTES.actions(),
    _a("POST", f"{SEQUENCES}/<id>/status", "changeSequenceStatus", "Activate (each step's wave freezes its "
       "template), pause, resume or archive a sequence", "ChangeSequenceStatus", pb.ChangeSequenceStatusRequest,
       sh.SEQUENCE, RESOURCE, body=sh.SEQUENCE_STATUS_INPUT),
    _a("POST", f"{SEQUENCES}/<id>/enrollments", "enrollInSequence", "Enrol contacts, and/or the recipients a wave "
       "mailed, in an active sequence (once each)", "EnrollContacts", pb.EnrollContactsRequest, sh.ENROLL_RESULT,
       JSON, body=sh.ENROLL_INPUT, path={"id": "sequence_id"}),
    _a("GET", f"{SEQUENCES}/<id>/enrollments", "listSequenceEnrollments", "A sequence's enrolments: status, steps "
       "done, next step, why each ended", "ListEnrollments", pb.ListEnrollmentsRequest, sh.ENROLLMENT_PAGE,
       items("enrollments", paged=True), path={"id": "sequence_id"}, query=sh.ENROLLMENT_PARAMS),
    _a("DELETE", f"{SEQUENCES}/<id>/enrollments/<contact_id>", "removeSequenceEnrollment", "Take a contact out of a "
       "sequence (exit reason removed)", "RemoveEnrollment", pb.RemoveEnrollmentRequest, sh.ENROLLMENT, JSON,
       path={"id": "sequence_id"}),
    # event-triggered rules
    *RULE_ROUTES.actions(),
    # A/B tests
    *[replace(a, check=required("campaign_id", "name the campaign whose tests to list"))
      if a.operation_id == "listAbTests" else a for a in AB_TEST_ROUTES.actions()],
    _a("POST", f"{AB_TESTS}/<id>/start", "startAbTest", "Mail the variants to the test share; the winner is picked "
       "after the wait and mailed to the rest", "StartAbTest", pb.StartAbTestRequest, sh.AB_TEST, RESOURCE),
    _a("POST", f"{AB_TESTS}/<id>/cancel", "cancelAbTest", "Stop an A/B test; what was not mailed stays unmailed",
       "CancelAbTest", pb.CancelAbTestRequest, sh.AB_TEST, RESOURCE),
    # engagement
    _a("GET", f"{API}/engagement/<contact_id>", "getEngagement", "A contact's engagement score (decayed), the "
       "threshold, when it qualified and its lead in sales, and its recent touches", "GetEngagement",
       pb.GetEngagementRequest, sh.ENGAGEMENT, JSON),
    # public: lead-capture forms
    Route("GET", f"{PUBLIC}/forms/<id>", form_html, "publicFormPage", "A lead-capture form as an HTML page to "
          "embed (iframe); keeps ?utm_*, page_url and lang", "public", response=sh.HTML_FORM, media_type="text/html",
          query=PAGE_PARAMS, public=True),
    Route("GET", f"{PUBLIC}/forms/<id>/definition", form_definition, "publicFormDefinition", "A lead-capture form "
          "as JSON (fields, consent wording, the signed form token, the honeypot field)", "public",
          response=sh.PUBLIC_FORM, public=True),
    Route("POST", f"{PUBLIC}/forms/<id>/submissions", submit, "submitPublicForm", "Send a form: JSON "
          "(FormSubmissionInput; 202, or 400 naming every bad field) or form-encoded from the HTML page (an HTML "
          "answer). Rate limited per address and per email", "public", response=sh.SUBMIT_RESULT, status=202,
          public=True, request_body={"application/json": {"schema": sh.SUBMISSION_INPUT}}),
    # public: web visits
    Route("POST", f"{PUBLIC}/track", track, "trackPageView", "A page view on a tracked site (site_key, url; the "
          "visitor_id of the crm_vid cookie; email or contact_token, the crm_ct of a tracked mail's link, to tie it "
          "to a contact). JSON or text/plain JSON; rate limited per visitor", "public", response=sh.TRACK_RESULT,
          public=True, request_body={"application/json": {"schema": sh.TRACK_INPUT}}),
]
