"""The mail port every service sends through: an `OutgoingMail`, the `Mailer` protocol and its
SMTP adapter (`SmtpMailer.from_url`), the MIME message built from a mail (`message_bytes`, and
`build_message` for it parsed) and deterministic Message-IDs (`make_message_id`). Addresses are
ASCII (display names may be anything: they are RFC 2047-encoded).

Exactly-once delivery is the caller's business: it keeps a send log keyed by a deterministic
Message-ID, so a mail re-sent after a crash between the relay's 250 and the log's commit carries
the same Message-ID as the first copy and a receiver (or an audit) can tell them apart.

URLs: `smtp://host:25` (plain, e.g. the local sink), `smtp+starttls://user:pass@host:587`,
`smtps://user:pass@host:465`. TLS certificates and host names are verified; user and password
are percent-decoded (`p%40ss` is `p@ss`); `?timeout=10` sets the socket timeout in seconds.
Credentials are refused over plain `smtp://`: they would cross the network in clear text."""
from __future__ import annotations

import base64
import contextlib
import email.policy
import hashlib
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import Header
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, make_msgid
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from crmkit import logs
from crmkit.config import ConfigError

log = logs.get("crmkit.mail")

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
DEFAULT_TIMEOUT = 30.0
# A connection idle longer than this is probed with NOOP before use: relays drop idle clients.
IDLE_PROBE_SECONDS = 20.0
# Set by message_bytes from the mail's own fields; a custom header may not replace them.
_RESERVED = frozenset({"from", "to", "cc", "bcc", "subject", "message-id", "date", "reply-to", "mime-version",
                       "content-type", "content-transfer-encoding"})
_headers = HeaderRegistry()


@dataclass(frozen=True)
class OutgoingMail:
    sender: str                      # From: "Name <addr>" or "addr"
    to: str                          # one recipient: "Name <addr>" or "addr"
    subject: str
    text: str
    html: str = ""                   # when set: multipart/alternative (text first, html preferred)
    message_id: str = ""             # "<id@domain>"; made up when empty (then not deterministic)
    headers: Mapping[str, str] = field(default_factory=dict)  # List-Unsubscribe, List-Unsubscribe-Post ...
    reply_to: str = ""
    envelope_from: str = ""          # MAIL FROM (bounce address); the From address when empty
    date: datetime | None = None     # Date:; now when None


class MailRejected(Exception):
    """The relay refused this mail (a recipient, the sender or the content). `permanent` (5xx, or
    a mail that cannot be built) means retrying will not help; 4xx is temporary."""

    def __init__(self, permanent: bool, code: int, message: str) -> None:
        super().__init__(f"{code} {message}" if code else message)
        self.permanent, self.code, self.message = permanent, code, message


class MailUnavailable(Exception):
    """The relay could not be reached, refused our login, or dropped the connection: try later."""


class InvalidMail(ValueError):
    """A mail that cannot become a message (a bad address, a header with a line break)."""


class Mailer(Protocol):
    def send(self, mail: OutgoingMail) -> None: ...


def format_address(name: str, address: str) -> str:
    """`"Wang, Li" <wl@example.com>`: a display name quoted and encoded as the header needs."""
    return str(Address(display_name=name.strip(), addr_spec=address.strip()))


def make_message_id(*parts: str, domain: str) -> str:
    """`<sha256(parts)[:32]@domain>`: the same parts give the same Message-ID in every process."""
    domain = domain.strip().lower()
    if not domain or any(c in domain for c in "<>@ \r\n"):
        raise ValueError(f"not a Message-ID domain: {domain!r}")
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def address_of(value: str, what: str = "address") -> Address:
    """The one address in a header value; InvalidMail when there is none, several, or a bad one."""
    if "\r" in value or "\n" in value:
        raise InvalidMail(f"{what} has a line break")
    parsed = _headers("To", value)  # parsed as an address header whatever it is for
    addresses: tuple[Address, ...] = getattr(parsed, "addresses", ())
    if len(addresses) != 1 or not addresses[0].username or not addresses[0].domain or parsed.defects:
        raise InvalidMail(f"{what} is not one email address: {value!r}")
    return addresses[0]


