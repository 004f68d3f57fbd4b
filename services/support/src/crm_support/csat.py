"""CSAT: the survey made when a ticket is solved is answered once, with its token; and the top
issues mined from recent tickets (subjects, customer messages, survey comments)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm.support.v1 import events_pb2 as ev
from crm.support.v1 import support_pb2 as pb
from crm_support import store, topics
from crm_support.common import CSAT_ANSWERS, emit, require_agent
from crm_support.tables import csat_surveys
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import AlreadyExists, InvalidArgument, NotFound


def answer(uow: UnitOfWork, principal: Principal, token: str, rating: int, comment: str,
           now: datetime) -> pb.AnswerCsatResponse:
    if not token or len(token) > 200:
        raise NotFound("no such survey", field="token")
    if not 1 <= rating <= 5:
        raise InvalidArgument("rate from 1 (very unhappy) to 5 (very happy)", field="rating")
    if len(comment) > 4000:
        raise InvalidArgument("a comment is limited to 4000 characters", field="comment")
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    row = uow.session.execute(select(csat_surveys.c.ticket_id, csat_surveys.c.answered_at)
                              .where(csat_surveys.c.token_hash == token_hash).with_for_update()).first()
    if row is None:
        raise NotFound("no such survey", field="token")
    # The conditional update is the guard: of two concurrent answers exactly one matches.
    done = uow.session.execute(update(csat_surveys).where(
        csat_surveys.c.token_hash == token_hash, csat_surveys.c.answered_at.is_(None),
    ).values(answered_at=now, rating=rating, comment=comment.strip()))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyExists("this survey has already been answered", field="token")
    ticket = store.load_ticket(uow.session, row.ticket_id)
    assert ticket is not None
    answered = ev.CsatAnswered(ticket_id=ticket.id, ticket_number=ticket.number, contact_id=ticket.contact_id,
                               account_id=ticket.account_id, assignee_id=ticket.assignee_id, rating=rating,
                               comment=comment.strip())
    answered.answered_at.FromDatetime(now)
    emit(uow, principal, "csat", "answered", ticket.id, ticket.version, answered, now)
    CSAT_ANSWERS.labels(str(rating)).inc()
    return pb.AnswerCsatResponse(ticket_number=ticket.number, rating=rating)


def top_issues(session: Session, principal: Principal, since: datetime | None, limit: int,
               now: datetime) -> pb.GetTopIssuesResponse:
    require_agent(principal)
    since = since or now - timedelta(days=30)
    recent = store.tickets_since(session, since)
    ids = [t.id for t in recent]
    said = store.customer_texts(session, ids)
    comments = dict(session.execute(select(csat_surveys.c.ticket_id, csat_surveys.c.comment).where(
        csat_surveys.c.ticket_id.in_(ids[:5000]), csat_surveys.c.comment.is_not(None))).all()) if ids else {}
    texts = [(t.number, "\n".join([t.subject, *said.get(t.id, []), comments.get(t.id) or ""])) for t in recent]
    issues = topics.top_issues(texts, limit=max(1, min(limit or 20, 100)))
    return pb.GetTopIssuesResponse(
        issues=[pb.TopIssue(term=i.term, tickets=i.tickets, sample_numbers=i.samples) for i in issues],
        tickets_scanned=len(recent))
