"""Support's scheduled work, the tick `crmkit.scheduler.PeriodicWorker` runs every
`SUPPORT_SCHEDULER_INTERVAL` seconds: SLA warnings, breaches and escalations that are due, the
auto-close of tickets solved long enough ago, and the ticket gauges. Each ticket gets its own
transaction (opened here, passed to the use case), so one bad ticket does not hold up the rest.

The mail worker (`mail_worker`, its own thread, so a slow relay never delays SLA checks) sends
the mail outbox: claim ('sending') in one transaction, hand over to SMTP, record in another."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from crm.support.v1.support_pb2 import Comment
from crm_support import store
from crm_support import tables as t
from crm_support.metrics import (
    CHANNEL_MESSAGES,
    CHANNEL_REPLIES,
    ESCALATIONS,
    MAILS,
    OPEN_TICKETS,
    SLA_BREACHES,
    SLA_WARNINGS,
)
from crm_support.ports import ChannelSender, ContactsPort
from crm_support.rules.channels import ChannelAccount
from crm_support.rules.tickets import STATUSES
from crm_support.usecases import channels, notices, replies, settings, sla, tickets
from crmkit import logs
from crmkit.db import Database
from crmkit.mail import Mailer, MailRejected, MailUnavailable
from crmkit.retention import DataClass
from crmkit.scheduler import PeriodicWorker
from crmkit.wechat.api import SendFailed

log = logs.get("crm_support.jobs")
BATCH = 500


def check_sla(db: Database, now: datetime, limit: int = BATCH) -> int:
    """Raise what is due; returns how many warnings and breaches were raised."""
    with db.read() as session:
        due = sla.due(session, now=now, limit=limit)
    total = 0
    for ticket_id in due:
        try:
            with db.unit_of_work() as uow:
                raised = sla.raise_due(uow, ticket_id=ticket_id, now=now)
                uow.commit()
        except Exception:
            log.exception("SLA check of ticket %s failed; it is retried on the next tick", ticket_id)
            continue
        for kind, metric in raised.kinds:  # after the commit: counted once it happened
            (SLA_BREACHES if kind == "breached" else SLA_WARNINGS).labels(metric, raised.priority).inc()
        if raised.escalated:
            ESCALATIONS.inc()
        total += len(raised.kinds)
    return total


def auto_close(db: Database, now: datetime, limit: int = BATCH) -> int:
    with db.read() as session:
        days = settings.current(session).auto_close_days
        if days <= 0:
            return 0
        ids = store.solved_before(session, now - timedelta(days=days), limit)
    closed = 0
    for ticket_id in ids:
        try:
            with db.unit_of_work() as uow:
                if tickets.auto_close(uow, ticket_id=ticket_id, now=now):
                    uow.commit()
                    closed += 1
        except Exception:
            log.exception("auto-close of ticket %s failed", ticket_id)
    return closed


def refresh_gauges(db: Database) -> None:
    with db.read() as session:
        counts = store.counts_by_status(session)
    for status in STATUSES:
        OPEN_TICKETS.labels(status).set(counts.get(status, 0))


def run_once(db: Database, now: datetime) -> None:
    check_sla(db, now)
    auto_close(db, now)
    refresh_gauges(db)


def worker(db: Database, clock: Callable[[], datetime], interval: float) -> PeriodicWorker:
    return PeriodicWorker("support-scheduler", lambda now: run_once(db, now), clock, interval)


MAIL_OFF = "mail is off: SMTP_URL is not set"


def send_mail(db: Database, mailer: Mailer | None, sender: notices.Sender, now: datetime, limit: int = 50) -> int:
    """Send what is due; returns how many were handed over. Without a mailer, due mail is marked
    skipped. A relay that cannot be reached ends the run: the rest waits for the next one."""
    with db.read() as session:  # a read first: no write transaction while nothing is due
        due = notices.due(session, now=now, limit=limit)
    if mailer is None:
        if due:
            with db.unit_of_work() as uow:
                MAILS.labels("skipped").inc(notices.skip_due(uow, now=now, reason=MAIL_OFF))
                uow.commit()
        return 0
    handed = 0
    for seq in due:
        with db.unit_of_work() as uow:
            mail = notices.claim(uow, seq=seq, now=now, sender=sender)
            uow.commit()
        if mail is None:
            continue
        try:
            mailer.send(mail)
        except Exception as exc:  # MailRejected, MailUnavailable, or a bug: recorded, retried unless permanent
            permanent = isinstance(exc, MailRejected) and exc.permanent
            with db.unit_of_work() as uow:
                status = notices.failed(uow, seq=seq, now=now, error=str(exc) or type(exc).__name__, permanent=permanent)
                uow.commit()
            MAILS.labels(status).inc()
            log.warning("mail %s to %s not sent (%s): %s", mail.message_id, mail.to, status, exc)
            if isinstance(exc, MailUnavailable):
                break
            continue
        with db.unit_of_work() as uow:
            notices.sent(uow, seq=seq, now=now)
            uow.commit()
        MAILS.labels("sent").inc()
        handed += 1
    return handed


class MailWorker(PeriodicWorker):
    """The mail outbox's sender thread; closes the relay connection when it stops."""

    def __init__(self, db: Database, mailer: Mailer | None, sender: notices.Sender, clock: Callable[[], datetime],
                 interval: float) -> None:
        super().__init__("support-mail", lambda now: send_mail(db, mailer, sender, now), clock, interval)
        self.mailer = mailer
        if mailer is None:
            log.warning("%s; CSAT surveys and SLA mail are recorded as skipped", MAIL_OFF)

    def stop(self) -> None:
        super().stop()
        close = getattr(self.mailer, "close", None)
        if close is not None:
            close()