def domain_of(value: str) -> str:
    """The domain of an address ("Shuniu <no-reply@crm.example>" → "crm.example")."""
    return str(address_of(value).domain).lower()


_ADDR_SPEC = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\Z")


def mailbox(value: str, what: str = "address") -> tuple[str, str]:
    """(display name, address) of the one ASCII address in `value`; InvalidMail otherwise. The
    fast check the sending path uses (the header registry's parse costs ~0.1 ms an address)."""
    if "\r" in value or "\n" in value:
        raise InvalidMail(f"{what} has a line break")
    found = getaddresses([value])
    if len(found) != 1 or not found[0][1].isascii() or not _ADDR_SPEC.match(found[0][1]):
        raise InvalidMail(f"{what} is not one email address (ASCII user@domain): {value!r}")
    return found[0]


def _header(name: str, value: str) -> str:
    if value.isascii() and len(name) + len(value) < 76:
        return f"{name}: {value}\r\n"
    # RFC 2047 encoded words for non-ASCII, folded at 76 columns either way.
    folded = Header(value, "utf-8" if not value.isascii() else "us-ascii", header_name=name).encode(linesep="\r\n")
    return f"{name}: {folded}\r\n"


def _part(text: str, subtype: str, boundary: str) -> bytes:
    """A text part (headers, blank line, body): 7bit when ASCII with short lines, else base64 (7-bit
    safe through any relay, no 8BITMIME needed, a third the size of quoted-printable for Chinese)."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    crlf = body.replace("\n", "\r\n")
    if body.isascii() and max(len(line) for line in body.split("\n")) <= 998 and boundary not in body:
        cte, data = "7bit", crlf.encode("ascii")
    else:
        cte, data = "base64", base64.encodebytes(crlf.encode("utf-8")).replace(b"\n", b"\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
            .encode("ascii") + data)


def message_bytes(mail: OutgoingMail) -> bytes:
    """The message as it goes over SMTP (CRLF lines, 7-bit clean): UTF-8 throughout, display names and
    subjects RFC 2047-encoded, a text part, and multipart/alternative when there is html. Written by
    hand rather than by email.generator, which costs ~1 ms a message (bulk sends make thousands)."""
    sender_name, sender = mailbox(mail.sender, "From")
    lines = [f"From: {formataddr((sender_name, sender), 'utf-8')}\r\n",
             f"To: {formataddr(mailbox(mail.to, 'To'), 'utf-8')}\r\n"]
    if mail.reply_to:
        lines.append(f"Reply-To: {formataddr(mailbox(mail.reply_to, 'Reply-To'), 'utf-8')}\r\n")
    if "\r" in mail.subject or "\n" in mail.subject:
        raise InvalidMail("the subject has a line break")
    message_id = mail.message_id or make_msgid(domain=sender.rsplit("@", 1)[1])
    if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id and message_id.isascii()
            and not any(c in message_id for c in " \r\n")):
        raise InvalidMail(f"a Message-ID looks like <id@domain>, not {message_id!r}")
    lines += [_header("Subject", mail.subject), f"Date: {format_datetime(mail.date or datetime.now(UTC))}\r\n",
              f"Message-ID: {message_id}\r\n", "MIME-Version: 1.0\r\n"]
    for name, value in mail.headers.items():
        if name.lower() in _RESERVED:
            raise InvalidMail(f"{name} is set from the mail itself, not as a custom header")
        if not name or not name.isascii() or any(c in name for c in ":\r\n ") or "\r" in value or "\n" in value:
            raise InvalidMail(f"header {name!r} has a bad name or a line break")
        lines.append(_header(name, value))
    head = "".join(lines).encode("ascii")
    if not mail.html:
        return head + _part(mail.text, "plain", "")
    # From the Message-ID, so a re-sent mail is the same bytes; never inside base64 ("_" is not in its alphabet).
    boundary = "=_" + hashlib.sha256(message_id.encode()).hexdigest()[:28]
    marker = f"--{boundary}\r\n".encode()
    return (head + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
            + marker + _part(mail.text, "plain", boundary) + marker + _part(mail.html, "html", boundary)
            + f"--{boundary}--\r\n".encode())


def build_message(mail: OutgoingMail) -> EmailMessage:
    """The mail as an EmailMessage (what `message_bytes` sends, parsed back), to inspect or re-send."""
    return message_from_bytes(message_bytes(mail), policy=email.policy.SMTP)


# -- SMTP

@dataclass(frozen=True)
class SmtpTarget:
    """A relay URL, parsed: where, how (TLS), who."""

    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def url(self) -> str:
        """The URL without the password (for logs and banners)."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """SMTP_URL → SmtpTarget; ConfigError naming what is wrong."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"SMTP_URL must start with {', '.join(s + '://' for s in SCHEMES)}, not {url.split(':')[0]!r}")
    try:
        port = parts.port or SCHEMES[scheme]
    except ValueError:
        raise ConfigError("SMTP_URL has a bad port") from None
    if not parts.hostname:
        raise ConfigError("SMTP_URL names no host")
    if parts.path not in ("", "/"):
        raise ConfigError("SMTP_URL takes no path")
    timeout = DEFAULT_TIMEOUT
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "timeout":
            raise ConfigError(f"SMTP_URL: unknown parameter {key!r} (only timeout)")
        try:
            timeout = float(value)
        except ValueError:
            raise ConfigError("SMTP_URL: timeout is seconds, e.g. ?timeout=10") from None
        if timeout <= 0:
            raise ConfigError("SMTP_URL: timeout must be positive")
    username, password = unquote(parts.username or ""), unquote(parts.password or "")
    if (username or password) and scheme == "smtp":
        raise ConfigError("SMTP_URL: credentials need TLS (smtp+starttls:// or smtps://), not smtp://")
    return SmtpTarget(scheme, parts.hostname, port, username, password, timeout)


