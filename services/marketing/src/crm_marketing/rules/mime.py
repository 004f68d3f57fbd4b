"""A wave's mails as the bytes that go over SMTP, built directly (pure).

crmkit.mail.message_bytes builds the same message for one mail; a wave builds a hundred thousand,
so what is the same for every mail of the wave (the From line, the envelope sender) is made once
(`WaveMime`), the subject and display names are RFC 2047-encoded without email.header, and the
result is already dot-stuffed for DATA (RFC 5321 §4.5.2), ending in CRLF, without the final
".". The message reads the same as message_bytes' (a unit test parses both): UTF-8 throughout,
a text part and, with html, multipart/alternative; parts base64 unless ASCII with short lines."""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime

from crmkit.mail import InvalidMail, mailbox

_SPECIALS = re.compile(r'[()<>@,;:\\".\[\]]')
_DOT_LINE = re.compile(rb"^\.", re.MULTILINE)
_WORD_BYTES = 42  # → 56 base64 characters: a word of 68, a "Subject: " line of 77 (RFC 5322: 78)


def encoded_words(value: str) -> str:
    """`value` for a header: as it is when short ASCII, else `=?utf-8?b?…?=` words, folded."""
    if value.isascii() and len(value) <= 60:
        return value
    whole = value.encode("utf-8")
    if len(whole) <= _WORD_BYTES:  # most names and subjects: one word, no walk over the characters
        return f"=?utf-8?b?{base64.b64encode(whole).decode('ascii')}?="
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for ch in value:
        n = len(ch.encode("utf-8"))
        if size + n > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(ch)
        size += n
    if chunk:
        words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words)


def display_address(name: str, address: str) -> str:
    """`name <address>` for the To of an OutgoingMail: the name quoted when it has specials."""
    name = " ".join(name.split())  # no line breaks or runs of blanks from a merge field
    if not name:
        return address
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def _address_header(name: str, address: str) -> str:
    if not name:
        return address
    if not name.isascii():
        return f"{encoded_words(name)} <{address}>"
    return display_address(name, address)


def _part(text: str, subtype: str, boundary: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    if body.isascii() and max(len(line) for line in body.split("\n")) <= 998 and (not boundary or boundary not in body):
        cte, data = "7bit", body.replace("\n", "\r\n").encode("ascii")
    else:
        cte, data = "base64", base64.encodebytes(body.replace("\n", "\r\n").encode("utf-8")).replace(b"\n", b"\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
            .encode("ascii") + data)


class WaveMime:
    """The message bytes of one wave's mails; the sender's address is checked once, here."""

    def __init__(self, sender: str, headers: Mapping[str, str] | None = None) -> None:
        name, self.envelope_from = mailbox(sender, "From")
        self._from = f"From: {_address_header(name, self.envelope_from)}\r\n"
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._date_key = -1
        self._date = ""

    def _date_line(self, at: datetime) -> str:
        key = int(at.timestamp())
        if key != self._date_key:  # the same second for a few hundred mails
            self._date_key, self._date = key, f"Date: {format_datetime(at.replace(microsecond=0))}\r\n"
        return self._date

    def build(self, *, to_name: str, to_address: str, subject: str, text: str, html: str, message_id: str,
              headers: Mapping[str, str], at: datetime) -> bytes:
        """The DATA of one mail (dot-stuffed, no final "."); InvalidMail for a bad address or header."""
        if not to_address.isascii() or any(c in to_address for c in "<>\r\n \t") or "@" not in to_address:
            raise InvalidMail(f"To is not one email address (ASCII user@domain): {to_address!r}")
        if "\r" in subject or "\n" in subject:
            raise InvalidMail("the subject has a line break")
        extra = []
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise InvalidMail(f"header {name!r} has a line break")
            extra.append(f"{name}: {value}\r\n")
        head = (self._from + f"To: {_address_header(' '.join(to_name.split()), to_address)}\r\n"
                f"Subject: {encoded_words(subject)}\r\n" + self._date_line(at) + f"Message-ID: {message_id}\r\n"
                "MIME-Version: 1.0\r\n" + "".join(extra) + self._fixed).encode("ascii")
        if not html:
            data = head + _part(text, "plain", "")
        else:
            boundary = "=_" + hashlib.sha256(message_id.encode()).hexdigest()[:28]
            marker = f"--{boundary}\r\n".encode()
            data = (head + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
                    + marker + _part(text, "plain", boundary) + marker + _part(html, "html", boundary)
                    + f"--{boundary}--\r\n".encode())
        return dot_stuffed(data)


def dot_stuffed(data: bytes) -> bytes:
    """A line that starts with "." gets another one, so only the end of data is a lone dot."""
    return _DOT_LINE.sub(b"..", data) if data.startswith(b".") or b"\n." in data else data
