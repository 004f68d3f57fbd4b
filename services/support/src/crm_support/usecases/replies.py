"""Agents' replies on wechat / wecom tickets: queued in the unit of work of the comment (so an
acknowledged reply is never lost) and sent by the channel worker through the platform's
customer-service API, each attempt recorded on the comment (delivery_status, delivery_error,
delivery_attempts), retried with a growing wait until the platform takes it or refuses for good."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crm.support.v1.support_pb2 import Comment, Ticket
from crm_support import store
from crm_support.rules import channels as rules
from crmkit.db import UnitOfWork

LEASE = timedelta(minutes=2)  # longer than a send (10 s timeout, one token refresh)
MAX_ATTEMPTS = 8              # 1 + 2 + 4 ... minutes: past the hour, then failed


@dataclass(frozen=True)
class Reply:
    seq: int
    account: str
    to_user: str
    body: str
    comment_id: str


def queue(uow: UnitOfWork, *, ticket: Ticket, comment: Comment, now: datetime) -> None:
    account, user = rules.split_conversation(ticket.external_ref)
    store.queue_reply(uow.session, comment_id=comment.id, ticket_id=ticket.id, account=account, to_user=user,
                      body=comment.body, now=now)


def due(session: Session, *, now: datetime, limit: int = 50) -> list[int]:
    return store.replies_due(session, now, limit)


def claim(uow: UnitOfWork, *, seq: int, now: datetime) -> Reply | None:
    row = store.claim_reply(uow.session, seq, now, now + LEASE)
    if row is None:
        return None
    return Reply(seq, row.account, row.to_user, row.body, row.comment_id)


def _mark_comment(session: Session, comment_id: str, *, status: str, error: str, attempts: int) -> None:
    comment = store.load_comment(session, comment_id)
    if comment is None:
        return
    comment.delivery_status, comment.delivery_error, comment.delivery_attempts = status, error, attempts
    store.update_comment(session, comment)


def sent(uow: UnitOfWork, *, seq: int, now: datetime) -> None:
    reply = store.reply_row(uow.session, seq)
    store.set_reply(uow.session, seq, status="sent", sent_at=now, last_error="")
    _mark_comment(uow.session, reply.comment_id, status="sent", error="", attempts=reply.attempts)


def failed(uow: UnitOfWork, *, seq: int, now: datetime, error: str, permanent: bool) -> str:
    """Back to 'pending' after 1, 2, 4 ... 60 minutes, or 'failed' (permanent, or out of attempts)."""
    reply = store.reply_row(uow.session, seq)
    status = "failed" if permanent or reply.attempts >= MAX_ATTEMPTS else "pending"
    wait = timedelta(minutes=min(2 ** max(reply.attempts - 1, 0), 60))
    store.set_reply(uow.session, seq, status=status, last_error=error[:2000], next_attempt_at=now + wait)
    _mark_comment(uow.session, reply.comment_id, status=status, error=error[:500], attempts=reply.attempts)
    return status


def replies_of(session: Session, *, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's replies and their delivery states (operators and tests)."""
    return [dict(r._mapping) for r in store.replies_of(session, ticket_id)]