def tls_context(cafile: str | None = None) -> ssl.SSLContext:
    """Certificates and host names verified (the system's trust store, or `cafile`)."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Connection:
    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp, self.used = smtp, time.monotonic()


def open_smtp(t: SmtpTarget, context: ssl.SSLContext | None, *, local_hostname: str | None = None) -> smtplib.SMTP:
    """A logged-in SMTP session to the relay (implicit TLS, STARTTLS or plain, per the URL's
    scheme); MailUnavailable naming the relay when it cannot be reached or refuses us."""
    try:
        smtp: smtplib.SMTP
        if t.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(t.host, t.port, local_hostname=local_hostname, timeout=t.timeout, context=context)
        else:
            smtp = smtplib.SMTP(t.host, t.port, local_hostname=local_hostname, timeout=t.timeout)
        smtp.ehlo()
        if t.scheme == "smtp+starttls":
            if not smtp.has_extn("starttls"):
                smtp.close()
                raise MailUnavailable(f"{t.url} does not offer STARTTLS")
            smtp.starttls(context=context)
            smtp.ehlo()
        if t.username:
            smtp.login(t.username, t.password)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailUnavailable(f"{t.url} refused the login: {exc.smtp_code}") from None
    except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError is an OSError
        raise MailUnavailable(f"{t.url} unreachable: {exc}") from None
    return smtp


class SmtpMailer:
    """A Mailer over SMTP: one kept-open connection per thread (a sender thread reuses it across
    mails), reconnecting when the relay dropped it. Safe to call from several threads."""

    def __init__(self, target: SmtpTarget, *, context: ssl.SSLContext | None = None,
                 local_hostname: str | None = None) -> None:
        self.target = target
        self.context = (context or tls_context()) if target.scheme != "smtp" else None
        self.local_hostname = local_hostname
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[_Connection] = set()

    @classmethod
    def from_url(cls, url: str, *, context: ssl.SSLContext | None = None) -> SmtpMailer:
        """`context`: the TLS trust to use (tests pass one that trusts their own CA)."""
        return cls(parse_smtp_url(url), context=context)

    def __repr__(self) -> str:
        return f"SmtpMailer({self.target.url})"

    def _connect(self) -> _Connection:
        smtp = open_smtp(self.target, self.context, local_hostname=self.local_hostname)
        conn = _Connection(smtp)
        with self._lock:
            self._open.add(conn)
        return conn

    def _drop(self, conn: _Connection) -> None:
        self._local.conn = None
        with self._lock:
            self._open.discard(conn)
        with contextlib.suppress(OSError):
            conn.smtp.close()

    def _connection(self) -> tuple[_Connection, bool]:
        """This thread's connection and whether it was reused (it may have gone stale)."""
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is not None and time.monotonic() - conn.used > IDLE_PROBE_SECONDS:
            try:
                if conn.smtp.noop()[0] != 250:
                    raise smtplib.SMTPServerDisconnected("noop refused")
            except (OSError, smtplib.SMTPException):
                self._drop(conn)
                conn = None
        if conn is not None:
            return conn, True
        conn = self._local.conn = self._connect()
        return conn, False

    def send(self, mail: OutgoingMail) -> None:
        try:
            data = message_bytes(mail)
            sender = mailbox(mail.envelope_from or mail.sender, "envelope sender")[1]
            recipient = mailbox(mail.to, "To")[1]
        except InvalidMail as exc:
            raise MailRejected(True, 0, str(exc)) from None
        for attempt in (1, 2):
            conn, reused = self._connection()
            try:
                self._transact(conn, sender, recipient, data)
                conn.used = time.monotonic()
                return
            except _Stale:
                self._drop(conn)
                if not reused or attempt == 2:
                    raise MailUnavailable(f"{self.target.url} dropped the connection") from None
            except MailRejected as exc:
                if exc.code == 421:  # the relay is closing this connection
                    self._drop(conn)
                raise
            except (OSError, smtplib.SMTPException) as exc:
                # During or after DATA: the relay may or may not have the mail. Not retried here;
                # the caller's send log retries it with the same Message-ID.
                self._drop(conn)
                raise MailUnavailable(f"{self.target.url}: {exc}") from None

    def _transact(self, conn: _Connection, sender: str, recipient: str, data: bytes) -> None:
        smtp = conn.smtp
        try:
            code, reply = smtp.mail(sender)
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise _Stale() from exc  # nothing was handed over yet: safe to retry on a new connection
        if code != 250:
            self._reset(smtp)
            raise MailRejected(code >= 500, code, _text(reply))
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            self._reset(smtp)
            raise MailRejected(code >= 500, code, _text(reply))
        try:
            code, reply = smtp.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354): nothing was handed over
            self._reset(smtp)
            raise MailRejected(exc.smtp_code >= 500, exc.smtp_code, _text(exc.smtp_error)) from None
        if code != 250:
            raise MailRejected(code >= 500, code, _text(reply))

    @staticmethod
    def _reset(smtp: smtplib.SMTP) -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.rset()

    def close(self) -> None:
        """QUIT every open connection (at stop, once the sending threads are done)."""
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            try:
                conn.smtp.quit()
            except (OSError, smtplib.SMTPException):
                conn.smtp.close()
        self._local = threading.local()


class _Stale(Exception):
    """The kept-open connection was gone before anything was handed over."""


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def mailer_from_settings(url: str | None, *, context: ssl.SSLContext | None = None) -> SmtpMailer | None:
    """The SMTP mailer of SMTP_URL, or None (and a log line saying so) when mail is off."""
    if not url:
        log.info("SMTP_URL is not set: this process sends no mail")
        return None
    mailer = SmtpMailer.from_url(url, context=context)
    log.info("mail goes through %s", mailer.target.url)
    return mailer
