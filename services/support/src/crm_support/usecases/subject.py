"""A person's data in support, for the privacy service's export and erasure
(`crm.privacy.v1.DataSubject`, served by `crmkit.privacy.SubjectServicer`).

A person's tickets (theirs by contact, by requester email, or naming them), with every comment,
CSAT answer and mail of those tickets, and the web-form submissions of their email, are
deleted: reporting keeps the counts (tickets, SLA breaches, CSAT) without the person."""
from __future__ import annotations

from crm.support.v1.support_pb2 import Comment, Ticket
from crm_support import tables
from crmkit.db import Database
from crmkit.privacy import CONTACT, EMAIL, Holding, SubjectServicer

TICKET = "ticket"

HOLDINGS = (
    Holding("tickets", tables.tickets, {"contact_id": CONTACT, "requester_email": EMAIL}, message=Ticket,
            scan=True, collect=(TICKET, "id")),
    Holding("comments", tables.comments, {"ticket_id": TICKET}, message=Comment),
    Holding("csat", tables.csat_surveys, {"ticket_id": TICKET}),
    Holding("mails", tables.mail_outbox, {"ticket_id": TICKET}, export=False),
    Holding("ticket sms", tables.sms_outbox, {"ticket_id": TICKET}, export=False),
    Holding("web form submissions", tables.web_submissions, {"email": EMAIL}),
    # WeChat / WeCom: the messages a ticket came from and the replies sent on it (text, openid)
    Holding("channel messages", tables.channel_messages, {"ticket_id": TICKET}, export=False),
    Holding("channel replies", tables.channel_outbox, {"ticket_id": TICKET}, export=False),
)


def servicer(db: Database) -> SubjectServicer:
    return SubjectServicer(db, "support", HOLDINGS)