# -- WeChat / WeCom: the channel worker (its own thread; the callback wakes it) makes the tickets
# of taken messages and sends agents' replies through the platform, each in its own transaction.

def handle_messages(db: Database, contacts: ContactsPort | None, accounts: dict[str, ChannelAccount],
                    now: datetime, limit: int = 50) -> int:
    """Handle the taken messages that are due; returns how many took effect."""
    with db.read() as session:
        due = channels.due(session, now=now, limit=limit)
    handled = 0
    for seq in due:
        try:
            with db.read() as session:
                prepared = channels.prepare(session, contacts, accounts, seq=seq)
            if prepared is None:
                continue
            with db.unit_of_work() as uow:
                if prepared.error and channels.postpone(uow, seq=seq, now=now, error=prepared.error):
                    uow.commit()
                    CHANNEL_MESSAGES.labels(prepared.account.platform, "postponed").inc()
                    continue
                outcome = channels.handle(uow, prepared=prepared, now=now)
                uow.commit()
        except Exception:
            log.exception("channel message %s failed; it is retried on the next tick", seq)
            continue
        CHANNEL_MESSAGES.labels(prepared.account.platform, outcome).inc()
        handled += 1
    return handled


def send_replies(db: Database, sender: ChannelSender, accounts: dict[str, ChannelAccount], now: datetime,
                 limit: int = 50) -> int:
    """Send the replies that are due; returns how many the platform took."""
    with db.read() as session:
        due = replies.due(session, now=now, limit=limit)
    sent = 0
    for seq in due:
        with db.unit_of_work() as uow:
            reply = replies.claim(uow, seq=seq, now=now)
            uow.commit()
        if reply is None:
            continue
        account = accounts.get(reply.account)
        try:
            if account is None:
                raise SendFailed(f"the account {reply.account!r} is no longer configured", permanent=True)
            sender.send_text(account.api, reply.to_user, reply.body)
        except Exception as exc:  # SendFailed, or a bug: recorded on the comment, retried unless permanent
            permanent = isinstance(exc, SendFailed) and exc.permanent
            with db.unit_of_work() as uow:
                status = replies.failed(uow, seq=seq, now=now, error=str(exc) or type(exc).__name__,
                                        permanent=permanent)
                uow.commit()
            CHANNEL_REPLIES.labels(status).inc()
            log.warning("reply %s to %s not sent (%s): %s", reply.comment_id, reply.account, status, exc)
            continue
        with db.unit_of_work() as uow:
            replies.sent(uow, seq=seq, now=now)
            uow.commit()
        CHANNEL_REPLIES.labels("sent").inc()
        sent += 1
    return sent


def channel_worker(db: Database, contacts: ContactsPort | None, sender: ChannelSender,
                   accounts: dict[str, ChannelAccount], clock: Callable[[], datetime],
                   interval: float) -> PeriodicWorker:
    def tick(now: datetime) -> None:
        handle_messages(db, contacts, accounts, now)
        send_replies(db, sender, accounts, now)
    return PeriodicWorker("support-channels", tick, clock, interval)


# -- retention (crmkit.retention): closed tickets lose their personal data after
# RETENTION_CLOSED_TICKETS_DAYS (730). The ticket stays, for counts and SLA history, without the
# requester (email, name, contact link), its description, the thread's text and the CSAT comment.
def anonymize_closed_tickets(session: Session, cutoff: datetime, limit: int) -> int:
    rows = session.execute(
        select(t.tickets.c.id).where(t.tickets.c.status == "closed", t.tickets.c.updated_at < cutoff,
                                     or_(t.tickets.c.requester_email != "", t.tickets.c.contact_id != ""))
        .order_by(t.tickets.c.seq).limit(limit)).scalars().all()
    for ticket_id in rows:
        ticket = store.load_ticket(session, ticket_id, for_update=True)
        if ticket is None:
            continue
        for name in ("requester_email", "requester_name", "contact_id", "description", "notice_phone"):
            ticket.ClearField(name)
        session.execute(update(t.tickets).where(t.tickets.c.id == ticket_id).values(
            requester_email="", contact_id="", data=ticket.SerializeToString()))
        for row in session.execute(select(t.comments.c.id, t.comments.c.data)
                                   .where(t.comments.c.ticket_id == ticket_id)).all():
            comment = Comment.FromString(row.data)
            comment.ClearField("body")
            comment.ClearField("attachments")
            if comment.author_kind == "customer":
                comment.ClearField("author_id")
            session.execute(update(t.comments).where(t.comments.c.id == row.id)
                            .values(data=comment.SerializeToString()))
        session.execute(update(t.csat_surveys).where(t.csat_surveys.c.ticket_id == ticket_id).values(comment=None))
    return len(rows)


def purge_channel_rows(session: Session, cutoff: datetime, limit: int) -> int:
    """Handled callback messages and finished replies (their text is on the ticket already); the
    platforms retry within seconds, so a month of MsgIds is ample for taking each once."""
    removed = 0
    for table, column, done in ((t.channel_messages, t.channel_messages.c.received_at, ("done",)),
                                (t.channel_outbox, t.channel_outbox.c.created_at, ("sent", "failed"))):
        seqs = session.execute(select(table.c.seq).where(table.c.status.in_(done), column < cutoff)
                               .order_by(table.c.seq).limit(limit)).scalars().all()
        if seqs:
            session.execute(delete(table).where(table.c.seq.in_(seqs)))
        removed += len(seqs)
    return removed


RETENTION = (DataClass("closed_tickets", 730, anonymize_closed_tickets,
                       "closed tickets' personal data (requester, description, thread text, CSAT comment)"),
             DataClass("channel_messages", 30, purge_channel_rows,
                       "WeChat / WeCom callback messages handled and replies sent (or failed)"))
