"""Support routes: /api/v1/tickets, /inbound/*, /kb/*, /support/*, and the public endpoints
(/public/*: web form, self-service knowledge base, CSAT answers) → SupportService.

Public endpoints carry no user token. The gateway calls the service for them as the "public-web"
principal (role "public", which the service lets reach only its public RPCs), with a short-lived
token minted from the shared HS256 secret; each visitor address is rate limited here, and the
service adds its own abuse limits (per address and per email). With JWKS-only auth the gateway
holds no signing key, so the public endpoints answer 503 until a client-credentials token source
is configured."""
from __future__ import annotations

import json
import threading
import time
from typing import Any

from flask import Response, g, request
from google.protobuf.field_mask_pb2 import FieldMask

from crm.support.v1 import support_pb2 as pb
from crm_gateway.problems import Problem, invalid_field, rate_limited
from crm_gateway.routing import (
    API,
    Call,
    QueryParam,
    Route,
    expected_version,
    json_response,
    metadata,
    page_response,
    resource_response,
    state,
)
from crm_gateway.schema import SERVER_OWNED, to_message
from crm_gateway.serialize import to_json
from crm_gateway.shapes import PAGE_PARAMS, REGISTRY, page_request
from crmkit.auth import Principal, mint_token

_r = REGISTRY
PUBLIC_PRINCIPAL = Principal("public-web", ("public",), "", "", "public web visitor")
_TICKET_SERVER = SERVER_OWNED | {
    "number", "status", "sla", "history", "escalated", "escalated_to", "reopen_count", "routing_rule_id",
    "created_by", "first_responded_at", "solved_at", "closed_at", "sla_policy_id", "resolution_note",
    "customer_level", "follow_up_of",
}
_TICKET_PATCHABLE = {"subject", "description", "type", "priority", "assignee_id", "group", "tags"}
_ARTICLE_SERVER = SERVER_OWNED | {"author_id", "helpful_count", "not_helpful_count", "published_at"}
_SETTINGS_ALL = {f.name for f in pb.SupportSettings.DESCRIPTOR.fields}

TICKET = _r.message(pb.Ticket.DESCRIPTOR)
TICKET_INPUT = _r.message(pb.Ticket.DESCRIPTOR, name="TicketInput", exclude=_TICKET_SERVER)
TICKET_PATCH = _r.message(pb.Ticket.DESCRIPTOR, name="TicketPatch",
                          exclude={f.name for f in pb.Ticket.DESCRIPTOR.fields} - _TICKET_PATCHABLE)
TICKET_PAGE = _r.page(TICKET, "TicketPage")
STATUS_INPUT = _r.message(pb.ChangeTicketStatusRequest.DESCRIPTOR, name="TicketStatusInput",
                          exclude={"id", "expected_version"})
_r.schemas["TicketStatusInput"]["required"] = ["status"]
STATUS_RESULT = _r.message(pb.ChangeTicketStatusResponse.DESCRIPTOR)
COMMENT_INPUT = _r.message(pb.Comment.DESCRIPTOR, name="CommentInput",
                           exclude={"id", "ticket_id", "author_id", "author_kind", "created_at", "message_id"})
COMMENT_REQUEST = _r.add("AddCommentInput", {
    "type": "object", "additionalProperties": False, "required": ["comment"],
    "properties": {"comment": COMMENT_INPUT, "set_status": {"type": "string"}},
})
COMMENT_RESULT = _r.message(pb.AddCommentResponse.DESCRIPTOR)
COMMENT_LIST = _r.page(_r.message(pb.Comment.DESCRIPTOR), "CommentList", paged=False)
EMAIL_RESULT = _r.message(pb.InboundEmailResponse.DESCRIPTOR)
CHAT_INPUT = _r.message(pb.InboundChatRequest.DESCRIPTOR)
CHAT_RESULT = _r.message(pb.InboundChatResponse.DESCRIPTOR)
CALL_INPUT = _r.message(pb.LogCallRequest.DESCRIPTOR)
CALL_RESULT = _r.message(pb.LogCallResponse.DESCRIPTOR)
WEB_FORM = _r.message(pb.SubmitWebFormRequest.DESCRIPTOR, name="WebFormInput", exclude={"client_ip"})
_r.schemas["WebFormInput"]["required"] = ["email", "subject", "description"]
WEB_FORM_RESULT = _r.message(pb.SubmitWebFormResponse.DESCRIPTOR)
SETTINGS = _r.message(pb.SupportSettings.DESCRIPTOR)
SLA_INPUT = _r.message(pb.SupportSettings.DESCRIPTOR, name="SlaPoliciesInput",
                       exclude=_SETTINGS_ALL - {"sla_policies", "business_hours", "default_supervisor_id"})
