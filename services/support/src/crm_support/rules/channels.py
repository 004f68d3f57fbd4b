"""WeChat Official Account and WeCom channels, pure: the configured accounts, what a callback
message becomes (a ticket, a customer's comment, a follower), and the 48-hour reply window.

A conversation is one sender on one account: its tickets carry external_ref "<account>:<user>",
so a message joins the open ticket of that conversation or opens the next one."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import support_pb2 as pb
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound
from crmkit.wechat.api import ApiAccount
from crmkit.wechat.protocol import Endpoint, Message, aes_key

PLATFORMS = ("wechat", "wecom")
REPLY_WINDOW = timedelta(hours=48)  # customer-service messages: 48 h after the user's last message
MAX_REPLY = 2000  # characters: the platforms cut a text message at about 2048 bytes' worth
TICKET_MESSAGES = ("text", "image", "voice", "video", "shortvideo", "location", "link", "file")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class ChannelAccount:
    """One configured account (SUPPORT_CHANNEL_ACCOUNTS; secrets come from the environment)."""

    name: str               # the callback URL's last segment
    platform: str           # wechat | wecom
    token: str
    encoding_aes_key: str   # "" : plain mode (wechat only)
    app_id: str             # appid / corpid
    secret: str
    api_base: str
    agent_id: str = ""      # WeCom: the app that receives and replies

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.platform, self.token, self.encoding_aes_key, self.app_id)

    @property
    def api(self) -> ApiAccount:
        return ApiAccount(self.platform, self.app_id, self.secret, self.api_base, self.agent_id)

    @property
    def identity_kind(self) -> str:
        return "external_userid" if self.platform == "wecom" else "openid"


def parse_accounts(raw: str) -> dict[str, ChannelAccount]:
    """The accounts of a JSON list; ValueError naming the entry and field that is wrong."""
    if not raw.strip():
        return {}
    items = json.loads(raw)
    if not isinstance(items, list):
        raise ValueError("SUPPORT_CHANNEL_ACCOUNTS is a JSON list of accounts")
    accounts: dict[str, ChannelAccount] = {}
    for i, item in enumerate(items):
        where = f"SUPPORT_CHANNEL_ACCOUNTS[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} is not an object")
        values = {k: str(item.get(k, "")).strip() for k in
                  ("name", "platform", "token", "encoding_aes_key", "app_id", "secret", "api_base", "agent_id")}
        if not _NAME.match(values["name"]) or values["name"] in accounts:
            raise ValueError(f"{where}.name: a unique lower-case name (a-z 0-9 _ -)")
        if values["platform"] not in PLATFORMS:
            raise ValueError(f"{where}.platform: one of {', '.join(PLATFORMS)}")
        for required in ("token", "app_id", "secret", "api_base"):
            if not values[required]:
                raise ValueError(f"{where}.{required} is required")
        if values["encoding_aes_key"] or values["platform"] == "wecom":
            aes_key(values["encoding_aes_key"])  # ValueError says what is wrong with it
        accounts[values["name"]] = ChannelAccount(**values)
    return accounts


def account_for(accounts: dict[str, ChannelAccount], platform: str, name: str) -> ChannelAccount:
    account = accounts.get(name)
    if account is None or account.platform != platform:
        raise NotFound(f"no {platform} account {name!r} is configured", field="account")
    return account


def conversation(account: str, user: str) -> str:
    return f"{account}:{user}"


def split_conversation(ref: str) -> tuple[str, str]:
    account, _, user = ref.partition(":")
    return account, user


def sent_at(message: Message) -> datetime:
    return datetime.fromtimestamp(message.create_time, UTC)


def identity(account: ChannelAccount, user: str) -> cpb.SocialIdentity:
    return cpb.SocialIdentity(platform=account.platform, app_id=account.app_id, kind=account.identity_kind,
                              value=user, verified_source=f"{account.platform}_callback:{account.name}")


def opens_ticket(message: Message) -> bool:
    return message.msg_type in TICKET_MESSAGES


def body_of(message: Message) -> str:
    if message.msg_type == "text":
        return message.content or "(empty message)"
    if message.msg_type == "image":
        return "[图片 image]"
    return f"[{message.msg_type}]"


def comment_of(message: Message, platform: str) -> pb.Comment:
    comment = pb.Comment(body=body_of(message), channel=platform, author_id=message.from_user, public=True,
                         author_kind="customer")
    if message.msg_type == "image" and message.pic_url:
        comment.attachments.add(file_name=f"{message.media_id or message.msg_id or 'image'}.jpg",
                                content_type="image/jpeg", url=message.pic_url)
    return comment


def ticket_of(message: Message, account: ChannelAccount, contact: cpb.Contact | None) -> pb.Ticket:
    label = "微信" if account.platform == "wechat" else "企业微信"
    first = body_of(message).strip().splitlines()[0] if body_of(message).strip() else ""
    ticket = pb.Ticket(subject=f"{label}: {first}"[:120], description=body_of(message), channel=account.platform,
                       external_ref=conversation(account.name, message.from_user),
                       requester_name=(contact.name if contact is not None and contact.name else message.from_user))
    return ticket


def extend_window(ticket: pb.Ticket, customer_wrote_at: datetime) -> None:
    """The window runs 48 h from the customer's latest message (never shortened by an old one)."""
    ends = customer_wrote_at + REPLY_WINDOW
    if not ticket.HasField("reply_window_ends_at") or ticket.reply_window_ends_at.ToDatetime(UTC) < ends:
        ticket.reply_window_ends_at.FromDatetime(ends)


def check_reply(ticket: pb.Ticket, body: str, now: datetime) -> None:
    """An agent's public reply on a channel ticket: inside the window, and short enough."""
    if not ticket.external_ref:
        raise FailedPrecondition(f"this {ticket.channel} ticket has no conversation to reply to "
                                 "(it was not opened by a message)", field="ticket_id")
    if not ticket.HasField("reply_window_ends_at") or now > ticket.reply_window_ends_at.ToDatetime(UTC):
        ends = ticket.reply_window_ends_at.ToDatetime(UTC).isoformat() if ticket.HasField("reply_window_ends_at") \
            else "never opened"
        raise FailedPrecondition(f"the 48-hour reply window of this {ticket.channel} conversation closed "
                                 f"({ends}); the customer has to write first", field="comment",
                                 reply_window_ends_at=ends)
    if len(body) > MAX_REPLY:
        raise InvalidArgument(f"a {ticket.channel} reply is at most {MAX_REPLY} characters", field="comment.body")
