"""WeChat / WeCom intake. A callback is verified and opened before any transaction (`open_callback`),
then taken once (`take`: one row per account and MsgId, so a redelivery or a replay changes
nothing) and answered at once, as the platforms expect. The channel worker then handles each
taken message: it asks contacts for the sender (`prepare`, outside the transaction; by openid /
external_userid, a new contact when unknown) and, in one unit of work (`handle`), appends it to the
open ticket of that conversation or opens one, or records the follower of a campaign's QR code."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import events_pb2 as ev
from crm.support.v1 import support_pb2 as pb
from crm_support import store
from crm_support.events import SUPPORT, emit
from crm_support.metrics import CHANNEL_CALLBACKS
from crm_support.ports import ContactsPort
from crm_support.rules import channels as rules
from crm_support.rules import intake
from crm_support.usecases import tickets
from crmkit import logs
from crmkit.auth import SYSTEM
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied
from crmkit.wechat.protocol import BadCallback, Message

log = logs.get("crm_support.channels")
CONTACT_ATTEMPTS = 5  # contacts unreachable this often: the ticket opens without a contact
# A signed callback older (or newer) than this is refused: the platform retries within seconds, and
# a replay of an old one must not outlive the MsgIds kept for taking each message once (30 days).
REPLAY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Opened:
    account: rules.ChannelAccount
    message: Message | None = None  # None: a URL verification, answered with `reply`
    reply: str = ""


def _check_fresh(query: dict[str, str], now: datetime) -> None:
    try:
        signed_at = datetime.fromtimestamp(int(query.get("timestamp", "")), UTC)
    except (ValueError, OverflowError, OSError):
        raise BadCallback("timestamp is not a number of seconds", field="timestamp") from None
    if abs(now - signed_at) > REPLAY_WINDOW:
        raise BadCallback("timestamp is more than 24 hours away: a replayed or misdated callback",
                          field="timestamp", signature=True)


def open_callback(accounts: dict[str, rules.ChannelAccount], request: pb.ChannelCallbackRequest, *,
                  now: datetime) -> Opened:
    """The verified message (or URL check answer); PermissionDenied for a bad signature or a
    callback signed too long ago."""
    try:
        account = rules.account_for(accounts, request.platform, request.account)
    except NotFound:
        CHANNEL_CALLBACKS.labels(request.platform, "unknown_account").inc()
        raise
    query = dict(request.query)
    try:
        if request.method == "POST":
            opened = Opened(account, account.endpoint.open(query, request.body))
            _check_fresh(query, now)  # after the signature: the timestamp is signed
            return opened
        if request.method == "GET":
            return Opened(account, reply=account.endpoint.verify_url(query))
        raise InvalidArgument("a callback is a GET or a POST", field="method")
    except BadCallback as bad:
        outcome = "bad_signature" if bad.signature else "malformed"
        CHANNEL_CALLBACKS.labels(request.platform, outcome).inc()
        log.warning("refused a %s callback for account %s: %s (%s)", request.platform, request.account, bad,
                    outcome)
        if bad.signature:
            raise PermissionDenied(str(bad), field=bad.field) from None
        raise InvalidArgument(str(bad), field=bad.field) from None


def verified(opened: Opened) -> pb.ChannelCallbackResponse:
    """The URL check's answer: the echostr (decrypted, for WeCom)."""
    if opened.message is not None:
        raise InvalidArgument("a URL check is a GET with echostr", field="method")
    CHANNEL_CALLBACKS.labels(opened.account.platform, "verified").inc()
    return pb.ChannelCallbackResponse(reply=opened.reply)


def take(uow: UnitOfWork, *, opened: Opened, now: datetime) -> pb.ChannelCallbackResponse:
    account, message = opened.account, opened.message
    if message is None:
        return verified(opened)
    reply = "success" if account.platform == "wechat" else ""
    fresh = store.take_channel_message(
        uow.session, account=account.name, dedup_key=message.dedup_key[:200], platform=account.platform,
        from_user=message.from_user[:128], msg_type=message.msg_type[:20], message=asdict(message), now=now)
    CHANNEL_CALLBACKS.labels(account.platform, "taken" if fresh else "duplicate").inc()
    return pb.ChannelCallbackResponse(reply=reply, duplicate=not fresh, msg_type=message.msg_type)


# -- the channel worker's side

@dataclass(frozen=True)
class Prepared:
    seq: int
    account: rules.ChannelAccount
    message: Message
    contact: cpb.Contact | None
    error: str = ""  # contacts did not answer: try again later (unless out of attempts)


