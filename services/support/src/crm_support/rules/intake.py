"""Intake, pure: the tickets and notes each channel makes, the customer a contact record gives a
ticket, and the public web form's validation."""
from __future__ import annotations

import re

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import support_pb2 as pb
from crm_support.rules import mail
from crmkit.errors import InvalidArgument

WEB_PER_ADDRESS_PER_HOUR = 5
WEB_PER_EMAIL_PER_HOUR = 3
WEB_MAX_LINKS = 3
WEB_MAX_SUBJECT = 200
WEB_MAX_DESCRIPTION = 5000
WEB_TYPES = ("", "question", "incident", "problem", "task")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_LINK = re.compile(r"https?://", re.IGNORECASE)


def fill_customer(ticket: pb.Ticket, contact: cpb.Contact | None) -> None:
    """The customer fields of a ticket from its contact (what the caller gave stays)."""
    if contact is None or not contact.id:
        return
    ticket.contact_id = contact.id
    ticket.account_id = ticket.account_id or contact.account_id
    ticket.customer_level = contact.level
    ticket.region, ticket.team = contact.region, contact.team  # its region's managers work it
    ticket.requester_name = ticket.requester_name or contact.name
    if not ticket.requester_email and contact.emails:
        ticket.requester_email = contact.emails[0].address


# -- email

def email_ticket(parsed: mail.ParsedEmail) -> pb.Ticket:
    return pb.Ticket(subject=mail.clean_subject(parsed.subject) or "(no subject)", description=parsed.body,
                     channel="email", requester_email=parsed.sender_email, requester_name=parsed.sender_name,
                     attachments=parsed.attachments)


def email_comment(parsed: mail.ParsedEmail) -> pb.Comment:
    return pb.Comment(body=parsed.body or "(no text)", channel="email", author_id=parsed.sender_email,
                      message_id=parsed.message_id, attachments=parsed.attachments)


def follow_up(ticket: pb.Ticket, closed: pb.Ticket) -> None:
    """A reply to a closed ticket continues in a new one, for the same customer."""
    ticket.follow_up_of = closed.id
    ticket.contact_id, ticket.account_id = closed.contact_id, closed.account_id
    ticket.customer_level, ticket.priority = closed.customer_level, closed.priority
    ticket.region, ticket.team = closed.region, closed.team


# -- chat and phone

def check_chat(request: pb.InboundChatRequest) -> None:
    if not request.conversation_id:
        raise InvalidArgument("conversation_id is required", field="conversation_id")
    if not request.messages:
        raise InvalidArgument("send at least one message", field="messages")


def transcript(request: pb.InboundChatRequest) -> str:
    return "\n".join(f"{m.author or 'customer'}: {m.text.strip()}" for m in request.messages if m.text.strip())


def chat_ticket(request: pb.InboundChatRequest) -> pb.Ticket:
    lines = transcript(request).split("\n")
    first = next((m.text for m in request.messages if m.author in ("", "customer") and m.text.strip()), lines[0])
    return pb.Ticket(subject=(request.subject or first).strip()[:120], description="\n".join(lines), channel="chat",
                     external_ref=request.conversation_id, requester_email=request.customer_email,
                     requester_name=request.customer_name, contact_id=request.contact_id)


def check_call(request: pb.LogCallRequest) -> None:
    if request.direction not in ("", "inbound", "outbound"):
        raise InvalidArgument("direction is inbound or outbound", field="direction")
    if not request.ticket_id and not request.summary.strip():
        raise InvalidArgument("say what the call was about", field="summary")
    if request.duration_seconds < 0:
        raise InvalidArgument("a call's duration is not negative", field="duration_seconds")


def call_note(request: pb.LogCallRequest) -> pb.Comment:
    minutes = request.duration_seconds // 60
    body = (f"{request.direction or 'inbound'} call, {minutes} min"
            + (f" ({request.phone})" if request.phone else "") + f": {request.summary.strip()}")
    return pb.Comment(body=body, channel="phone", public=False)


def call_ticket(request: pb.LogCallRequest) -> pb.Ticket:
    return pb.Ticket(subject=(request.subject or request.summary).strip()[:120], description=call_note(request).body,
                     channel="phone", contact_id=request.contact_id, priority=request.priority, type=request.type)


# -- the public web form

class Refused(InvalidArgument):
    """A web-form submission we refuse; `reason` labels the metric."""

    def __init__(self, reason: str, message: str, field: str) -> None:
        super().__init__(message, field=field)
        self.reason = reason


def check_web_form(request: pb.SubmitWebFormRequest) -> str:
    """The sender's normalized email address, or Refused naming the field."""
    email = request.email.strip().lower()
    if request.website:
        raise Refused("honeypot", "this field must stay empty", "website")
    if not _EMAIL.match(email):
        raise Refused("email", "give an email address we can answer", "email")
    if not request.subject.strip() or len(request.subject) > WEB_MAX_SUBJECT:
        raise Refused("subject", f"a subject of 1 to {WEB_MAX_SUBJECT} characters", "subject")
    if not request.description.strip() or len(request.description) > WEB_MAX_DESCRIPTION:
        raise Refused("description", f"a description of 1 to {WEB_MAX_DESCRIPTION} characters", "description")
    if len(_LINK.findall(request.subject + request.description)) > WEB_MAX_LINKS:
        raise Refused("links", f"at most {WEB_MAX_LINKS} links, please", "description")
    if request.type not in WEB_TYPES:
        raise Refused("type", "not a ticket type", "type")
    return email


def web_ticket(request: pb.SubmitWebFormRequest, email: str) -> pb.Ticket:
    return pb.Ticket(subject=request.subject.strip(), description=request.description.strip(), channel="web",
                     type=request.type, requester_email=email, requester_name=request.name.strip()[:200])


def web_comment(ticket: pb.Ticket, email: str) -> pb.Comment:
    return pb.Comment(body=ticket.description, channel="web", author_kind="customer", author_id=email, public=True)