ROUTING_INPUT = _r.message(pb.SupportSettings.DESCRIPTOR, name="RoutingRulesInput",
                           exclude=_SETTINGS_ALL - {"routing_rules"})
MACROS_INPUT = _r.message(pb.SupportSettings.DESCRIPTOR, name="MacrosInput", exclude=_SETTINGS_ALL - {"macros"})
CATEGORY = _r.message(pb.KbCategory.DESCRIPTOR)
CATEGORY_INPUT = _r.message(pb.KbCategory.DESCRIPTOR, name="KbCategoryInput", exclude={"id"})
CATEGORY_LIST = _r.page(CATEGORY, "KbCategoryList", paged=False)
ARTICLE = _r.message(pb.KbArticle.DESCRIPTOR)
ARTICLE_INPUT = _r.message(pb.KbArticle.DESCRIPTOR, name="KbArticleInput", exclude=_ARTICLE_SERVER)
ARTICLE_PAGE = _r.page(ARTICLE, "KbArticlePage")
SEARCH_RESULT = _r.message(pb.SearchKbResponse.DESCRIPTOR)
FEEDBACK_INPUT = _r.message(pb.RateKbArticleRequest.DESCRIPTOR, name="KbFeedbackInput", exclude={"id"})
CSAT_INPUT = _r.message(pb.AnswerCsatRequest.DESCRIPTOR, name="CsatInput", exclude={"token"})
_r.schemas["CsatInput"]["required"] = ["rating"]
CSAT_RESULT = _r.message(pb.AnswerCsatResponse.DESCRIPTOR)
TOP_ISSUES = _r.message(pb.GetTopIssuesResponse.DESCRIPTOR)

TICKET_PARAMS = (
    QueryParam("status", choices=("new", "open", "pending", "solved", "closed")),
    QueryParam("assignee_id"), QueryParam("group"), QueryParam("contact_id"),
    QueryParam("priority", choices=("low", "normal", "high", "urgent")),
    QueryParam("channel"), *PAGE_PARAMS,
)
SEARCH_PARAMS = (
    QueryParam("q", description="what to look for; two Chinese characters are enough"),
    QueryParam("category_id"), QueryParam("language", choices=("zh", "en")),
    QueryParam("limit", "integer", "at most this many hits", 1, 50),
)
TICKETS, KB = f"{API}/tickets", f"{API}/kb"


def _support() -> Any:
    return state().backends.client("support")


def _call(method: str, req: Any) -> Any:
    return _support().call(method, req, metadata=metadata())


# -- the public principal

_token_lock = threading.Lock()
_public_token: dict[str, tuple[str, float]] = {}


def _public_call(method: str, req: Any) -> Any:
    st = state()
    client = _support()  # 503 first when support is not deployed
    wait = st.limiter.acquire(f"public:{request.remote_addr}")
    if wait:
        raise rate_limited(wait)
    secret = st.settings.auth.jwt_secret
    if not secret:
        raise Problem(503, "service-unavailable", "Service unavailable",
                      "public endpoints need a service credential on this gateway")
    with _token_lock:
        token, expires = _public_token.get(secret, ("", 0.0))
        if time.time() > expires - 60:
            token = mint_token(PUBLIC_PRINCIPAL, secret, ttl_seconds=600)
            _public_token[secret] = (token, time.time() + 600)
    md = (("authorization", f"Bearer {token}"), ("x-request-id", g.get("request_id", "")))
    return client.call(method, req, metadata=md)


# -- tickets

def create_ticket(c: Call) -> Response:
    ticket = _call("CreateTicket", pb.CreateTicketRequest(ticket=to_message(c.body, pb.Ticket())))
    return resource_response(ticket, status=201, location=f"{TICKETS}/{ticket.id}")


def list_tickets(c: Call) -> Response:
    q = c.query
    flt = pb.TicketFilter(status=q.get("status", ""), assignee_id=q.get("assignee_id", ""), group=q.get("group", ""),
                          contact_id=q.get("contact_id", ""), priority=q.get("priority", ""),
                          channel=q.get("channel", ""))
    answer = _call("ListTickets", pb.ListTicketsRequest(filter=flt, page=page_request(q)))
    return page_response(answer.tickets, answer.page.next_page_token)


