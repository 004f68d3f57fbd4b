"""Persistence: protobuf snapshots plus the columns queries need, kept in step on every save.
Plain functions over a SQLAlchemy session; no rules here."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crm.support.v1.support_pb2 import Comment, KbArticle, KbCategory, SupportSettings, Ticket
from crm_support.rules import sla
from crm_support.rules.tickets import OPEN_STATUSES
from crm_support.tables import (
    channel_messages,
    channel_outbox,
    comments,
    counters,
    csat_surveys,
    kb_articles,
    kb_categories,
    kb_feedback,
    mail_outbox,
    routing_cursors,
    settings,
    tickets,
    web_submissions,
)
from crm_support.tables import imports as import_tables
from crmkit.imports.store import ImportStore
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.records import dt
from crmkit.settings_store import SettingsDocument

# -- tickets

def _ticket_values(t: Ticket) -> dict[str, Any]:
    return dict(
        id=t.id, number=t.number, status=t.status, priority=t.priority, type=t.type, channel=t.channel,
        contact_id=t.contact_id, account_id=t.account_id, requester_email=t.requester_email,
        assignee_id=t.assignee_id, group_name=t.group, created_by=t.created_by, external_ref=t.external_ref,
        region=t.region, team=t.team, escalated_to=t.escalated_to, sla_next_at=sla.next_check(t), solved_at=dt(t.solved_at) if t.HasField("solved_at") else None,
        version=t.version, created_at=dt(t.created_at), updated_at=dt(t.updated_at), data=t.SerializeToString(),
    )


# The statements of every ticket write, built once and run with parameters: building them with
# the values inlined cost more than the SQL they ran (docs/performance.md).
_INSERT_TICKET = insert(tickets)
_UPDATE_TICKET = update(tickets).where(tickets.c.id == bindparam("b_id"))
_LOAD_TICKET = {(by_number, locked): (stmt.with_for_update() if locked else stmt)
                for by_number in (False, True) for locked in (False, True)
                for stmt in [select(tickets.c.data).where(
                    (tickets.c.number if by_number else tickets.c.id) == bindparam("key"))]}


def insert_ticket(session: Session, ticket: Ticket) -> None:
    session.execute(_INSERT_TICKET, _ticket_values(ticket))


def update_ticket(session: Session, ticket: Ticket) -> None:
    session.execute(_UPDATE_TICKET, {**_ticket_values(ticket), "b_id": ticket.id})


def load_ticket(session: Session, key: str, *, for_update: bool = False) -> Ticket | None:
    """By id or by number (T-000123)."""
    data = session.execute(_LOAD_TICKET[(key.startswith("T-"), for_update)], {"key": key}).scalar_one_or_none()
    return None if data is None else Ticket.FromString(data)


def ticket_by_ref(session: Session, channel: str, ref: str) -> Ticket | None:
    data = session.execute(
        select(tickets.c.data).where(tickets.c.channel == channel, tickets.c.external_ref == ref,
                                     tickets.c.status.in_(OPEN_STATUSES))
        .order_by(tickets.c.seq.desc()).limit(1)
    ).scalar_one_or_none()
    return None if data is None else Ticket.FromString(data)


def list_tickets(session: Session, where: list[ColumnElement[bool]], requested: int,
                 page_token: str) -> tuple[list[Ticket], str]:
    size = page_size(requested)
    stmt = select(tickets.c.data, tickets.c.seq).where(*where)
    if page_token:
        stmt = stmt.where(tickets.c.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(tickets.c.seq.desc()).limit(size + 1)).all()
    items = [Ticket.FromString(r.data) for r in rows[:size]]
    return items, encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


# Open tickets sort before solved and closed ones: the page key is open * 2**62 + seq, newest first.
_open_first = case((tickets.c.status.in_(OPEN_STATUSES), literal(2**62)), else_=literal(0)) + tickets.c.seq


def escalated_to(session: Session, user_id: str, open_only: bool, requested: int,
                 page_token: str) -> tuple[list[Ticket], str]:
    size = page_size(requested)
    stmt = select(tickets.c.data, _open_first.label("key")).where(tickets.c.escalated_to == user_id)
    if open_only:
        stmt = stmt.where(tickets.c.status.in_(OPEN_STATUSES))
    if page_token:
        stmt = stmt.where(_open_first < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(_open_first.desc()).limit(size + 1)).all()
    items = [Ticket.FromString(r.data) for r in rows[:size]]
    return items, encode_cursor(rows[size - 1].key) if len(rows) > size else ""


def due_for_sla(session: Session, now: datetime, limit: int) -> list[str]:
    return list(session.execute(
        select(tickets.c.id).where(tickets.c.sla_next_at.is_not(None), tickets.c.sla_next_at <= now)
        .order_by(tickets.c.sla_next_at).limit(limit)).scalars())


def solved_before(session: Session, cutoff: datetime, limit: int) -> list[str]:
    return list(session.execute(
        select(tickets.c.id).where(tickets.c.status == "solved", tickets.c.solved_at <= cutoff).limit(limit)).scalars())


def open_load(session: Session, agents: list[str]) -> dict[str, int]:
    rows = session.execute(select(tickets.c.assignee_id, func.count()).where(
        tickets.c.assignee_id.in_(agents), tickets.c.status.in_(OPEN_STATUSES)).group_by(tickets.c.assignee_id)).all()
    return {a: int(n) for a, n in rows}


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(tickets.c.status, func.count()).group_by(tickets.c.status)).all()
    return {s: int(n) for s, n in rows}


def tickets_since(session: Session, since: datetime, limit: int = 5000) -> list[Ticket]:
    rows = session.execute(select(tickets.c.data).where(tickets.c.created_at >= since)
                           .order_by(tickets.c.seq.desc()).limit(limit)).scalars()
    return [Ticket.FromString(d) for d in rows]


# -- comments

_INSERT_COMMENT = insert(comments)


def insert_comment(session: Session, comment: Comment) -> None:
    session.execute(_INSERT_COMMENT, dict(
        id=comment.id, ticket_id=comment.ticket_id, public=comment.public, author_kind=comment.author_kind,
        message_id=comment.message_id or None, created_at=dt(comment.created_at), data=comment.SerializeToString()))


def comments_of(session: Session, ticket_id: str, public_only: bool = False) -> list[Comment]:
    stmt = select(comments.c.data).where(comments.c.ticket_id == ticket_id)
    if public_only:
        stmt = stmt.where(comments.c.public.is_(True))
    return [Comment.FromString(d) for d in session.execute(stmt.order_by(comments.c.seq)).scalars()]


def comment_by_message_id(session: Session, message_ids: list[str]) -> Comment | None:
    if not message_ids:
        return None
    data = session.execute(select(comments.c.data).where(comments.c.message_id.in_(message_ids))
                           .order_by(comments.c.seq.desc()).limit(1)).scalar_one_or_none()
    return None if data is None else Comment.FromString(data)


def customer_texts(session: Session, ticket_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for chunk in range(0, len(ticket_ids), 500):
        rows = session.execute(select(comments.c.ticket_id, comments.c.data).where(
            comments.c.ticket_id.in_(ticket_ids[chunk:chunk + 500]), comments.c.author_kind == "customer")).all()
        for ticket_id, data in rows:
            found.setdefault(ticket_id, []).append(Comment.FromString(data).body)
    return found


# -- counters, cursors, settings

_BUMP_COUNTER = update(counters).where(counters.c.name == bindparam("b_name")).values(value=counters.c.value + 1)
_COUNTER = select(counters.c.value).where(counters.c.name == bindparam("b_name"))


def next_number(session: Session, name: str) -> int:
    """Incremented inside the caller's transaction (the row lock serializes writers)."""
    updated = session.execute(_BUMP_COUNTER, {"b_name": name})
    if updated.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        session.execute(insert(counters).values(name=name, value=1))
        return 1
    return int(session.execute(_COUNTER, {"b_name": name}).scalar_one())


