"""SMS notices of a ticket's updates to a customer who chose SMS, through the SMS outbox: a use
case that changes the ticket queues the SMS in the same unit of work (`queue`), and the SMS
worker (sms_jobs) claims, hands over and records each one. At least once: a worker that dies
between the provider's answer and its commit leaves the row 'sending', sent again once its
lease passed (providers take no idempotency key)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crm.support.v1.support_pb2 import ReportSmsReceiptsResponse, Ticket, TicketSmsReceipt
from crm_support.rules import sms_notices as rules
from crm_support.rules.access import is_public
from crm_support.tables import sms_outbox
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, PermissionDenied
from crmkit.records import aware
from crmkit.sms import OutgoingSms

LEASE = timedelta(minutes=2)  # longer than a provider call (SMS_TIMEOUT, 10 s)
MAX_ATTEMPTS = 8
o = sms_outbox.c


def queue(uow: UnitOfWork, *, ticket: Ticket, kind: str, ref: str, now: datetime) -> bool:
    """The SMS of one update (False: the customer did not choose SMS, or it was queued before)."""
    if not rules.wants_sms(ticket):
        return False
    key = f"sms:{kind}:{ticket.id}:{ref}"
    session = uow.session
    if session.execute(select(o.seq).where(o.key == key)).first() is not None:
        return False
    session.execute(insert(sms_outbox).values(
        key=key, ticket_id=ticket.id, phone=ticket.notice_phone, params=json.dumps(rules.params(ticket, kind),
                                                                                  ensure_ascii=False),
        status="pending", attempts=0, next_attempt_at=now, created_at=now, provider_id="", last_error=""))
    return True


def due(session: Session, *, now: datetime, limit: int = 50) -> list[int]:
    stale = (o.status == "sending") & (o.next_attempt_at <= now)
    return list(session.execute(select(o.seq).where(((o.status == "pending") & (o.next_attempt_at <= now)) | stale)
                                .order_by(o.next_attempt_at, o.seq).limit(limit)).scalars())


def claim(uow: UnitOfWork, *, seq: int, now: datetime, template: str, sign_name: str) -> OutgoingSms | None:
    """The SMS to hand over now (marked 'sending' until the lease ends), or None: another worker
    took it, or there is no template to send it with (marked 'skipped' with the reason)."""
    row = uow.session.execute(select(sms_outbox).where(o.seq == seq).with_for_update()).first()
    if row is None or row.status not in ("pending", "sending") or aware(row.next_attempt_at) > now:
        return None
    if not template:
        _set(uow.session, seq, status="skipped", last_error="SUPPORT_SMS_TEMPLATE is not set")
        return None
    _set(uow.session, seq, status="sending", attempts=row.attempts + 1, next_attempt_at=now + LEASE)
    return OutgoingSms(row.phone, template, json.loads(row.params), sign_name, f"s{seq}")


def sent(uow: UnitOfWork, *, seq: int, now: datetime, provider_id: str) -> None:
    _set(uow.session, seq, status="sent", sent_at=now, provider_id=provider_id[:64], last_error="")


def failed(uow: UnitOfWork, *, seq: int, now: datetime, error: str, permanent: bool) -> str:
    """Back to 'pending' after 1, 2, 4 ... 60 minutes, or 'failed' when permanent or out of
    attempts; returns the new status."""
    row = uow.session.execute(select(o.attempts).where(o.seq == seq)).one()
    status = "failed" if permanent or row.attempts >= MAX_ATTEMPTS else "pending"
    wait = timedelta(minutes=min(2 ** max(row.attempts - 1, 0), 60))
    _set(uow.session, seq, status=status, last_error=error[:2000], next_attempt_at=now + wait)
    return status


MAX_RECEIPTS = 500


def record_receipts(uow: UnitOfWork, *, principal: Principal, now: datetime,
                    receipts: list[TicketSmsReceipt]) -> ReportSmsReceiptsResponse:
    """The provider's receipts (the gateway's callback): delivered, or failed with the carrier's
    code; one naming no SMS of ours is counted, not an error (the provider pushes what it has)."""
    if not (is_public(principal) or principal.is_admin):
        raise PermissionDenied("only the SMS provider's callback (through the gateway) reports receipts")
    if len(receipts) > MAX_RECEIPTS:
        raise InvalidArgument(f"at most {MAX_RECEIPTS} a call", field="receipts")
    out = ReportSmsReceiptsResponse()
    for receipt in receipts:
        seq = int(receipt.out_id[1:]) if receipt.out_id[:1] == "s" and receipt.out_id[1:].isdigit() else None
        row = uow.session.execute(select(o.seq).where(o.seq == seq)).first() if seq is not None else None
        if row is None:
            out.unmatched += 1
            continue
        if receipt.success:
            _set(uow.session, row.seq, delivered_at=now)
        else:
            error = f"{receipt.error_code or 'undelivered'}: {receipt.error_message}".strip(": ")
            _set(uow.session, row.seq, status="failed", last_error=error[:2000])
        out.marked += 1
    return out


def _set(session: Session, seq: int, **values: Any) -> None:
    session.execute(update(sms_outbox).where(o.seq == seq).values(**values))


def of_ticket(session: Session, *, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's SMS and their states (tests and operators)."""
    return [dict(r._mapping) for r in session.execute(select(sms_outbox).where(o.ticket_id == ticket_id)
                                                      .order_by(o.seq))]
