"""Support shapes (crm.support.v1): tickets and comments, intake channels, settings, the
knowledge base, the public web form and CSAT answers."""
from __future__ import annotations

from crm.support.v1 import support_pb2 as pb
from crm_gateway.routing import QueryParam
from crm_gateway.schema import NOT_BLANK, JsonSchema
from crm_gateway.schemas import PAGE_PARAMS, REGISTRY
from crmkit import limits

_r = REGISTRY
# A plain address (crm_support.rules.intake and .settings): no display name, no spaces.
# characters Python's \s takes for space and JSON Schema's does not are left out too (\x1c-\x1f, \x85)
EMAIL_PATTERN = r"^[^@\s\u0000\u001c-\u001f\u0085]{1,64}@[^@\s\u0000\u001c-\u001f\u0085]+\.[^@\s\u0000\u001c-\u001f\u0085]{2,}$"
EMAIL_PATTERN_OR_EMPTY = r"^$|" + EMAIL_PATTERN
_SETTINGS = pb.SupportSettings

# -- tickets
TICKET = _r.message(pb.Ticket)
TICKET_INPUT = _r.input(pb.Ticket)
_r.require_text("TicketInput", "subject")
TICKET_PATCH = _r.patch(pb.Ticket, "TicketPatch")
PRIORITIES = ("low", "normal", "high", "urgent")  # crm_support.rules.tickets; "" is normal
CHANNELS = ("api", "web", "email", "chat", "phone", "social", "wechat", "wecom")  # crm_support.rules.tickets
for _name in ("TicketInput", "TicketPatch"):
    _r.enum(_name, "priority", PRIORITIES)
    if "channel" in _r.schemas[_name]["properties"]:
        _r.enum(_name, "channel", CHANNELS)
TICKET_PAGE = _r.page(TICKET, "TicketPage")
STATUS_INPUT = _r.input(pb.ChangeTicketStatusRequest, "TicketStatusInput",
                        exclude={"id", "expected_version"}, required=("status",))
STATUS_RESULT = _r.message(pb.ChangeTicketStatusResponse)
COMMENT_INPUT = _r.input(pb.Comment)
COMMENT_REQUEST = _r.input(pb.AddCommentRequest, "AddCommentInput", exclude={"ticket_id"},
                           required=("comment",))
COMMENT_RESULT = _r.message(pb.AddCommentResponse)
COMMENT_LIST = _r.page(_r.message(pb.Comment), "CommentList", paged=False)
TICKET_PARAMS = (
    QueryParam("status", choices=("new", "open", "pending", "solved", "closed")),
    QueryParam("assignee_id"), QueryParam("group"), QueryParam("contact_id"),
    QueryParam("priority", choices=("low", "normal", "high", "urgent")),
    QueryParam("channel", choices=CHANNELS), *PAGE_PARAMS,
)
COMMENT_PARAMS = (QueryParam("public_only", "boolean"),)
ESCALATION_PARAMS = (QueryParam("open_only", "boolean", "leave out solved and closed tickets"), *PAGE_PARAMS)

# -- intake
EMAIL_RESULT = _r.message(pb.InboundEmailResponse)
CHAT_INPUT = _r.message(pb.InboundChatRequest)
_r.schemas["InboundChatRequest"].update(required=["conversation_id", "messages"])
_r.schemas["InboundChatRequest"]["properties"]["messages"]["minItems"] = 1
_r.require_text("ChatMessage", "text")
_r.require_text("InboundChatRequest", "conversation_id")
CHAT_RESULT = _r.message(pb.InboundChatResponse)
CALL_INPUT = _r.message(pb.LogCallRequest)
_r.enum("LogCallRequest", "priority", PRIORITIES)
_r.enum("LogCallRequest", "direction", ("inbound", "outbound"))
CALL_RESULT = _r.message(pb.LogCallResponse)
WEB_FORM = _r.input(pb.SubmitWebFormRequest, "WebFormInput", exclude={"client_ip"},  # the gateway's
                    required=("email", "subject", "description"))
_r.require_text("WebFormInput", "email", "subject", "description")
_r.enum("WebFormInput", "type", ("question", "incident", "problem", "task"))
_r.schemas["WebFormInput"]["properties"]["email"].update(pattern=EMAIL_PATTERN, maxLength=limits.MAX_EMAIL)
_r.schemas["WebFormInput"]["properties"]["email"]["x-pattern-message"] = "one email address"
_r.schemas["WebFormInput"]["properties"]["subject"]["maxLength"] = 200  # crm_support.rules.intake
_r.schemas["WebFormInput"]["properties"]["description"]["maxLength"] = 5000
_r.schemas["WebFormInput"]["properties"]["website"].update(
    maxLength=0, description="leave empty: a trap for bots (a filled one is refused)")