def cursor(session: Session, rule_id: str) -> str:
    return session.execute(select(routing_cursors.c.last_agent).where(
        routing_cursors.c.rule_id == rule_id).with_for_update()).scalar_one_or_none() or ""


def set_cursor(session: Session, rule_id: str, agent: str) -> None:
    done = session.execute(update(routing_cursors).where(routing_cursors.c.rule_id == rule_id).values(last_agent=agent))
    if done.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        session.execute(insert(routing_cursors).values(rule_id=rule_id, last_agent=agent))


_SETTINGS = SettingsDocument(settings, "support", SupportSettings)


def load_settings(session: Session) -> SupportSettings | None:
    return _SETTINGS.load(session)


def save_settings(session: Session, value: SupportSettings) -> None:
    _SETTINGS.save(session, value)


# -- knowledge base

def save_article(session: Session, article: KbArticle, *, new: bool) -> None:
    values = dict(id=article.id, status=article.status, category_id=article.category_id, version=article.version,
                  updated_at=dt(article.updated_at), data=article.SerializeToString())
    if new:
        session.execute(insert(kb_articles).values(**values))
    else:
        session.execute(update(kb_articles).where(kb_articles.c.id == article.id).values(**values))


def load_article(session: Session, article_id: str, *, for_update: bool = False) -> KbArticle | None:
    stmt = select(kb_articles.c.data).where(kb_articles.c.id == article_id)
    if for_update:
        stmt = stmt.with_for_update()
    data = session.execute(stmt).scalar_one_or_none()
    return None if data is None else KbArticle.FromString(data)


