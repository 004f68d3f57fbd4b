"""The mail support sends on its own, through the mail outbox: a use case that changes a ticket
queues its mail in the same unit of work (`queue_*`), and the mail worker (jobs.send_mail) claims,
renders, hands over and records each one.

Each mail is queued once (its key), and its Message-ID is fixed when it is first rendered. A mail
is marked 'sending' before it is handed to SMTP and 'sent' after: a crash in between leaves it
'sending', and once its lease has passed it is sent again with the same Message-ID and content.
So delivery is at least once, and the one duplicate a crash can cause is recognisable by its
Message-ID (the window is the relay's 250 → our commit)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crm.support.v1.support_pb2 import Ticket
from crm_support import store
from crm_support.rules import notices
from crm_support.usecases import settings
from crmkit.db import UnitOfWork
from crmkit.mail import OutgoingMail, domain_of, format_address, make_message_id

# Longer than any SMTP exchange (timeouts 30 s): a 'sending' mail older than this lost its sender.
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
HEADERS = {"Auto-Submitted": "auto-generated"}  # RFC 3834: autoresponders do not answer it


@dataclass(frozen=True)
class Sender:
    """What rendering needs from the process's settings (MAIL_FROM, PUBLIC_BASE_URL)."""

    mail_from: str
    public_base_url: str


# -- queueing, inside the unit of work of the change that causes the mail

def queue_csat(uow: UnitOfWork, *, ticket: Ticket, token: str, now: datetime) -> bool:
    """The survey of a ticket just solved, to its requester (False: no address, or queued before)."""
    if not ticket.requester_email:
        return False
    return store.queue_mail(uow.session, key=f"csat:{ticket.id}", purpose=notices.CSAT_SURVEY, ticket_id=ticket.id,
                            recipient_id="", recipient=format_address(ticket.requester_name, ticket.requester_email),
                            params={"token": token, "language": ticket.language}, now=now)


def queue_sla(uow: UnitOfWork, *, ticket: Ticket, purpose: str, metric: str, due_at: datetime, supervisor: str,
              now: datetime) -> bool:
    """An SLA warning or an escalation to the supervisor (their address is looked up when sent)."""
    if not supervisor:
        return False
    key = f"{purpose}:{ticket.id}:{metric}" if purpose == notices.SLA_WARNING else f"{purpose}:{ticket.id}"
    return store.queue_mail(uow.session, key=key, purpose=purpose, ticket_id=ticket.id, recipient_id=supervisor,
                            recipient="", params={"metric": metric, "due_at": due_at.isoformat()}, now=now)


# -- sending (the worker owns the transactions)

def due(session: Session, *, now: datetime, limit: int = 50) -> list[int]:
    return store.mail_due(session, now, limit)


def claim(uow: UnitOfWork, *, seq: int, now: datetime, sender: Sender) -> OutgoingMail | None:
    """The mail to hand over now (marked 'sending'), or None: another sender has it, or it cannot
    be sent (no address for the supervisor; the ticket is gone) and is marked 'skipped'."""
    row = store.claim_mail(uow.session, seq, now, now + LEASE)
    if row is None:
        return None
    if row.message is not None:  # rendered by an earlier attempt: the same mail again
        return _mail(json.loads(row.message))
    ticket = store.load_ticket(uow.session, row.ticket_id)
    rendered = _render(uow.session, row, ticket, sender) if ticket is not None else "the ticket is gone"
    if isinstance(rendered, str):
        store.set_mail(uow.session, seq, status="skipped", last_error=rendered)
        return None
    message_id = make_message_id("support", row.key, domain=domain_of(sender.mail_from))
    mail = OutgoingMail(sender=sender.mail_from, to=rendered["to"], subject=rendered["subject"],
                        text=rendered["text"], html=rendered["html"], message_id=message_id, headers=HEADERS,
                        date=now)
    store.set_mail(uow.session, seq, message_id=message_id, recipient=mail.to,
                   message=json.dumps({**rendered, "message_id": message_id, "sender": mail.sender,
                                       "date": now.isoformat()}, ensure_ascii=False))
    return mail


def _render(session: Session, row: Any, ticket: Ticket, sender: Sender) -> dict[str, str] | str:
    """The mail's recipient and content, or why there is none."""
    params = json.loads(row.params)
    base = sender.public_base_url
    if row.purpose == notices.CSAT_SURVEY:
        note = notices.csat_survey(ticket, link=notices.survey_link(base, params["token"]),
                                   language=params.get("language", ""))
        to = row.recipient
    else:
        cfg = settings.current(session)
        member = notices.staff_member(cfg, row.recipient_id)
        if member is None or not member.email:
            return f"no email for {row.recipient_id} in the support staff directory (settings.staff)"
        to = format_address(member.name, member.email)
        link = notices.ticket_link(base, ticket)
        if row.purpose == notices.SLA_WARNING:
            note = notices.sla_warning(ticket, metric=params["metric"], due_at=datetime.fromisoformat(params["due_at"]),
                                       timezone=cfg.business_hours.timezone, link=link, language=member.language)
        else:
            note = notices.escalation(ticket, metric=params["metric"], link=link, language=member.language)
    return {"to": to, "subject": note.subject, "text": note.text, "html": note.html}


def _mail(saved: dict[str, str]) -> OutgoingMail:
    return OutgoingMail(sender=saved["sender"], to=saved["to"], subject=saved["subject"], text=saved["text"],
                        html=saved["html"], message_id=saved["message_id"], headers=HEADERS,
                        date=datetime.fromisoformat(saved["date"]))


def sent(uow: UnitOfWork, *, seq: int, now: datetime) -> None:
    store.set_mail(uow.session, seq, status="sent", sent_at=now, last_error="")


def failed(uow: UnitOfWork, *, seq: int, now: datetime, error: str, permanent: bool) -> str:
    """Back to 'pending' with a growing wait (1, 2, 4 ... 60 minutes), or 'failed' when permanent
    or out of attempts; returns the new status."""
    row = store.mail_row(uow.session, seq)
    status = "failed" if permanent or row.attempts >= MAX_ATTEMPTS else "pending"
    wait = timedelta(minutes=min(2 ** max(row.attempts - 1, 0), 60))
    store.set_mail(uow.session, seq, status=status, last_error=error[:2000], next_attempt_at=now + wait)
    return status


def skip_due(uow: UnitOfWork, *, now: datetime, reason: str, limit: int = 500) -> int:
    """Mail off (no SMTP_URL): what is due is marked 'skipped' rather than sent days later."""
    seqs = store.mail_due(uow.session, now, limit)
    for seq in seqs:
        store.set_mail(uow.session, seq, status="skipped", last_error=reason)
    return len(seqs)


def mails_of(session: Session, *, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's mails and their states (tests and operators)."""
    return [dict(r._mapping) for r in store.mails_of(session, ticket_id)]