WEB_FORM_RESULT = _r.message(pb.SubmitWebFormResponse)

# -- settings: each route replaces its own sections
SETTINGS = _r.message(_SETTINGS)
_r.enum("SlaPolicy", "priority", PRIORITIES, empty=False)
for _field, _schema in _r.schemas["SlaPolicy"]["properties"].items():
    if "minutes" in _field:
        _schema["minimum"] = 0  # crm_support.rules.settings: minutes cannot be negative
_r.enum("StaffMember", "language", ("zh-CN", "en"))  # crm_support.rules.notices
_r.schemas["StaffMember"]["properties"]["email"].update(pattern=EMAIL_PATTERN_OR_EMPTY)
SLA_SECTIONS = ("sla_policies", "business_hours")
SLA_INPUT = _r.only(_SETTINGS, "SlaPoliciesInput", (*SLA_SECTIONS, "default_supervisor_id"))
ROUTING_INPUT = _r.only(_SETTINGS, "RoutingRulesInput", ("routing_rules",))
MACROS_INPUT = _r.only(_SETTINGS, "MacrosInput", ("macros",))
STAFF_INPUT = _r.only(_SETTINGS, "StaffInput", ("staff",))
TOP_ISSUES = _r.message(pb.GetTopIssuesResponse)
TOP_ISSUES_PARAMS = (QueryParam("since", "date-time"), QueryParam("limit", "integer", "", 1, 100))

# -- knowledge base
CATEGORY = _r.message(pb.KbCategory)
CATEGORY_INPUT = _r.input(pb.KbCategory)
_r.require_text("KbCategoryInput", "name")
CATEGORY_LIST = _r.page(CATEGORY, "KbCategoryList", paged=False)
ARTICLE = _r.message(pb.KbArticle)
ARTICLE_INPUT = _r.input(pb.KbArticle)
ARTICLE_PATCH = _r.input(pb.KbArticle, "KbArticlePatch")
for _name in ("KbArticleInput", "KbArticlePatch"):
    _r.enum(_name, "language", ("zh", "en"))  # "" → told from the text (crm_support.usecases.kb)
    _r.enum(_name, "status", ("draft", "published", "archived"))
_r.require_text("KbArticleInput", "title")
ARTICLE_PAGE = _r.page(ARTICLE, "KbArticlePage")
ARTICLE_PARAMS = (
    QueryParam("category_id"), QueryParam("status", choices=("draft", "published", "archived")), *PAGE_PARAMS,
)
SEARCH_RESULT = _r.message(pb.SearchKbResponse)
SEARCH_PARAMS = (
    QueryParam("q", description="what to look for, not blank; two Chinese characters are enough", pattern=NOT_BLANK,
               required=True, max_length=limits.MAX_QUERY),
    QueryParam("category_id"), QueryParam("language", choices=("zh", "en")),
    QueryParam("limit", "integer", "at most this many hits", 1, 50),
)
FEEDBACK_INPUT = _r.input(pb.RateKbArticleRequest, "KbFeedbackInput", exclude={"id"})
FEEDBACK_COUNTS = ("id", "helpful_count", "not_helpful_count")  # all a public reader learns of the article
PUBLIC_FEEDBACK = _r.add("KbFeedbackCounts", {
    "type": "object", "additionalProperties": False,
    "properties": {"id": {"type": "string"}, "helpful_count": {"type": "integer"},
                   "not_helpful_count": {"type": "integer"}},
})
CSAT_INPUT = _r.input(pb.AnswerCsatRequest, "CsatInput", exclude={"token"}, required=("rating",))
_r.schemas["CsatInput"]["properties"]["rating"].update(minimum=1, maximum=5)
CSAT_FORM: JsonSchema = {"type": "object", "required": ["rating"], "properties": {
    "rating": {"type": "string", "enum": ["1", "2", "3", "4", "5"]},
    "comment": {"type": "string", "maxLength": limits.MAX_NOTES, "pattern": "^[^\\u0000]*$"}}}
_NOT_BLANK = "^[^\\u0000]*\\S[^\\u0000]*$"
EMAIL_BODY = {"message/rfc822": {"schema": {"type": "string", "pattern": _NOT_BLANK,
                                            "description": "the raw RFC 822 message"}},
              "application/json": {"schema": {"type": "object", "required": ["raw"], "additionalProperties": False,
                                              "properties": {"raw": {"type": "string", "pattern": _NOT_BLANK}}}}}
CSAT_RESULT = _r.message(pb.AnswerCsatResponse)
CSAT_PAGE: JsonSchema = {"type": "string", "contentMediaType": "text/html",
                         "description": "an HTML page (the survey form, or its answer)"}