def get_ticket(c: Call, id: str) -> Response:
    return resource_response(_call("GetTicket", pb.GetTicketRequest(id=id)))


def update_ticket(c: Call, id: str) -> Response:
    if not c.body:
        raise invalid_field("body", "give at least one field to change")
    changes = to_message(c.body, pb.Ticket())
    changes.id = id
    req = pb.UpdateTicketRequest(ticket=changes, update_mask=FieldMask(paths=sorted(c.body)),
                                 expected_version=expected_version())
    return resource_response(_call("UpdateTicket", req))


def change_status(c: Call, id: str) -> Response:
    req = to_message(c.body, pb.ChangeTicketStatusRequest())
    req.id, req.expected_version = id, expected_version()
    return json_response(to_json(_call("ChangeTicketStatus", req)))


def add_comment(c: Call, id: str) -> Response:
    req = pb.AddCommentRequest(ticket_id=id, comment=to_message(c.body["comment"], pb.Comment()),
                               set_status=c.body.get("set_status", ""))
    return json_response(to_json(_call("AddComment", req)), 201)


def list_comments(c: Call, id: str) -> Response:
    answer = _call("ListComments", pb.ListCommentsRequest(ticket_id=id, public_only=c.query.get("public_only", False)))
    return page_response(answer.comments)


def apply_macro(c: Call, id: str, macro_id: str) -> Response:
    return json_response(to_json(_call("ApplyMacro", pb.ApplyMacroRequest(ticket_id=id, macro_id=macro_id))), 201)


# -- intake

def inbound_email(c: Call) -> Response:
    """The raw message as message/rfc822 (or text/plain), or JSON {"raw": "<the message>"}."""
    mimetype = request.mimetype
    data = request.get_data(cache=False)
    if mimetype == "application/json":
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise invalid_field("body", f"malformed JSON: {exc}") from None
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
    answer = _call("InboundEmail", pb.InboundEmailRequest(raw=raw))
    return json_response(to_json(answer), 200 if answer.threaded or not answer.ticket.id else 201)


def inbound_chat(c: Call) -> Response:
    answer = _call("InboundChat", to_message(c.body, pb.InboundChatRequest()))
    return json_response(to_json(answer), 200 if answer.threaded else 201)


def log_call(c: Call) -> Response:
    return json_response(to_json(_call("LogCall", to_message(c.body, pb.LogCallRequest()))), 201)


def web_form(c: Call) -> Response:
    req = to_message(c.body, pb.SubmitWebFormRequest())
    req.client_ip = request.remote_addr or ""
    return json_response(to_json(_public_call("SubmitWebForm", req)), 201)


# -- settings

def _settings_routes(path: str, name: str, schema: Any, fields: tuple[str, ...]) -> list[Route]:
    def read(c: Call) -> Response:
        return resource_response(_call("GetSupportSettings", pb.GetSupportSettingsRequest()))

    def write(c: Call) -> Response:
        paths = sorted(c.body) or list(fields)
        req = pb.UpdateSupportSettingsRequest(settings=to_message(c.body, pb.SupportSettings()),
                                              update_mask=FieldMask(paths=paths), expected_version=expected_version())
        return resource_response(_call("UpdateSupportSettings", req))

    title = name.replace("_", " ")
    return [
        Route("GET", f"{API}/support/{path}", read, f"get{name.title().replace('_', '')}",
              f"Support settings (showing the {title})", "support", response=SETTINGS, etag=True),
        Route("PUT", f"{API}/support/{path}", write, f"put{name.title().replace('_', '')}",
              f"Replace the {title}", "support", body=schema, response=SETTINGS, etag=True, if_match=True),
    ]


def top_issues(c: Call) -> Response:
    req = pb.GetTopIssuesRequest(limit=c.query.get("limit", 0))
    if "since" in c.query:
        req.since.CopyFrom(c.query["since"])
    return json_response(to_json(_call("GetTopIssues", req)))


# -- knowledge base

def list_categories(c: Call) -> Response:
    return page_response(_call("ListKbCategories", pb.ListKbCategoriesRequest()).categories)


def create_category(c: Call) -> Response:
    created = _call("CreateKbCategory", pb.CreateKbCategoryRequest(category=to_message(c.body, pb.KbCategory())))
    return resource_response(created, status=201)


def list_articles(c: Call) -> Response:
    req = pb.ListKbArticlesRequest(category_id=c.query.get("category_id", ""), status=c.query.get("status", ""),
                                   page=page_request(c.query))
    answer = _call("ListKbArticles", req)
    return page_response(answer.articles, answer.page.next_page_token)


