"""Intake channels: the API, the public web form (with abuse limits), inbound email (replies
thread into their ticket; unknown senders become contacts), chat transcripts and phone calls.

Calls to contacts happen before the write transaction, never inside it."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import support_pb2 as pb
from crm_support import mail, store, tickets
from crm_support.common import (
    EMAILS,
    WEB_FORM_REJECTED,
    DependencyUnavailable,
    require_agent,
)
from crm_support.contacts_port import ContactsPort, ContactsUnavailable
from crm_support.tables import web_submissions
from crmkit import logs
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.errors import InvalidArgument, ResourceExhausted

log = logs.get("crm_support.intake")
WEB_PER_ADDRESS_PER_HOUR = 5
WEB_PER_EMAIL_PER_HOUR = 3
WEB_MAX_LINKS = 3
WEB_MAX_SUBJECT = 200
WEB_MAX_DESCRIPTION = 5000
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_LINK = re.compile(r"https?://", re.IGNORECASE)


def _fill_customer(ticket: pb.Ticket, contact: cpb.Contact | None) -> None:
    if contact is None or not contact.id:
        return
    ticket.contact_id = contact.id
    ticket.account_id = ticket.account_id or contact.account_id
    ticket.customer_level = contact.level
    ticket.requester_name = ticket.requester_name or contact.name
    if not ticket.requester_email and contact.emails:
        ticket.requester_email = contact.emails[0].address


def customer_for_email(contacts: ContactsPort | None, email: str, name: str) -> cpb.Contact | None:
    """The sender's contact, created when unknown; None when contacts cannot help right now
    (the ticket still keeps the sender's address, so nothing is lost)."""
    if contacts is None or not email:
        return None
    try:
        return contacts.find_or_create(email, name)
    except Exception:  # noqa: BLE001 - intake must not fail because contacts is down
        log.warning("could not resolve the contact of an inbound message", exc_info=True)
        return None


def check_customer(contacts: ContactsPort | None, ticket: pb.Ticket, authorization: str) -> None:
    """A ticket given a contact: the contact must exist and be visible to the caller."""
    if not ticket.contact_id:
        return
    if contacts is None:
        raise DependencyUnavailable("the contacts service is not configured")
    try:
        contact = contacts.get_contact(ticket.contact_id, authorization=authorization)
    except ContactsUnavailable:
        raise DependencyUnavailable("the contacts service did not answer; try again") from None
    _fill_customer(ticket, contact)


def create_ticket(db: Database, contacts: ContactsPort | None, principal: Principal, authorization: str,
                  ticket: pb.Ticket, now: datetime) -> pb.Ticket:
    from crmkit.idempotency import run_write

    check_customer(contacts, ticket, authorization)
    request = pb.CreateTicketRequest(ticket=ticket)
    return run_write(db, request, pb.Ticket, lambda uow: tickets.open_ticket(uow, principal, ticket, now))


# -- inbound email

def receive_email(db: Database, contacts: ContactsPort | None, principal: Principal, raw: bytes,
                  now: datetime) -> pb.InboundEmailResponse:
    require_agent(principal)  # a mail relay with a service token, or an agent forwarding
    parsed = mail.parse(raw)
    if parsed.auto_reply:
        EMAILS.labels("auto_reply").inc()
        return pb.InboundEmailResponse()  # out-of-office answers neither open nor reopen tickets
    with db.read() as session:
        if parsed.message_id:
            seen = store.comment_by_message_id(session, [parsed.message_id])
            if seen is not None:
                EMAILS.labels("duplicate").inc()
                return pb.InboundEmailResponse(ticket=store.load_ticket(session, seen.ticket_id), comment=seen,
                                               threaded=True, duplicate=True)
        target = _thread_target(session, parsed)
    comment = pb.Comment(body=parsed.body or "(no text)", channel="email", author_id=parsed.sender_email,
                         message_id=parsed.message_id, attachments=parsed.attachments)
    if target is not None and target.status != "closed":
        with db.unit_of_work() as uow:
            ticket, saved = tickets.add_comment(uow, principal, target.id, comment, "", now, author_kind="customer")
            uow.commit()
        EMAILS.labels("threaded").inc()
        return pb.InboundEmailResponse(ticket=ticket, comment=saved, threaded=True)
    ticket = pb.Ticket(subject=mail.clean_subject(parsed.subject) or "(no subject)", description=parsed.body,
                       channel="email", requester_email=parsed.sender_email, requester_name=parsed.sender_name,
                       attachments=parsed.attachments)
    if target is not None:  # a reply to a closed ticket continues in a follow-up
        ticket.follow_up_of = target.id
        ticket.contact_id, ticket.account_id = target.contact_id, target.account_id
        ticket.customer_level, ticket.priority = target.customer_level, target.priority
    else:
        _fill_customer(ticket, customer_for_email(contacts, parsed.sender_email, parsed.sender_name))
    comment.author_kind = "customer"
    comment.public = True
    with db.unit_of_work() as uow:
        opened = tickets.open_ticket(uow, principal, ticket, now, first_comment=comment)
        uow.commit()
    EMAILS.labels("new_ticket").inc()
    return pb.InboundEmailResponse(ticket=opened, comment=comment, threaded=False)


def _thread_target(session: object, parsed: mail.ParsedEmail) -> pb.Ticket | None:
    """Our own Message-IDs are unguessable, so a reference to one is enough. A ticket number in
    the subject is easy to guess: it threads only when the sender is the ticket's requester."""
    known = store.comment_by_message_id(session, parsed.references)  # type: ignore[arg-type]
    if known is not None:
        return store.load_ticket(session, known.ticket_id)  # type: ignore[arg-type]
    if parsed.ticket_number:
        ticket = store.load_ticket(session, parsed.ticket_number)  # type: ignore[arg-type]
        if ticket is not None and ticket.requester_email and ticket.requester_email == parsed.sender_email:
            return ticket
    return None


# -- chat and phone

def receive_chat(db: Database, contacts: ContactsPort | None, principal: Principal, authorization: str,
                 request: pb.InboundChatRequest, now: datetime) -> pb.InboundChatResponse:
    require_agent(principal)
    if not request.conversation_id:
        raise InvalidArgument("conversation_id is required", field="conversation_id")
    if not request.messages:
        raise InvalidArgument("send at least one message", field="messages")
    with db.read() as session:
        existing = store.ticket_by_ref(session, "chat", request.conversation_id)
    lines = [f"{m.author or 'customer'}: {m.text.strip()}" for m in request.messages if m.text.strip()]
    transcript = "\n".join(lines)
    if existing is not None:
        with db.unit_of_work() as uow:
            ticket, _ = tickets.add_comment(uow, principal, existing.id, pb.Comment(body=transcript, channel="chat"),
                                            "", now, author_kind="customer")
            uow.commit()
        return pb.InboundChatResponse(ticket=ticket, threaded=True)
    first = next((m.text for m in request.messages if m.author in ("", "customer") and m.text.strip()), lines[0])
    ticket = pb.Ticket(subject=(request.subject or first).strip()[:120], description=transcript, channel="chat",
                       external_ref=request.conversation_id, requester_email=request.customer_email,
                       requester_name=request.customer_name, contact_id=request.contact_id)
    if ticket.contact_id:
        check_customer(contacts, ticket, authorization)
    else:
        _fill_customer(ticket, customer_for_email(contacts, request.customer_email.strip().lower(),
                                                  request.customer_name))
    with db.unit_of_work() as uow:
        opened = tickets.open_ticket(uow, principal, ticket, now)
        uow.commit()
    return pb.InboundChatResponse(ticket=opened, threaded=False)


def log_call(db: Database, contacts: ContactsPort | None, principal: Principal, authorization: str,
             request: pb.LogCallRequest, now: datetime) -> pb.LogCallResponse:
    require_agent(principal)
    if request.direction not in ("", "inbound", "outbound"):
        raise InvalidArgument("direction is inbound or outbound", field="direction")
    minutes = max(request.duration_seconds, 0) // 60
    body = (f"{request.direction or 'inbound'} call, {minutes} min"
            + (f" ({request.phone})" if request.phone else "") + f": {request.summary.strip()}")
    note = pb.Comment(body=body, channel="phone", public=False)
    if request.ticket_id:
        with db.unit_of_work() as uow:
            ticket, comment = tickets.add_comment(uow, principal, request.ticket_id, note, "", now)
            uow.commit()
        return pb.LogCallResponse(ticket=ticket, comment=comment)
    if not request.summary.strip():
        raise InvalidArgument("say what the call was about", field="summary")
    ticket = pb.Ticket(subject=(request.subject or request.summary).strip()[:120], description=body, channel="phone",
                       contact_id=request.contact_id, priority=request.priority, type=request.type)
    check_customer(contacts, ticket, authorization)
    with db.unit_of_work() as uow:
        opened = tickets.open_ticket(uow, principal, ticket, now)
        uow.commit()
    return pb.LogCallResponse(ticket=opened)


# -- the public web form

def submit_web_form(db: Database, contacts: ContactsPort | None, principal: Principal,
                    request: pb.SubmitWebFormRequest, client_ip: str, now: datetime) -> pb.SubmitWebFormResponse:
    email = request.email.strip().lower()

    def refuse(reason: str, message: str, field: str) -> InvalidArgument:
        WEB_FORM_REJECTED.labels(reason).inc()
        return InvalidArgument(message, field=field)

    if request.website:
        raise refuse("honeypot", "this field must stay empty", "website")
    if not _EMAIL.match(email):
        raise refuse("email", "give an email address we can answer", "email")
    if not request.subject.strip() or len(request.subject) > WEB_MAX_SUBJECT:
        raise refuse("subject", f"a subject of 1 to {WEB_MAX_SUBJECT} characters", "subject")
    if not request.description.strip() or len(request.description) > WEB_MAX_DESCRIPTION:
        raise refuse("description", f"a description of 1 to {WEB_MAX_DESCRIPTION} characters", "description")
    if len(_LINK.findall(request.subject + request.description)) > WEB_MAX_LINKS:
        raise refuse("links", f"at most {WEB_MAX_LINKS} links, please", "description")
    if request.type not in ("", "question", "incident", "problem", "task"):
        raise refuse("type", "not a ticket type", "type")
    hour_ago = now - timedelta(hours=1)
    with db.read() as session:
        _check_rate(session, client_ip, email, hour_ago)
    contact = customer_for_email(contacts, email, request.name.strip())
    ticket = pb.Ticket(subject=request.subject.strip(), description=request.description.strip(), channel="web",
                       type=request.type, requester_email=email, requester_name=request.name.strip()[:200])
    _fill_customer(ticket, contact)
    with db.unit_of_work() as uow:
        _check_rate(uow.session, client_ip, email, hour_ago)  # again, under the write lock
        uow.session.execute(insert(web_submissions).values(client_ip=client_ip or "?", email=email, at=now))
        opened = tickets.open_ticket(uow, principal, ticket, now,
                                     first_comment=pb.Comment(body=ticket.description, channel="web",
                                                              author_kind="customer", author_id=email, public=True))
        uow.commit()
    return pb.SubmitWebFormResponse(ticket_number=opened.number)


def _check_rate(session: object, client_ip: str, email: str, since: datetime) -> None:
    def count(*where: object) -> int:
        return int(session.execute(select(func.count()).select_from(web_submissions)  # type: ignore[attr-defined]
                                   .where(web_submissions.c.at > since, *where)).scalar_one())

    if client_ip and count(web_submissions.c.client_ip == client_ip) >= WEB_PER_ADDRESS_PER_HOUR:
        WEB_FORM_REJECTED.labels("rate_address").inc()
        raise ResourceExhausted("too many requests from this address; try again later", field="client_ip")
    if count(web_submissions.c.email == email) >= WEB_PER_EMAIL_PER_HOUR:
        WEB_FORM_REJECTED.labels("rate_email").inc()
        raise ResourceExhausted("too many requests for this email address; try again later", field="email")
