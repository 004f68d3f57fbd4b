"""Bounces and complaints the SMTP relay reports (a DSN or its webhook, through the gateway): a
hard bounce (a 5.x.x status, or none given) or a complaint suppresses the address (the reason
kept: `bounced` or `complained`), so every later wave and step skips it, counted as `suppressed`;
a soft bounce (4.x.x) changes nothing. A bounce that names one of our Message-IDs also marks that
mail failed, so the wave's counts say it was not delivered."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update

from crm.marketing.v1.marketing_pb2 import MailFeedback, ReportMailFeedbackResponse
from crm_marketing.rules.access import require_writer
from crm_marketing.store import projection
from crm_marketing.tables import recipients, suppressions
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument

MAX_FEEDBACK = 500
KINDS = ("bounce", "complaint")
_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def check(items: list[MailFeedback]) -> None:
    if not items:
        raise InvalidArgument("no feedback: send at least one bounce or complaint", field="feedback")
    if len(items) > MAX_FEEDBACK:
        raise InvalidArgument(f"at most {MAX_FEEDBACK} a call", field="feedback")
    for i, item in enumerate(items):
        item.email = item.email.strip().lower()
        item.kind = item.kind.strip().lower() or "bounce"
        item.status = item.status.strip()
        if not _EMAIL.match(item.email) or len(item.email) > 320:
            raise InvalidArgument("not an email address", field=f"feedback[{i}].email")
        if item.kind not in KINDS:
            raise InvalidArgument("must be bounce or complaint", field=f"feedback[{i}].kind")
        if item.status and not _STATUS.match(item.status):
            raise InvalidArgument("a DSN status looks like 5.1.1", field=f"feedback[{i}].status")
        if len(item.diagnostic) > 2000 or len(item.message_id) > 200:
            raise InvalidArgument("too long", field=f"feedback[{i}].diagnostic" if len(item.diagnostic) > 2000
                                  else f"feedback[{i}].message_id")


def report(uow: UnitOfWork, *, principal: Principal, now: datetime, items: list[MailFeedback],
           source: str) -> ReportMailFeedbackResponse:
    require_writer(principal)  # marketing, managers, admins and service accounts (the relay's token)
    check(items)
    session = uow.session
    out = ReportMailFeedbackResponse()
    for item in items:
        hard = item.kind == "complaint" or not item.status.startswith("4")
        if not hard:
            out.soft_bounces += 1
            continue
        reason = "complained" if item.kind == "complaint" else "bounced"
        detail = " ".join(x for x in (source.strip()[:60], item.status, item.diagnostic.strip()) if x)
        known = session.execute(select(suppressions.c.email).where(suppressions.c.email == item.email)).first()
        if known is None:
            projection.add_suppression(session, item.email, reason, detail, now)
            out.suppressed += 1
        else:
            out.already_suppressed += 1
        if item.kind == "bounce" and item.message_id:
            marked = session.execute(update(recipients).where(
                recipients.c.message_id == item.message_id.strip(), recipients.c.email == item.email,
                recipients.c.status == "sent").values(status="failed", error=f"bounced: {detail}"[:2000]))
            out.recipients_marked += int(marked.rowcount or 0)  # type: ignore[attr-defined]
    return out