def create_article(c: Call) -> Response:
    created = _call("CreateKbArticle", pb.CreateKbArticleRequest(article=to_message(c.body, pb.KbArticle())))
    return resource_response(created, status=201, location=f"{KB}/articles/{created.id}")


def get_article(c: Call, id: str) -> Response:
    return resource_response(_call("GetKbArticle", pb.GetKbArticleRequest(id=id)))


def update_article(c: Call, id: str) -> Response:
    if not c.body:
        raise invalid_field("body", "give at least one field to change")
    changes = to_message(c.body, pb.KbArticle())
    changes.id = id
    req = pb.UpdateKbArticleRequest(article=changes, update_mask=FieldMask(paths=sorted(c.body)),
                                    expected_version=expected_version())
    return resource_response(_call("UpdateKbArticle", req))


def _search_request(c: Call) -> pb.SearchKbRequest:
    q = c.query.get("q", "")
    if not q.strip():
        raise invalid_field("q", "type something to search for")
    return pb.SearchKbRequest(query=q, category_id=c.query.get("category_id", ""),
                              language=c.query.get("language", ""), limit=c.query.get("limit", 0))


def search(c: Call) -> Response:
    return json_response(to_json(_call("SearchKb", _search_request(c))))


def suggest(c: Call) -> Response:
    return json_response(to_json(_call("SuggestKb", _search_request(c))))


def rate_article(c: Call, id: str) -> Response:
    req = to_message(c.body, pb.RateKbArticleRequest())
    req.id = id
    return resource_response(_call("RateKbArticle", req))


def public_search(c: Call) -> Response:
    return json_response(to_json(_public_call("SearchPublicKb", _search_request(c))))


def public_suggest(c: Call) -> Response:
    return json_response(to_json(_public_call("SuggestPublicKb", _search_request(c))))


def public_article(c: Call, id: str) -> Response:
    return resource_response(_public_call("GetKbArticle", pb.GetKbArticleRequest(id=id)))


def public_rate(c: Call, id: str) -> Response:
    req = to_message(c.body, pb.RateKbArticleRequest())
    req.id = id
    rated = _public_call("RateKbArticle", req)
    return json_response({"id": rated.id, "helpful_count": rated.helpful_count,
                          "not_helpful_count": rated.not_helpful_count})


def answer_csat(c: Call, token: str) -> Response:
    req = to_message(c.body, pb.AnswerCsatRequest())
    req.token = token
    return json_response(to_json(_public_call("AnswerCsat", req)), 201)


PUBLIC_FEEDBACK = _r.add("KbFeedbackCounts", {
    "type": "object", "additionalProperties": False,
    "properties": {"id": {"type": "string"}, "helpful_count": {"type": "integer"},
                   "not_helpful_count": {"type": "integer"}},
})