def list_articles(session: Session, category_id: str, status: str, requested: int,
                  page_token: str) -> tuple[list[KbArticle], str]:
    size = page_size(requested)
    stmt = select(kb_articles.c.data, kb_articles.c.seq)
    if category_id:
        stmt = stmt.where(kb_articles.c.category_id == category_id)
    if status:
        stmt = stmt.where(kb_articles.c.status == status)
    if page_token:
        stmt = stmt.where(kb_articles.c.seq > decode_cursor(page_token))
    rows = session.execute(stmt.order_by(kb_articles.c.seq).limit(size + 1)).all()
    return [KbArticle.FromString(r.data) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def all_articles(session: Session) -> list[KbArticle]:
    return [KbArticle.FromString(d) for d in session.execute(select(kb_articles.c.data)).scalars()]


def save_category(session: Session, category: KbCategory) -> None:
    session.execute(insert(kb_categories).values(id=category.id, name=category.name, data=category.SerializeToString()))


def categories(session: Session) -> list[KbCategory]:
    rows = session.execute(select(kb_categories.c.data)).scalars()
    return sorted((KbCategory.FromString(d) for d in rows), key=lambda c: (c.position, c.name))


def category_exists(session: Session, category_id: str) -> bool:
    return session.execute(select(kb_categories.c.id).where(kb_categories.c.id == category_id)).first() is not None



def add_feedback(session: Session, article_id: str, helpful: bool, comment: str, at: datetime) -> None:
    session.execute(insert(kb_feedback).values(article_id=article_id, helpful=helpful, comment=comment, at=at))


# -- CSAT surveys: only the token's hash is kept, the token itself goes to the customer

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def has_survey(session: Session, ticket_id: str) -> bool:
    return session.execute(select(csat_surveys.c.ticket_id).where(
        csat_surveys.c.ticket_id == ticket_id)).first() is not None


def add_survey(session: Session, ticket_id: str, token: str, at: datetime) -> None:
    session.execute(insert(csat_surveys).values(ticket_id=ticket_id, token_hash=token_hash(token), created_at=at))


def survey_ticket(session: Session, token: str) -> str | None:
    """The ticket id of the survey with this token (row locked), or None."""
    return session.execute(select(csat_surveys.c.ticket_id).where(
        csat_surveys.c.token_hash == token_hash(token)).with_for_update()).scalar_one_or_none()


def record_answer(session: Session, token: str, rating: int, comment: str, at: datetime) -> bool:
    """False when the survey was already answered. The conditional update is the guard: of two
    concurrent answers exactly one matches."""
    done = session.execute(update(csat_surveys).where(
        csat_surveys.c.token_hash == token_hash(token), csat_surveys.c.answered_at.is_(None),
    ).values(answered_at=at, rating=rating, comment=comment))
    return done.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # an UPDATE's result is a CursorResult


def survey_comments(session: Session, ticket_ids: list[str]) -> dict[str, str]:
    if not ticket_ids:
        return {}
    rows = session.execute(select(csat_surveys.c.ticket_id, csat_surveys.c.comment).where(
        csat_surveys.c.ticket_id.in_(ticket_ids[:5000]), csat_surveys.c.comment.is_not(None))).all()
    return {ticket_id: comment or "" for ticket_id, comment in rows}


# -- web-form submissions, for the abuse limits

def submissions_since(session: Session, since: datetime, *, client_ip: str = "", email: str = "") -> int:
    stmt = select(func.count()).select_from(web_submissions).where(web_submissions.c.at > since)
    if client_ip:
        stmt = stmt.where(web_submissions.c.client_ip == client_ip)
    if email:
        stmt = stmt.where(web_submissions.c.email == email)
    return int(session.execute(stmt).scalar_one())


def add_submission(session: Session, client_ip: str, email: str, at: datetime) -> None:
    session.execute(insert(web_submissions).values(client_ip=client_ip or "?", email=email, at=at))


# -- mail outbox: what the mail worker sends (see tables.mail_outbox for the states)

def queue_mail(session: Session, *, key: str, purpose: str, ticket_id: str, recipient_id: str, recipient: str,
               params: dict[str, str], now: datetime) -> bool:
    """False when a mail with this key exists already (it is made once, whatever retries)."""
    if session.execute(select(mail_outbox.c.seq).where(mail_outbox.c.key == key)).first() is not None:
        return False
    session.execute(insert(mail_outbox).values(
        key=key, purpose=purpose, ticket_id=ticket_id, recipient_id=recipient_id, recipient=recipient,
        status="pending", attempts=0, next_attempt_at=now, created_at=now, last_error="",
        params=json.dumps(params, ensure_ascii=False)))
    return True


def mail_due(session: Session, now: datetime, limit: int) -> list[int]:
    """Pending mail whose time came, and mail left 'sending' past its lease (its sender died)."""
    return list(session.execute(select(mail_outbox.c.seq).where(
        mail_outbox.c.status.in_(("pending", "sending")), mail_outbox.c.next_attempt_at <= now)
        .order_by(mail_outbox.c.seq).limit(limit)).scalars())


def claim_mail(session: Session, seq: int, now: datetime, lease_until: datetime) -> Any:
    """The row, now 'sending' until `lease_until`, or None when another sender has it. The
    conditional update is the claim: of two senders exactly one matches."""
    done = session.execute(update(mail_outbox).where(
        mail_outbox.c.seq == seq, mail_outbox.c.status.in_(("pending", "sending")),
        mail_outbox.c.next_attempt_at <= now,
    ).values(status="sending", attempts=mail_outbox.c.attempts + 1, next_attempt_at=lease_until))
    if done.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        return None
    return mail_row(session, seq)


def mail_row(session: Session, seq: int) -> Any:
    return session.execute(select(mail_outbox).where(mail_outbox.c.seq == seq)).one()


def set_mail(session: Session, seq: int, **values: Any) -> None:
    session.execute(update(mail_outbox).where(mail_outbox.c.seq == seq).values(**values))


def mails_of(session: Session, ticket_id: str) -> list[Any]:
    return list(session.execute(select(mail_outbox).where(mail_outbox.c.ticket_id == ticket_id)
                                .order_by(mail_outbox.c.seq)).all())


# -- WeChat / WeCom: callback messages taken once, replies' outbox (tables.channel_*)

def update_comment(session: Session, comment: Comment) -> None:
    session.execute(update(comments).where(comments.c.id == comment.id).values(data=comment.SerializeToString()))


def load_comment(session: Session, comment_id: str) -> Comment | None:
    data = session.execute(select(comments.c.data).where(comments.c.id == comment_id)).scalar_one_or_none()
    return None if data is None else Comment.FromString(data)


def take_channel_message(session: Session, *, account: str, dedup_key: str, platform: str, from_user: str,
                         msg_type: str, message: dict[str, Any], now: datetime) -> bool:
    """False when this account saw the key before. The unique constraint is the arbiter: two
    deliveries of one message at once (PostgreSQL) insert one row, and the other does nothing."""
    dialect = session.get_bind().dialect.name
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    done = session.execute(upsert(channel_messages).values(
        account=account, dedup_key=dedup_key, platform=platform, from_user=from_user, msg_type=msg_type,
        status="pending", attempts=0, next_attempt_at=now, received_at=now, ticket_id="", last_error="",
        message=json.dumps(message, ensure_ascii=False)).on_conflict_do_nothing(
            index_elements=["account", "dedup_key"]))
    return done.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # an INSERT's result is a CursorResult


def channel_messages_due(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.execute(select(channel_messages.c.seq).where(
        channel_messages.c.status == "pending", channel_messages.c.next_attempt_at <= now)
        .order_by(channel_messages.c.seq).limit(limit)).scalars())


def channel_message(session: Session, seq: int, *, for_update: bool = False) -> Any:
    stmt = select(channel_messages).where(channel_messages.c.seq == seq)
    return session.execute(stmt.with_for_update() if for_update else stmt).one_or_none()


def set_channel_message(session: Session, seq: int, **values: Any) -> None:
    session.execute(update(channel_messages).where(channel_messages.c.seq == seq).values(**values))


def queue_reply(session: Session, *, comment_id: str, ticket_id: str, account: str, to_user: str, body: str,
                now: datetime) -> None:
    session.execute(insert(channel_outbox).values(
        comment_id=comment_id, ticket_id=ticket_id, account=account, to_user=to_user, body=body, status="pending",
        attempts=0, next_attempt_at=now, created_at=now, last_error=""))


def replies_due(session: Session, now: datetime, limit: int) -> list[int]:
    """Pending replies whose time came, and replies left 'sending' past their lease."""
    return list(session.execute(select(channel_outbox.c.seq).where(
        channel_outbox.c.status.in_(("pending", "sending")), channel_outbox.c.next_attempt_at <= now)
        .order_by(channel_outbox.c.seq).limit(limit)).scalars())


def claim_reply(session: Session, seq: int, now: datetime, lease_until: datetime) -> Any:
    """The row, now 'sending' until `lease_until`, or None when another sender has it."""
    done = session.execute(update(channel_outbox).where(
        channel_outbox.c.seq == seq, channel_outbox.c.status.in_(("pending", "sending")),
        channel_outbox.c.next_attempt_at <= now,
    ).values(status="sending", attempts=channel_outbox.c.attempts + 1, next_attempt_at=lease_until))
    if done.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        return None
    return reply_row(session, seq)


def reply_row(session: Session, seq: int) -> Any:
    return session.execute(select(channel_outbox).where(channel_outbox.c.seq == seq)).one()


def set_reply(session: Session, seq: int, **values: Any) -> None:
    session.execute(update(channel_outbox).where(channel_outbox.c.seq == seq).values(**values))


def replies_of(session: Session, ticket_id: str) -> list[Any]:
    return list(session.execute(select(channel_outbox).where(channel_outbox.c.ticket_id == ticket_id)
                                .order_by(channel_outbox.c.seq)).all())


# -- ticket imports (usecases/imports.py over crmkit.imports)
IMPORTS = ImportStore(import_tables)


def tickets_by_number(session: Session, numbers: list[str]) -> dict[str, str]:
    """Tickets with these numbers (T-000123, as an export of them says): number → ticket id."""
    if not numbers:
        return {}
    rows = session.execute(select(tickets.c.number, tickets.c.id).where(tickets.c.number.in_(list(set(numbers)))))
    return {number: ticket_id for number, ticket_id in rows}


def tickets_by_external_ref(session: Session, refs: list[str]) -> dict[str, str]:
    """Tickets holding any of these external ids (an import's old-system id): ref → ticket id."""
    if not refs:
        return {}
    rows = session.execute(select(tickets.c.external_ref, tickets.c.id).where(
        tickets.c.external_ref.in_(list(set(refs)))).order_by(tickets.c.seq))
    found: dict[str, str] = {}
    for ref, ticket_id in rows:
        found.setdefault(ref, ticket_id)
    return found
