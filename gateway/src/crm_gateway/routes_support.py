"""Support routes → crm.support.v1.SupportService: /api/v1/tickets, /inbound/*, /kb/*, /support/*,
and the public endpoints (/public/*: web form, self-service knowledge base, CSAT answers), which
the gateway calls as the public principal (public.py).

Hand-written views: inbound email (its body is the raw RFC 822 message, not JSON) and the CSAT
survey page the survey mail links to (HTML for a person, csat_page.py)."""
from __future__ import annotations

from typing import Any

from flask import Response, request

from crm.support.v1 import support_pb2 as pb
from crm_gateway import csat_page
from crm_gateway.actions import JSON, Action, Mask, Reply, items, required
from crm_gateway.crud import Resource
from crm_gateway.problems import Problem, invalid_field
from crm_gateway.public import charge_vote
from crm_gateway.routing import API, Call, Route, json_response, metadata, parse_json, state
from crm_gateway.schemas import support as sh
from crm_gateway.serialize import to_json

TICKETS, KB, PUBLIC = f"{API}/tickets", f"{API}/kb", f"{API}/public"
TICKET = f"{TICKETS}/<id>"
_SEARCH = required("q", "type something to search for")


def inbound_email(c: Call) -> Response:
    """The raw message as message/rfc822 (or text/plain), or JSON {"raw": "<the message>"}."""
    mimetype = request.mimetype
    data = request.get_data(cache=False)
    if mimetype == "application/json":
        body = parse_json(data)
        if not isinstance(body, dict) or not isinstance(body.get("raw"), str) or set(body) != {"raw"}:
            raise invalid_field("raw", 'send {"raw": "<the RFC 822 message>"}')
        raw = body["raw"].encode("utf-8")
    elif mimetype in ("message/rfc822", "text/plain"):
        raw = data
    else:
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send the message as message/rfc822, or as JSON {\"raw\": ...}")
    if not raw.strip():
        raise invalid_field("raw", "the message is empty")
    answer = state().backends.client("support").call("InboundEmail", pb.InboundEmailRequest(raw=raw),
                                                     metadata=metadata())
    return json_response(to_json(answer), 200 if answer.threaded or not answer.ticket.id else 201)


def _created_unless_threaded(answer: Any) -> int:
    return 200 if answer.threaded else 201


def _count_vote(vote: pb.RateKbArticleRequest) -> None:
    charge_vote(vote.id)


def _client_ip(form: pb.SubmitWebFormRequest) -> None:
    form.client_ip = request.remote_addr or ""


def _settings(path: str, name: str, body: Any, sections: tuple[str, ...]) -> list[Action]:
    """GET and PUT of some sections of the support settings; an empty PUT body clears them."""
    title, op = name.replace("_", " "), name.title().replace("_", "")
    return [
        Action("GET", f"{API}/support/{path}", f"get{op}", f"Support settings (showing the {title})", "support",
               "GetSupportSettings", pb.GetSupportSettingsRequest, sh.SETTINGS),
        Action("PUT", f"{API}/support/{path}", f"put{op}", f"Replace the {title}", "support",
               "UpdateSupportSettings", pb.UpdateSupportSettingsRequest, sh.SETTINGS, body=body,
               body_field="settings", mask=Mask(default=sections)),
    ]


TICKET_ROUTES = Resource(pb, "Ticket", TICKETS, "tickets", {
    "create": "Open a ticket (API channel)",
    "list": "Tickets visible to the caller, newest first",
    "get": "A ticket by id or number (T-000123)",
    "update": "Change subject, description, type, priority, assignee, group or tags",
}, sh.TICKET, sh.TICKET_INPUT, sh.TICKET_PATCH, sh.TICKET_PAGE, sh.TICKET_PARAMS)
ARTICLE_ROUTES = Resource(pb, "KbArticle", f"{KB}/articles", "kb", {
    "list": "Articles, drafts included",
    "create": "Write an article",
    "get": "An article",
    "update": "Edit or publish an article",
}, sh.ARTICLE, sh.ARTICLE_INPUT, sh.ARTICLE_PATCH, page=sh.ARTICLE_PAGE, list_params=sh.ARTICLE_PARAMS)

