"""Ticket rules, pure: the status flow, the vocabularies, validation and macro rendering."""
from __future__ import annotations

import re
from collections.abc import Sequence

from crm.support.v1.support_pb2 import Comment, Ticket
from crmkit import limits
from crmkit.errors import FailedPrecondition, InvalidArgument

STATUSES = ("new", "open", "pending", "solved", "closed")
TYPES = ("question", "incident", "problem", "task")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("api", "web", "email", "chat", "phone", "social", "wechat", "wecom")
LANGUAGES = ("zh", "en")
OPEN_STATUSES = ("new", "open", "pending")
# new → open → pending → solved → closed, and reopen (solved → open). Closed is final: a customer
# writing about a closed ticket gets a follow-up ticket.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "pending", "solved"}),
    "open": frozenset({"pending", "solved"}),
    "pending": frozenset({"open", "solved"}),
    "solved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}
MAX_SUBJECT = 300
MAX_BODY = 64_000
NUMBER = re.compile(r"\bT-(\d{6,})\b")
_CJK = re.compile(r"[\u3400-\u9fff]")


def check_transition(old: str, new: str) -> None:
    if new not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", field="status")
    if new == old:
        raise FailedPrecondition(f"the ticket is already {old}", field="status")
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (closed is final)"
        raise FailedPrecondition(f"a {old} ticket can move to {allowed}, not {new}", field="status")


def format_number(n: int) -> str:
    return f"T-{n:06d}"


def language_of(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def normalize_language(value: str, field: str = "language") -> str:
    """zh or en; a regional tag ("zh-CN", "en_US") is its language, anything else is refused (routing
    by language and the language of the customer's mail read this field)."""
    language = value.strip().lower().replace("_", "-").split("-")[0]
    if language not in LANGUAGES:
        raise InvalidArgument(f"must be one of {', '.join(LANGUAGES)}", field=field)
    return language


def _choice(value: str, allowed: tuple[str, ...], field: str, default: str) -> str:
    value = (value or default).strip().lower()
    if value not in allowed:
        raise InvalidArgument(f"{field} must be one of {', '.join(allowed)}", field=field)
    return value


def normalize_new(ticket: Ticket) -> None:
    """Validate and fill defaults of a ticket being created."""
    ticket.subject = ticket.subject.strip()
    if not ticket.subject:
        raise InvalidArgument("a ticket needs a subject", field="subject")
    if len(ticket.subject) > MAX_SUBJECT:
        raise InvalidArgument(f"subject is limited to {MAX_SUBJECT} characters", field="subject")
    if len(ticket.description) > MAX_BODY:
        raise InvalidArgument(f"description is limited to {MAX_BODY} characters", field="description")
    check_tags(ticket.tags)
    limits.check_count("attachments", ticket.attachments, limits.MAX_ATTACHMENTS)
    ticket.type = _choice(ticket.type, TYPES, "type", "question")
    ticket.priority = _choice(ticket.priority, PRIORITIES, "priority", "normal")
    ticket.channel = _choice(ticket.channel, CHANNELS, "channel", "api")
    ticket.requester_email = ticket.requester_email.strip().lower()
    if ticket.requester_email and "@" not in ticket.requester_email:
        raise InvalidArgument("not an email address", field="requester_email")
    ticket.language = (normalize_language(ticket.language) if ticket.language
                       else language_of(ticket.subject + " " + ticket.description))
    ticket.status = "new"


def check_field(name: str, value: str) -> str:
    """Validate one updatable vocabulary field."""
    if name == "type":
        return _choice(value, TYPES, "type", "question")
    if name == "priority":
        return _choice(value, PRIORITIES, "priority", "normal")
    return value


def check_tags(tags: Sequence[str]) -> None:
    limits.check_count("tags", tags, limits.MAX_TAGS)
    for i, tag in enumerate(tags):
        if not tag.strip():
            raise InvalidArgument("a tag must not be blank", field=f"tags[{i}]")
        limits.check_length(f"tags[{i}]", tag, limits.MAX_NAME)


def check_comment(comment: Comment) -> None:
    """The bounds of a comment besides its body (check_comment_body)."""
    limits.check_count("comment.attachments", comment.attachments, limits.MAX_ATTACHMENTS)


def check_comment_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidArgument("a comment needs a body", field="comment.body")
    if len(body) > MAX_BODY:
        raise InvalidArgument(f"a comment is limited to {MAX_BODY} characters", field="comment.body")
    return body


def render_macro(template: str, ticket: Ticket, agent: str) -> str:
    values = {"number": ticket.number, "requester_name": ticket.requester_name or "", "subject": ticket.subject,
              "agent": agent}
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), template)
