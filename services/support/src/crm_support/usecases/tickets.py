"""Tickets: open (number, routing, SLA clocks), change, move through the status flow, comment
(public replies vs internal notes), macros, auto-close. Events and business rows go into the
caller's unit of work together."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from crm.support.v1 import events_pb2 as ev
from crm.support.v1.support_pb2 import Comment, SupportSettings, Ticket, TicketFilter
from crm_support import store
from crm_support.events import SUPPORT, emit
from crm_support.metrics import TICKETS_CREATED
from crm_support.rules import channels, mail, routing, sla
from crm_support.rules import sms_notices as sms_rules
from crm_support.rules import tickets as rules
from crm_support.rules.access import can_read_ticket, is_agent, list_scope, require_agent, require_staff
from crm_support.tables import tickets
from crm_support.usecases import csat, notices, replies, settings, sms_notices
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied
from crmkit.fields import patchable
from crmkit.records import bump, check_version, new_id

# What UpdateTicket may change: the rest moves through the status and comment calls.
UPDATABLE = patchable(Ticket)


def get(session: Session, *, principal: Principal, key: str) -> Ticket:
    """The ticket, or NOT_FOUND when missing or not visible (no existence leak)."""
    if not key:
        raise InvalidArgument("id is required", field="id")
    ticket = store.load_ticket(session, key)
    if ticket is None or not can_read_ticket(principal, ticket):
        raise NotFound(f"ticket {key} not found", field="id")
    return ticket


def _for_write(uow: UnitOfWork, principal: Principal, key: str) -> Ticket:
    ticket = store.load_ticket(uow.session, key, for_update=True) if key else None
    if ticket is None or not can_read_ticket(principal, ticket):
        raise NotFound(f"ticket {key} not found", field="ticket_id")
    return ticket


def list_tickets(session: Session, *, principal: Principal, flt: TicketFilter, page_size: int,
                 page_token: str) -> tuple[list[Ticket], str]:
    require_staff(principal)
    where: list[ColumnElement[bool]] = [list_scope(principal, tickets)]
    for column, value in ((tickets.c.status, flt.status), (tickets.c.assignee_id, flt.assignee_id),
                          (tickets.c.group_name, flt.group), (tickets.c.contact_id, flt.contact_id),
                          (tickets.c.priority, flt.priority), (tickets.c.channel, flt.channel)):
        if value:
            where.append(column == value)
    return store.list_tickets(session, where, page_size, page_token)


def list_escalated_to_me(session: Session, *, principal: Principal, open_only: bool, page_size: int,
                         page_token: str) -> tuple[list[Ticket], str]:
    """Tickets escalated to the caller: open ones first, newest first."""
    require_staff(principal)
    return store.escalated_to(session, principal.user_id, open_only, page_size, page_token)


def _route(uow: UnitOfWork, cfg: SupportSettings, ticket: Ticket) -> None:
    rule = routing.first_match(list(cfg.routing_rules), ticket)
    if rule is None:
        return
    ticket.routing_rule_id = rule.id
    if rule.set_priority:
        ticket.priority = rules.check_field("priority", rule.set_priority)
    if rule.group and not ticket.group:
        ticket.group = rule.group
    if rule.agents and not ticket.assignee_id:
        last = store.cursor(uow.session, rule.id)
        load = store.open_load(uow.session, list(rule.agents)) if rule.strategy == "least_loaded" else {}
        ticket.assignee_id = routing.pick_agent(rule, last, load)
        store.set_cursor(uow.session, rule.id, ticket.assignee_id)


def open_ticket(uow: UnitOfWork, *, principal: Principal, now: datetime, ticket: Ticket,
                first_comment: Comment | None = None) -> Ticket:
    """Number it, route it, start its SLA clocks and save it (with its first message, if any)."""
    rules.normalize_new(ticket)
    sms_rules.check_notice(ticket)
    if ticket.assignee_id and not is_agent(principal):
        raise PermissionDenied("only agents assign tickets", field="assignee_id")
    cfg = settings.current(uow.session)
    ticket.id = new_id()
    ticket.number = rules.format_number(store.next_number(uow.session, "ticket"))
    ticket.created_by = principal.user_id
    # Its managers: the customer's region and team (fill_customer), else the author's.
    ticket.region = ticket.region or principal.region
    ticket.team = ticket.team or principal.team
    ticket.version = 1
    ticket.created_at.FromDatetime(now)
    ticket.updated_at.FromDatetime(now)
    _route(uow, cfg, ticket)
    policy = sla.policy_for(list(cfg.sla_policies), ticket.priority)
    if policy is not None:
        cal, _ = sla.calendar_for(cfg, ticket)
        sla.start_clocks(ticket, policy, cal, now)
    ticket.history.add(from_status="", to_status="new", actor_id=principal.user_id,
                       reason=ticket.channel).at.FromDatetime(now)
    store.insert_ticket(uow.session, ticket)
    emit(uow, principal, SUPPORT.TICKET_CREATED, ticket.id, ticket.version, ev.TicketCreated(ticket=ticket), now)
    if ticket.assignee_id:
        emit(uow, principal, SUPPORT.TICKET_ASSIGNED, ticket.id, ticket.version,
             ev.TicketAssigned(ticket=ticket, reason="routing"), now)
    if first_comment is not None:
        first_comment.id = new_id()
        first_comment.ticket_id = ticket.id
        first_comment.created_at.FromDatetime(now)
        store.insert_comment(uow.session, first_comment)
    TICKETS_CREATED.labels(ticket.channel, ticket.priority).inc()
    return ticket


def _save(uow: UnitOfWork, ticket: Ticket, now: datetime) -> None:
    bump(ticket, now)
    store.update_ticket(uow.session, ticket)


def update_ticket(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: Ticket, paths: Sequence[str],
                  expected_version: int) -> Ticket:
    require_agent(principal)
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument(f"{path} cannot be changed here (use the status or comment calls)", field=path)
    ticket = _for_write(uow, principal, patch.id)
    check_version(ticket.version, expected_version)
    if ticket.status == "closed":
        raise InvalidArgument("a closed ticket cannot be changed", field="status")
    previous_assignee, previous_priority = ticket.assignee_id, ticket.priority
    for path in paths:
        if path == "tags":
            rules.check_tags(patch.tags)
            del ticket.tags[:]
            ticket.tags.extend(sorted(set(patch.tags)))
        else:
            setattr(ticket, path, rules.check_field(path, getattr(patch, path)))
    if not ticket.subject.strip():
        raise InvalidArgument("a ticket needs a subject", field="subject")
    sms_rules.check_notice(ticket)
    if ticket.priority != previous_priority:
        sla.retarget(settings.current(uow.session), ticket, now)
    _save(uow, ticket, now)
    emit(uow, principal, SUPPORT.TICKET_UPDATED, ticket.id, ticket.version,
         ev.TicketUpdated(ticket=ticket, changed_fields=list(paths)), now)
    if ticket.assignee_id != previous_assignee:
        emit(uow, principal, SUPPORT.TICKET_ASSIGNED, ticket.id, ticket.version,
             ev.TicketAssigned(ticket=ticket, previous_assignee_id=previous_assignee, reason="manual"), now)
    return ticket


def _transition(uow: UnitOfWork, principal: Principal, ticket: Ticket, new: str, reason: str, now: datetime) -> str:
    """Move the ticket (not saved); returns the CSAT token when solving created a survey."""
    old = ticket.status
    rules.check_transition(old, new)
    cal, warn = sla.calendar_for(settings.current(uow.session), ticket)
    sla.on_status(ticket, old, new, cal, now, warn)
    ticket.status = new
    ticket.history.add(from_status=old, to_status=new, actor_id=principal.user_id, reason=reason).at.FromDatetime(now)
    token = ""
    if new == "solved":
        ticket.solved_at.FromDatetime(now)
        token = csat.create_survey(uow, ticket=ticket, now=now)
        sms_notices.queue(uow, ticket=ticket, kind=sms_rules.SOLVED, ref=str(ticket.reopen_count), now=now)
        if token:  # the survey goes out once, with the ticket's first solve (closing follows solving)
            notices.queue_csat(uow, ticket=ticket, token=token, now=now)
    elif new == "closed":
        ticket.closed_at.FromDatetime(now)
    elif old == "solved" and new == "open":
        ticket.reopen_count += 1
        ticket.ClearField("solved_at")
    return token


def _emit_transition(uow: UnitOfWork, principal: Principal, ticket: Ticket, old: str, reason: str, token: str,
                     now: datetime) -> None:
    emit(uow, principal, SUPPORT.TICKET_STATUS_CHANGED, ticket.id, ticket.version, ev.TicketStatusChanged(
        ticket=ticket, from_status=old, to_status=ticket.status, reason=reason), now)
    if ticket.status == "solved":
        emit(uow, principal, SUPPORT.TICKET_SOLVED, ticket.id, ticket.version, ev.TicketSolved(ticket=ticket), now)
    elif ticket.status == "closed":
        emit(uow, principal, SUPPORT.TICKET_CLOSED, ticket.id, ticket.version, ev.TicketClosed(ticket=ticket), now)
    elif old == "solved":
        emit(uow, principal, SUPPORT.TICKET_REOPENED, ticket.id, ticket.version, ev.TicketReopened(ticket=ticket),
             now)
    if token:
        emit(uow, principal, SUPPORT.CSAT_REQUESTED, ticket.id, ticket.version,
             ev.CsatRequested(ticket=ticket, survey_token=token), now)


def change_status(uow: UnitOfWork, *, principal: Principal, now: datetime, key: str, status: str, reason: str,
                  resolution_note: str, expected_version: int) -> tuple[Ticket, str]:
    """The ticket after the move, and the CSAT token when solving made a survey."""
    require_agent(principal)
    ticket = _for_write(uow, principal, key)
    check_version(ticket.version, expected_version)
    if status == "solved":
        note = resolution_note.strip() or ticket.resolution_note
        if not note:
            raise InvalidArgument("say how it was resolved", field="resolution_note")
        ticket.resolution_note = note
    old = ticket.status
    token = _transition(uow, principal, ticket, status, reason, now)
    _save(uow, ticket, now)
    _emit_transition(uow, principal, ticket, old, reason, token, now)
    return ticket, token


def add_comment(uow: UnitOfWork, *, principal: Principal, now: datetime, key: str, comment: Comment,
                set_status: str = "", author_kind: str = "agent",
                customer_wrote_at: datetime | None = None) -> tuple[Ticket, Comment]:
    """A public reply or an internal note by an agent, or a customer's message (intake;
    `customer_wrote_at` opens a wechat / wecom reply window)."""
    require_staff(principal)
    if author_kind == "agent" and not is_agent(principal):
        raise PermissionDenied("only agents reply on tickets")
    ticket = _for_write(uow, principal, key)
    if ticket.status == "closed":
        raise InvalidArgument("the ticket is closed; open a follow-up ticket", field="ticket_id")
    rules.check_comment(comment)
    comment.body = rules.check_comment_body(comment.body)
    comment.id = new_id()
    comment.ticket_id = ticket.id
    comment.author_kind = author_kind
    comment.author_id = comment.author_id or principal.user_id
    comment.channel = comment.channel or "api"
    comment.created_at.FromDatetime(now)
    if author_kind == "customer":
        comment.public = True
    elif comment.public and not comment.message_id:
        comment.message_id = mail.outbound_message_id(ticket.id, comment.id)
    # A public reply on a WeChat / WeCom ticket goes out through the platform, inside its window.
    channel_reply = author_kind == "agent" and comment.public and ticket.channel in channels.PLATFORMS
    if channel_reply:
        channels.check_reply(ticket, comment.body, now)
        comment.delivery_status = "pending"
    if customer_wrote_at is not None:
        channels.extend_window(ticket, customer_wrote_at)
    old = ticket.status
    cal, _ = sla.calendar_for(settings.current(uow.session), ticket)
    target = set_status
    if author_kind == "agent" and comment.public:
        if not ticket.HasField("first_responded_at"):
            ticket.first_responded_at.FromDatetime(now)
            sla.on_first_response(ticket, cal, now)
        if old == "new" and not target:
            target = "open"
    if author_kind == "customer" and old in ("pending", "solved"):
        target = "open"  # the customer answered: the clocks run again
    token = ""
    if target and target != old:
        token = _transition(uow, principal, ticket, target, f"{author_kind} comment", now)
    store.insert_comment(uow.session, comment)
    if author_kind == "agent" and comment.public:  # the customer who chose SMS hears of the reply
        sms_notices.queue(uow, ticket=ticket, kind=sms_rules.REPLY, ref=comment.id, now=now)
    if channel_reply:
        replies.queue(uow, ticket=ticket, comment=comment, now=now)
    _save(uow, ticket, now)
    emit(uow, principal, SUPPORT.TICKET_COMMENTED, ticket.id, ticket.version,
         ev.TicketCommented(ticket=ticket, comment=comment), now)
    if ticket.status != old:
        _emit_transition(uow, principal, ticket, old, f"{author_kind} comment", token, now)
    return ticket, comment


def list_comments(session: Session, *, principal: Principal, key: str, public_only: bool) -> list[Comment]:
    ticket = get(session, principal=principal, key=key)
    return store.comments_of(session, ticket.id, public_only)


def apply_macro(uow: UnitOfWork, *, principal: Principal, now: datetime, key: str,
                macro_id: str) -> tuple[Ticket, Comment]:
    require_agent(principal)
    macro = next((m for m in settings.current(uow.session).macros if m.id == macro_id), None)
    if macro is None:
        raise NotFound(f"macro {macro_id} not found", field="macro_id")
    current = _for_write(uow, principal, key)
    body = rules.render_macro(macro.body, current, principal.name or principal.user_id)
    ticket, comment = add_comment(uow, principal=principal, now=now, key=key,
                                  comment=Comment(body=body, public=macro.public), set_status=macro.set_status)
    if macro.add_tags:
        merged = sorted(set(ticket.tags) | set(macro.add_tags))
        del ticket.tags[:]
        ticket.tags.extend(merged)
        store.update_ticket(uow.session, ticket)
    return ticket, comment


def auto_close(uow: UnitOfWork, *, ticket_id: str, now: datetime) -> bool:
    """Close a ticket left solved past `auto_close_days` (the job found it); False when it moved
    on meanwhile."""
    ticket = store.load_ticket(uow.session, ticket_id, for_update=True)
    if ticket is None or ticket.status != "solved":
        return False
    change_status(uow, principal=SYSTEM, now=now, key=ticket_id, status="closed", reason="auto_close",
                  resolution_note="", expected_version=0)
    return True
