"""Inbound email, pure: parse one RFC 822 message into what a ticket needs, find the ticket it
answers (our Message-IDs in In-Reply-To / References, then a [T-000123] reference in the
subject), and cut the quoted history below a reply."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from crm.support.v1.support_pb2 import Attachment
from crm_support.rules.tickets import NUMBER
from crmkit.errors import InvalidArgument

MAX_RAW = 10 * 1024 * 1024
_MSG_ID = re.compile(r"<[^<>\s]+>")
_QUOTE_STARTS = (
    re.compile(r"^On .{0,200} wrote:\s*$"),
    re.compile(r"^在.{0,200}写道[:：]\s*$"),
    re.compile(r"^-{2,}\s*(Original Message|原始邮件)\s*-{2,}", re.IGNORECASE),
    re.compile(r"^From:\s.*<[^>]+@[^>]+>"),
    re.compile(r"^发件人[:：]"),
)


@dataclass
class ParsedEmail:
    message_id: str
    sender_email: str
    sender_name: str
    subject: str
    body: str
    references: list[str] = field(default_factory=list)  # In-Reply-To first, then References
    ticket_number: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    auto_reply: bool = False


def _text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
    if part.get_content_subtype() == "html":
        content = re.sub(r"(?is)<(script|style).*?</\1>", "", content)
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = html.unescape(re.sub(r"<[^>]+>", "", content))
    return str(content)


def strip_quoted(body: str) -> str:
    """The new text of a reply: everything above the quoted history."""
    kept: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if any(p.match(stripped) for p in _QUOTE_STARTS):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    text = "\n".join(kept).strip()
    return text or body.strip()


def parse(raw: bytes) -> ParsedEmail:
    if not raw.strip():
        raise InvalidArgument("the message is empty", field="raw")
    if len(raw) > MAX_RAW:
        raise InvalidArgument(f"messages are limited to {MAX_RAW} bytes", field="raw")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    senders = getaddresses([str(msg.get("Reply-To") or msg.get("From") or "")])
    name, address = senders[0] if senders else ("", "")
    if "@" not in address:
        raise InvalidArgument("the message has no sender address (From)", field="raw")
    subject = str(msg.get("Subject") or "").strip()
    refs = _MSG_ID.findall(str(msg.get("In-Reply-To") or "")) + _MSG_ID.findall(str(msg.get("References") or ""))
    number = NUMBER.search(subject) or NUMBER.search(str(msg.get("X-Shuniu-Ticket") or ""))
    attachments = [
        Attachment(file_name=part.get_filename() or "", content_type=part.get_content_type(),
                   size_bytes=len(part.get_payload(decode=True) or b""))
        for part in msg.iter_attachments()
    ]
    auto = str(msg.get("Auto-Submitted") or "no").lower() != "no" or bool(msg.get("X-Autoreply"))
    message_id = (_MSG_ID.findall(str(msg.get("Message-ID") or "")) or [""])[0]
    return ParsedEmail(
        message_id=message_id, sender_email=address.strip().lower(), sender_name=name.strip(),
        subject=subject, body=strip_quoted(_text_of(msg)), references=refs,
        ticket_number=number.group(0) if number else "", attachments=attachments, auto_reply=auto,
    )


def clean_subject(subject: str) -> str:
    """The subject without Re:/Fwd:/回复: prefixes and our [T-000123] tag."""
    subject = NUMBER.sub("", subject).replace("[]", "").replace("[#]", "")
    return re.sub(r"^\s*((re|fw|fwd|回复|答复|转发)\s*[:：]\s*)+", "", subject, flags=re.IGNORECASE).strip()


def outbound_message_id(ticket_id: str, comment_id: str, domain: str = "support.shuniu.local") -> str:
    """The Message-ID we give a public reply, so the customer's answer threads back to it."""
    return f"<{ticket_id}.{comment_id}@{domain}>"