ROUTES: list[Action | Route] = [
    *TICKET_ROUTES.actions(),
    Action("POST", f"{TICKET}/status", "changeTicketStatus", "Move the ticket (open, pending, solved with a "
           "resolution note, closed, reopen); solving returns the CSAT token once", "tickets", "ChangeTicketStatus",
           pb.ChangeTicketStatusRequest, sh.STATUS_RESULT, JSON, body=sh.STATUS_INPUT),
    Action("POST", f"{TICKET}/comments", "addTicketComment", "A public reply (public: true) or an internal note",
           "tickets", "AddComment", pb.AddCommentRequest, sh.COMMENT_RESULT, JSON, body=sh.COMMENT_REQUEST,
           path={"id": "ticket_id"}, status=201),
    Action("GET", f"{TICKETS}/escalated-to-me", "listMyEscalations", "Tickets escalated to the caller (SLA "
           "breaches reach the policy's supervisor): open ones first, newest first", "tickets", "ListMyEscalations",
           pb.ListMyEscalationsRequest, sh.TICKET_PAGE, items("tickets", paged=True), query=sh.ESCALATION_PARAMS),
    Action("GET", f"{TICKET}/comments", "listTicketComments", "The ticket's conversation", "tickets",
           "ListComments", pb.ListCommentsRequest, sh.COMMENT_LIST, items("comments"), path={"id": "ticket_id"},
           query=sh.COMMENT_PARAMS),
    Action("POST", f"{TICKET}/macros/<macro_id>", "applyMacro", "Apply a macro (canned reply, status, tags)",
           "tickets", "ApplyMacro", pb.ApplyMacroRequest, sh.COMMENT_RESULT, JSON, path={"id": "ticket_id"},
           status=201),
    Route("POST", f"{API}/inbound/email", inbound_email, "receiveEmail", "Inbound email: the raw RFC 822 message as "
          "message/rfc822, or JSON {\"raw\": ...}; replies thread into their ticket", "intake",
          response=sh.EMAIL_RESULT, status=201, also=(200,), request_body=sh.EMAIL_BODY),
    Action("POST", f"{API}/inbound/chat", "receiveChat", "A chat transcript; the same conversation threads into "
           "one ticket", "intake", "InboundChat", pb.InboundChatRequest, sh.CHAT_RESULT, JSON, body=sh.CHAT_INPUT,
           status=201, status_of=_created_unless_threaded, also=(200,)),
    Action("POST", f"{API}/inbound/calls", "logCall", "Log a phone call on a ticket or as a new one", "intake",
           "LogCall", pb.LogCallRequest, sh.CALL_RESULT, JSON, body=sh.CALL_INPUT, status=201),
    Action("POST", f"{PUBLIC}/tickets", "submitWebForm", "The public web form (rate limited per address and per "
           "email)", "public", "SubmitWebForm", pb.SubmitWebFormRequest, sh.WEB_FORM_RESULT, JSON,
           body=sh.WEB_FORM, status=201, public=True, fill=_client_ip),
    *_settings("sla-policies", "sla_policies", sh.SLA_INPUT, sh.SLA_SECTIONS),
    *_settings("routing-rules", "routing_rules", sh.ROUTING_INPUT, ("routing_rules",)),
    *_settings("macros", "macros", sh.MACROS_INPUT, ("macros",)),
    *_settings("staff", "staff", sh.STAFF_INPUT, ("staff",)),
    Action("GET", f"{API}/support/top-issues", "getTopIssues", "Recurring problems mined from recent tickets",
           "support", "GetTopIssues", pb.GetTopIssuesRequest, sh.TOP_ISSUES, JSON, query=sh.TOP_ISSUES_PARAMS),
    # knowledge base
    Action("GET", f"{KB}/categories", "listKbCategories", "Knowledge-base categories", "kb", "ListKbCategories",
           pb.ListKbCategoriesRequest, sh.CATEGORY_LIST, items("categories")),
    Action("POST", f"{KB}/categories", "createKbCategory", "Add a category", "kb", "CreateKbCategory",
           pb.CreateKbCategoryRequest, sh.CATEGORY, body=sh.CATEGORY_INPUT, body_field="category", status=201),
    *ARTICLE_ROUTES.actions(),
    Action("POST", f"{KB}/articles/<id>/feedback", "rateKbArticle", "Helpful or not", "kb", "RateKbArticle",
           pb.RateKbArticleRequest, sh.ARTICLE, body=sh.FEEDBACK_INPUT),
    Action("GET", f"{KB}/search", "searchKb", "Full-text search (Chinese and English)", "kb", "SearchKb",
           pb.SearchKbRequest, sh.SEARCH_RESULT, JSON, query=sh.SEARCH_PARAMS, query_fields={"q": "query"},
           check=_SEARCH),
    Action("GET", f"{KB}/suggest", "suggestKb", "Articles for a ticket subject being typed", "kb", "SuggestKb",
           pb.SearchKbRequest, sh.SEARCH_RESULT, JSON, query=sh.SEARCH_PARAMS, query_fields={"q": "query"},
           check=_SEARCH),
    # public: no user token
    Action("GET", f"{PUBLIC}/kb/search", "searchPublicKb", "Self-service search (published)", "public",
           "SearchPublicKb", pb.SearchKbRequest, sh.SEARCH_RESULT, JSON, query=sh.SEARCH_PARAMS,
           query_fields={"q": "query"}, check=_SEARCH, public=True),
    Action("GET", f"{PUBLIC}/kb/suggest", "suggestPublicKb", "Published articles for a subject being typed",
           "public", "SuggestPublicKb", pb.SearchKbRequest, sh.SEARCH_RESULT, JSON, query=sh.SEARCH_PARAMS,
           query_fields={"q": "query"}, check=_SEARCH, public=True),
    Action("GET", f"{PUBLIC}/kb/articles/<id>", "getPublicKbArticle", "A published article", "public",
           "GetKbArticle", pb.GetKbArticleRequest, sh.ARTICLE, public=True),
    Action("POST", f"{PUBLIC}/kb/articles/<id>/feedback", "ratePublicKbArticle", "A reader's helpful / not "
           "helpful", "public", "RateKbArticle", pb.RateKbArticleRequest, sh.PUBLIC_FEEDBACK,
           Reply("json", only=sh.FEEDBACK_COUNTS), body=sh.FEEDBACK_INPUT, public=True, fill=_count_vote),
    Route("GET", f"{PUBLIC}/csat/<token>", csat_page.survey_form, "csatSurveyPage", "The survey form the CSAT "
          "mail links to (HTML; opening it answers nothing)", "public", response=sh.CSAT_PAGE, media_type="text/html",
          public=True),
    Route("POST", f"{PUBLIC}/csat/<token>/answer", csat_page.survey_answer, "answerCsatForm", "The survey form's "
          "post (application/x-www-form-urlencoded: rating, comment); answers with an HTML page", "public",
          response=sh.CSAT_PAGE, media_type="text/html", status=201, public=True,
          request_body={"application/x-www-form-urlencoded": {"schema": sh.CSAT_FORM}}),
    Action("POST", f"{PUBLIC}/csat/<token>", "answerCsat", "Answer a satisfaction survey (once per ticket)",
           "public", "AnswerCsat", pb.AnswerCsatRequest, sh.CSAT_RESULT, JSON, body=sh.CSAT_INPUT, status=201,
           public=True),
]
