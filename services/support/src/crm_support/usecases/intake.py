"""Intake channels: the API, inbound email (replies thread into their ticket; unknown senders
become contacts), chat transcripts, phone calls and the public web form (with abuse limits).

Each channel is two steps, so a retry can be answered before anything runs: `prepare_*` checks
who may call and asks contacts (outside any transaction; the servicer runs it only when the
idempotency key has no stored answer), then the write opens or threads the ticket in the one
unit of work. A `prepare_*` that reads our own tables only decides whether contacts is needed;
the write reads them again under its lock."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import support_pb2 as pb
from crm_support import store
from crm_support.metrics import EMAILS, WEB_FORM_REJECTED
from crm_support.ports import ContactsPort, ContactsUnavailable, DependencyUnavailable
from crm_support.rules import intake, mail
from crm_support.rules.access import require_agent, require_staff
from crm_support.usecases import tickets
from crmkit import logs
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import ResourceExhausted

log = logs.get("crm_support.intake")
Customer = cpb.Contact | None


def check_customer(contacts: ContactsPort | None, contact_id: str, authorization: str) -> Customer:
    """The contact a ticket names, which must exist and be visible to the caller."""
    if not contact_id:
        return None
    if contacts is None:
        raise DependencyUnavailable("the contacts service is not configured")
    try:
        return contacts.get_contact(contact_id, authorization=authorization)
    except ContactsUnavailable:
        raise DependencyUnavailable("the contacts service did not answer; try again") from None


def customer_for_email(contacts: ContactsPort | None, email: str, name: str) -> Customer:
    """The sender's contact, created when unknown; None when contacts cannot help right now
    (the ticket still keeps the sender's address, so nothing is lost)."""
    if contacts is None or not email:
        return None
    try:
        return contacts.find_or_create(email, name)
    except Exception:  # noqa: BLE001 - intake must not fail because contacts is down
        log.warning("could not resolve the contact of an inbound message", exc_info=True)
        return None


# -- the API

def prepare_ticket(contacts: ContactsPort | None, *, principal: Principal, authorization: str,
                   ticket: pb.Ticket) -> Customer:
    require_staff(principal)
    return check_customer(contacts, ticket.contact_id, authorization)


def create_ticket(uow: UnitOfWork, *, principal: Principal, now: datetime, ticket: pb.Ticket,
                  customer: Customer) -> pb.Ticket:
    ticket.ClearField("region")  # server-set: from the customer, else the author
    ticket.ClearField("team")
    ticket.ClearField("reply_window_ends_at")  # only a customer's message opens one
    intake.fill_customer(ticket, customer)
    return tickets.open_ticket(uow, principal=principal, now=now, ticket=ticket)


# -- inbound email

@dataclass(frozen=True)
class PreparedEmail:
    parsed: mail.ParsedEmail
    customer: Customer = None


def _thread_target(session: Session, parsed: mail.ParsedEmail) -> pb.Ticket | None:
    """Our own Message-IDs are unguessable, so a reference to one is enough. A ticket number in
    the subject is easy to guess: it threads only when the sender is the ticket's requester."""
    known = store.comment_by_message_id(session, parsed.references)
    if known is not None:
        return store.load_ticket(session, known.ticket_id)
    if parsed.ticket_number:
        ticket = store.load_ticket(session, parsed.ticket_number)
        if ticket is not None and ticket.requester_email and ticket.requester_email == parsed.sender_email:
            return ticket
    return None


def prepare_email(session: Session, contacts: ContactsPort | None, *, principal: Principal,
                  raw: bytes) -> PreparedEmail:
    require_agent(principal)  # a mail relay with a service token, or an agent forwarding
    parsed = mail.parse(raw)
    if parsed.auto_reply:
        return PreparedEmail(parsed)
    if parsed.message_id and store.comment_by_message_id(session, [parsed.message_id]) is not None:
        return PreparedEmail(parsed)  # a repeat delivery
    if _thread_target(session, parsed) is not None:
        return PreparedEmail(parsed)  # a reply: the ticket has its customer
    return PreparedEmail(parsed, customer_for_email(contacts, parsed.sender_email, parsed.sender_name))


def receive_email(uow: UnitOfWork, *, principal: Principal, now: datetime,
                  email: PreparedEmail) -> pb.InboundEmailResponse:
    parsed, session = email.parsed, uow.session
    if parsed.auto_reply:
        EMAILS.labels("auto_reply").inc()
        return pb.InboundEmailResponse()  # out-of-office answers neither open nor reopen tickets
    if parsed.message_id:
        seen = store.comment_by_message_id(session, [parsed.message_id])
        if seen is not None:
            EMAILS.labels("duplicate").inc()
            return pb.InboundEmailResponse(ticket=store.load_ticket(session, seen.ticket_id), comment=seen,
                                           threaded=True, duplicate=True)
    target = _thread_target(session, parsed)
    comment = intake.email_comment(parsed)
    if target is not None and target.status != "closed":
        ticket, saved = tickets.add_comment(uow, principal=principal, now=now, key=target.id, comment=comment,
                                            author_kind="customer")
        EMAILS.labels("threaded").inc()
        return pb.InboundEmailResponse(ticket=ticket, comment=saved, threaded=True)
    ticket = intake.email_ticket(parsed)
    if target is not None:  # a reply to a closed ticket continues in a follow-up
        intake.follow_up(ticket, target)
    else:
        intake.fill_customer(ticket, email.customer)
    comment.author_kind = "customer"
    comment.public = True
    opened = tickets.open_ticket(uow, principal=principal, now=now, ticket=ticket, first_comment=comment)
    EMAILS.labels("new_ticket").inc()
    return pb.InboundEmailResponse(ticket=opened, comment=comment, threaded=False)


# -- chat and phone

def prepare_chat(session: Session, contacts: ContactsPort | None, *, principal: Principal, authorization: str,
                 request: pb.InboundChatRequest) -> Customer:
    require_agent(principal)
    intake.check_chat(request)
    if store.ticket_by_ref(session, "chat", request.conversation_id) is not None:
        return None  # the conversation continues its ticket
    if request.contact_id:
        return check_customer(contacts, request.contact_id, authorization)
    return customer_for_email(contacts, request.customer_email.strip().lower(), request.customer_name)


def receive_chat(uow: UnitOfWork, *, principal: Principal, now: datetime, request: pb.InboundChatRequest,
                 customer: Customer) -> pb.InboundChatResponse:
    existing = store.ticket_by_ref(uow.session, "chat", request.conversation_id)
    if existing is not None:
        ticket, _ = tickets.add_comment(uow, principal=principal, now=now, key=existing.id, author_kind="customer",
                                        comment=pb.Comment(body=intake.transcript(request), channel="chat"))
        return pb.InboundChatResponse(ticket=ticket, threaded=True)
    ticket = intake.chat_ticket(request)
    intake.fill_customer(ticket, customer)
    return pb.InboundChatResponse(ticket=tickets.open_ticket(uow, principal=principal, now=now, ticket=ticket),
                                  threaded=False)


def prepare_call(contacts: ContactsPort | None, *, principal: Principal, authorization: str,
                 request: pb.LogCallRequest) -> Customer:
    require_agent(principal)
    intake.check_call(request)
    if request.ticket_id:
        return None  # a note on a ticket that has its customer
    return check_customer(contacts, request.contact_id, authorization)


def log_call(uow: UnitOfWork, *, principal: Principal, now: datetime, request: pb.LogCallRequest,
             customer: Customer) -> pb.LogCallResponse:
    if request.ticket_id:
        ticket, comment = tickets.add_comment(uow, principal=principal, now=now, key=request.ticket_id,
                                              comment=intake.call_note(request))
        return pb.LogCallResponse(ticket=ticket, comment=comment)
    ticket = intake.call_ticket(request)
    intake.fill_customer(ticket, customer)
    return pb.LogCallResponse(ticket=tickets.open_ticket(uow, principal=principal, now=now, ticket=ticket))


# -- the public web form

@dataclass(frozen=True)
class PreparedForm:
    email: str
    customer: Customer = None


def _check_rate(session: Session, client_ip: str, email: str, now: datetime) -> None:
    since = now - timedelta(hours=1)
    if client_ip and store.submissions_since(session, since, client_ip=client_ip) >= intake.WEB_PER_ADDRESS_PER_HOUR:
        WEB_FORM_REJECTED.labels("rate_address").inc()
        raise ResourceExhausted("too many requests from this address; try again later", field="client_ip")
    if store.submissions_since(session, since, email=email) >= intake.WEB_PER_EMAIL_PER_HOUR:
        WEB_FORM_REJECTED.labels("rate_email").inc()
        raise ResourceExhausted("too many requests for this email address; try again later", field="email")


def prepare_web_form(session: Session, contacts: ContactsPort | None, *, now: datetime,
                     request: pb.SubmitWebFormRequest) -> PreparedForm:
    try:
        email = intake.check_web_form(request)
    except intake.Refused as refused:
        WEB_FORM_REJECTED.labels(refused.reason).inc()
        raise
    _check_rate(session, request.client_ip, email, now)  # before asking contacts for a refused sender
    return PreparedForm(email, customer_for_email(contacts, email, request.name.strip()))


def submit_web_form(uow: UnitOfWork, *, principal: Principal, now: datetime, request: pb.SubmitWebFormRequest,
                    form: PreparedForm) -> pb.SubmitWebFormResponse:
    _check_rate(uow.session, request.client_ip, form.email, now)  # again, under the write lock
    store.add_submission(uow.session, request.client_ip, form.email, now)
    ticket = intake.web_ticket(request, form.email)
    intake.fill_customer(ticket, form.customer)
    opened = tickets.open_ticket(uow, principal=principal, now=now, ticket=ticket,
                                 first_comment=intake.web_comment(ticket, form.email))
    return pb.SubmitWebFormResponse(ticket_number=opened.number)