def due(session: Session, *, now: datetime, limit: int = 50) -> list[int]:
    return store.channel_messages_due(session, now, limit)


def _needs_contact(session: Session, account: rules.ChannelAccount, message: Message) -> bool:
    if message.event in ("subscribe", "scan"):
        return True
    if not rules.opens_ticket(message):
        return False
    return store.ticket_by_ref(session, account.platform, rules.conversation(account.name, message.from_user)) is None


def prepare(session: Session, contacts: ContactsPort | None, accounts: dict[str, rules.ChannelAccount], *,
            seq: int) -> Prepared | None:
    """The message and its sender's contact (asked of contacts only when a ticket or a follower
    needs one). None when the row is gone or handled, or its account is no longer configured."""
    row = store.channel_message(session, seq)
    if row is None or row.status != "pending" or row.account not in accounts:
        return None
    account, message = accounts[row.account], Message(**json.loads(row.message))
    if contacts is None or not _needs_contact(session, account, message):
        return Prepared(seq, account, message, None)
    try:
        contact = contacts.find_or_create_identity(rules.identity(account, message.from_user),
                                                   f"{'微信用户' if account.platform == 'wechat' else '企业微信用户'} "
                                                   f"{message.from_user[-6:]}")
    except Exception as exc:  # noqa: BLE001 - ContactsUnavailable or a bug: contacts must not lose the message
        return Prepared(seq, account, message, None, error=f"contacts: {exc or type(exc).__name__}")
    return Prepared(seq, account, message, contact)


def postpone(uow: UnitOfWork, *, seq: int, now: datetime, error: str) -> bool:
    """Contacts did not answer: try again after 1, 2, 4 ... minutes; False once out of attempts
    (the caller then handles the message without a contact)."""
    row = store.channel_message(uow.session, seq, for_update=True)
    if row is None or row.status != "pending":
        return True
    if row.attempts + 1 >= CONTACT_ATTEMPTS:
        return False
    store.set_channel_message(uow.session, seq, attempts=row.attempts + 1, last_error=error[:2000],
                              next_attempt_at=now + timedelta(minutes=2 ** row.attempts))
    return True


def handle(uow: UnitOfWork, *, prepared: Prepared, now: datetime) -> str:
    """The message's effect, once (the row is locked and marked done); returns the outcome."""
    row = store.channel_message(uow.session, prepared.seq, for_update=True)
    if row is None or row.status != "pending":
        return "already_handled"
    account, message, ticket_id = prepared.account, prepared.message, ""
    if rules.opens_ticket(message):
        ticket_id, outcome = _to_ticket(uow, account, message, prepared.contact, now)
    elif message.event in ("subscribe", "scan"):
        outcome = "followed"
        emit(uow, SYSTEM, SUPPORT.CHANNEL_FOLLOWED, f"{account.name}:{message.from_user}", 1, ev.ChannelFollowed(
            platform=account.platform, account=account.name, contact_id=prepared.contact.id if prepared.contact else "",
            scene=message.scene, new_follower=message.event == "subscribe", external_user_id=message.from_user,
            at=_ts(rules.sent_at(message))), now)
    else:
        outcome = message.event or message.msg_type  # unsubscribe, menu clicks ...: recorded, nothing opens
    store.set_channel_message(uow.session, prepared.seq, status="done", ticket_id=ticket_id,
                              last_error=prepared.error[:2000])
    return outcome


def _ts(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def _to_ticket(uow: UnitOfWork, account: rules.ChannelAccount, message: Message, contact: cpb.Contact | None,
               now: datetime) -> tuple[str, str]:
    ref = rules.conversation(account.name, message.from_user)
    comment = rules.comment_of(message, account.platform)
    wrote_at = rules.sent_at(message)
    existing = store.ticket_by_ref(uow.session, account.platform, ref)
    if existing is not None:
        ticket, _ = tickets.add_comment(uow, principal=SYSTEM, now=now, key=existing.id, comment=comment,
                                        author_kind="customer", customer_wrote_at=wrote_at)
        return ticket.id, "threaded"
    ticket = rules.ticket_of(message, account, contact)
    intake.fill_customer(ticket, contact)
    rules.extend_window(ticket, wrote_at)
    opened = tickets.open_ticket(uow, principal=SYSTEM, now=now, ticket=ticket, first_comment=comment)
    return opened.id, "new_ticket"