ROUTES: list[Route] = [
    Route("POST", TICKETS, create_ticket, "createTicket", "Open a ticket (API channel)", "tickets",
          body=TICKET_INPUT, response=TICKET, status=201, etag=True, location=True),
    Route("GET", TICKETS, list_tickets, "listTickets", "Tickets visible to the caller, newest first", "tickets",
          response=TICKET_PAGE, query=TICKET_PARAMS),
    Route("GET", f"{TICKETS}/<id>", get_ticket, "getTicket", "A ticket by id or number (T-000123)", "tickets",
          response=TICKET, etag=True),
    Route("PATCH", f"{TICKETS}/<id>", update_ticket, "updateTicket",
          "Change subject, description, type, priority, assignee, group or tags", "tickets",
          body=TICKET_PATCH, response=TICKET, etag=True, if_match=True),
    Route("POST", f"{TICKETS}/<id>/status", change_status, "changeTicketStatus",
          "Move the ticket (open, pending, solved with a resolution note, closed, reopen); solving returns "
          "the CSAT token once", "tickets", body=STATUS_INPUT, response=STATUS_RESULT, if_match=True),
    Route("POST", f"{TICKETS}/<id>/comments", add_comment, "addTicketComment",
          "A public reply (public: true) or an internal note", "tickets",
          body=COMMENT_REQUEST, response=COMMENT_RESULT, status=201),
    Route("GET", f"{TICKETS}/<id>/comments", list_comments, "listTicketComments", "The ticket's conversation",
          "tickets", response=COMMENT_LIST, query=(QueryParam("public_only", "boolean"),)),
    Route("POST", f"{TICKETS}/<id>/macros/<macro_id>", apply_macro, "applyMacro",
          "Apply a macro (canned reply, status, tags)", "tickets", response=COMMENT_RESULT, status=201),
    Route("POST", f"{API}/inbound/email", inbound_email, "receiveEmail",
          "Inbound email: the raw RFC 822 message as message/rfc822, or JSON {\"raw\": ...}; replies thread "
          "into their ticket", "intake", response=EMAIL_RESULT, status=201),
    Route("POST", f"{API}/inbound/chat", inbound_chat, "receiveChat",
          "A chat transcript; the same conversation threads into one ticket", "intake",
          body=CHAT_INPUT, response=CHAT_RESULT, status=201),
    Route("POST", f"{API}/inbound/calls", log_call, "logCall", "Log a phone call on a ticket or as a new one",
          "intake", body=CALL_INPUT, response=CALL_RESULT, status=201),
    Route("POST", f"{API}/public/tickets", web_form, "submitWebForm",
          "The public web form (rate limited per address and per email)", "public",
          body=WEB_FORM, response=WEB_FORM_RESULT, status=201, public=True),
    *_settings_routes("sla-policies", "sla_policies", SLA_INPUT, ("sla_policies", "business_hours")),
    *_settings_routes("routing-rules", "routing_rules", ROUTING_INPUT, ("routing_rules",)),
    *_settings_routes("macros", "macros", MACROS_INPUT, ("macros",)),
    Route("GET", f"{API}/support/top-issues", top_issues, "getTopIssues",
          "Recurring problems mined from recent tickets", "support", response=TOP_ISSUES,
          query=(QueryParam("since", "date-time"), QueryParam("limit", "integer", "", 1, 100))),
    Route("GET", f"{KB}/categories", list_categories, "listKbCategories", "Knowledge-base categories", "kb",
          response=CATEGORY_LIST),
    Route("POST", f"{KB}/categories", create_category, "createKbCategory", "Add a category", "kb",
          body=CATEGORY_INPUT, response=CATEGORY, status=201),
    Route("GET", f"{KB}/articles", list_articles, "listKbArticles", "Articles, drafts included", "kb",
          response=ARTICLE_PAGE, query=(QueryParam("category_id"),
                                        QueryParam("status", choices=("draft", "published", "archived")),
                                        *PAGE_PARAMS)),
    Route("POST", f"{KB}/articles", create_article, "createKbArticle", "Write an article", "kb",
          body=ARTICLE_INPUT, response=ARTICLE, status=201, etag=True, location=True),
    Route("GET", f"{KB}/articles/<id>", get_article, "getKbArticle", "An article", "kb", response=ARTICLE, etag=True),
    Route("PATCH", f"{KB}/articles/<id>", update_article, "updateKbArticle", "Edit or publish an article", "kb",
          body=ARTICLE_INPUT, response=ARTICLE, etag=True, if_match=True),
    Route("POST", f"{KB}/articles/<id>/feedback", rate_article, "rateKbArticle", "Helpful or not", "kb",
          body=FEEDBACK_INPUT, response=ARTICLE),
    Route("GET", f"{KB}/search", search, "searchKb", "Full-text search (Chinese and English)", "kb",
          response=SEARCH_RESULT, query=SEARCH_PARAMS),
    Route("GET", f"{KB}/suggest", suggest, "suggestKb", "Articles for a ticket subject being typed", "kb",
          response=SEARCH_RESULT, query=SEARCH_PARAMS),
    Route("GET", f"{API}/public/kb/search", public_search, "searchPublicKb", "Self-service search (published)",
          "public", response=SEARCH_RESULT, query=SEARCH_PARAMS, public=True),
    Route("GET", f"{API}/public/kb/suggest", public_suggest, "suggestPublicKb",
          "Published articles for a subject being typed", "public", response=SEARCH_RESULT, query=SEARCH_PARAMS,
          public=True),
    Route("GET", f"{API}/public/kb/articles/<id>", public_article, "getPublicKbArticle", "A published article",
          "public", response=ARTICLE, public=True),
    Route("POST", f"{API}/public/kb/articles/<id>/feedback", public_rate, "ratePublicKbArticle",
          "A reader's helpful / not helpful", "public", body=FEEDBACK_INPUT, response=PUBLIC_FEEDBACK, public=True),
    Route("POST", f"{API}/public/csat/<token>", answer_csat, "answerCsat",
          "Answer a satisfaction survey (once per ticket)", "public", body=CSAT_INPUT, response=CSAT_RESULT,
          status=201, public=True),
]
