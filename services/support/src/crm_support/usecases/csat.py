"""CSAT: the survey made when a ticket is solved is answered once, with its token; and the top
issues mined from recent tickets (subjects, customer messages, survey comments)."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.support.v1 import events_pb2 as ev
from crm.support.v1 import support_pb2 as pb
from crm_support import store
from crm_support.events import SUPPORT, emit
from crm_support.metrics import CSAT_ANSWERS
from crm_support.rules import topics
from crm_support.rules.access import require_agent
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import AlreadyExists, InvalidArgument, NotFound


def create_survey(uow: UnitOfWork, *, ticket: pb.Ticket, now: datetime) -> str:
    """The survey of a ticket being solved, and its token ("" when it has one: solving again
    after a reopen keeps the first)."""
    if store.has_survey(uow.session, ticket.id):
        return ""
    token = secrets.token_urlsafe(24)
    store.add_survey(uow.session, ticket.id, token, now)
    return token


def answer(uow: UnitOfWork, *, principal: Principal, now: datetime, token: str, rating: int,
           comment: str) -> pb.AnswerCsatResponse:
    if not token or len(token) > 200:
        raise NotFound("no such survey", field="token")
    if not 1 <= rating <= 5:
        raise InvalidArgument("rate from 1 (very unhappy) to 5 (very happy)", field="rating")
    if len(comment) > 4000:
        raise InvalidArgument("a comment is limited to 4000 characters", field="comment")
    ticket_id = store.survey_ticket(uow.session, token)
    if ticket_id is None:
        raise NotFound("no such survey", field="token")
    if not store.record_answer(uow.session, token, rating, comment.strip(), now):
        raise AlreadyExists("this survey has already been answered", field="token")
    ticket = store.load_ticket(uow.session, ticket_id)
    assert ticket is not None
    answered = ev.CsatAnswered(ticket_id=ticket.id, ticket_number=ticket.number, contact_id=ticket.contact_id,
                               account_id=ticket.account_id, assignee_id=ticket.assignee_id, rating=rating,
                               comment=comment.strip())
    answered.answered_at.FromDatetime(now)
    emit(uow, principal, SUPPORT.CSAT_ANSWERED, ticket.id, ticket.version, answered, now)
    CSAT_ANSWERS.labels(str(rating)).inc()
    return pb.AnswerCsatResponse(ticket_number=ticket.number, rating=rating)


def top_issues(session: Session, *, principal: Principal, now: datetime, since: datetime | None,
               limit: int) -> pb.GetTopIssuesResponse:
    require_agent(principal)
    recent = store.tickets_since(session, since or now - timedelta(days=30))
    ids = [t.id for t in recent]
    said = store.customer_texts(session, ids)
    comments = store.survey_comments(session, ids)
    texts = [(t.number, "\n".join([t.subject, *said.get(t.id, []), comments.get(t.id, "")])) for t in recent]
    issues = topics.top_issues(texts, limit=max(1, min(limit or 20, 100)))
    return pb.GetTopIssuesResponse(
        issues=[pb.TopIssue(term=i.term, tickets=i.tickets, sample_numbers=i.samples) for i in issues],
        tickets_scanned=len(recent))
