"""The mail port every service sends through: an `OutgoingMail`, the `Mailer` protocol and its
SMTP adapter (`SmtpMailer.from_url`), the MIME message built from a mail (`build_message`) and
deterministic Message-IDs (`make_message_id`).

Exactly-once delivery is the caller's business: it keeps a send log keyed by a deterministic
Message-ID, so a mail re-sent after a crash between the relay's 250 and the log's commit carries
the same Message-ID as the first copy and a receiver (or an audit) can tell them apart.

URLs: `smtp://host:25` (plain, e.g. the local sink), `smtp+starttls://user:pass@host:587`,
`smtps://user:pass@host:465`. TLS certificates and host names are verified; user and password
are percent-decoded (`p%40ss` is `p@ss`); `?timeout=10` sets the socket timeout in seconds.
Credentials are refused over plain `smtp://`: they would cross the network in clear text."""
from __future__ import annotations

import contextlib
import email.policy
import hashlib
import smtplib
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from crmkit import logs
from crmkit.config import ConfigError

log = logs.get("crmkit.mail")

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
DEFAULT_TIMEOUT = 30.0
# A connection idle longer than this is probed with NOOP before use: relays drop idle clients.
IDLE_PROBE_SECONDS = 20.0
# Set by build_message from the mail's own fields; a custom header may not replace them.
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


def _body(msg: EmailMessage, text: str, subtype: str, *, alternative: bool) -> None:
    # base64 for non-ASCII: 7-bit safe through any relay (no 8BITMIME needed) and a third the size
    # of quoted-printable for Chinese.
    cte = "7bit" if text.isascii() else "base64"
    if alternative:
        msg.add_alternative(text, subtype=subtype, charset="utf-8", cte=cte)
    else:
        msg.set_content(text, subtype=subtype, charset="utf-8", cte=cte)


def build_message(mail: OutgoingMail) -> EmailMessage:
    """The MIME message: UTF-8 throughout (display names and subjects RFC 2047-encoded), a text
    part, and multipart/alternative with the html when there is html."""
    msg = EmailMessage(policy=email.policy.SMTP)
    sender = address_of(mail.sender, "From")
    msg["From"] = sender
    msg["To"] = address_of(mail.to, "To")
    if mail.reply_to:
        msg["Reply-To"] = address_of(mail.reply_to, "Reply-To")
    if "\r" in mail.subject or "\n" in mail.subject:
        raise InvalidMail("the subject has a line break")
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.date or datetime.now(UTC))
    message_id = mail.message_id or make_msgid(domain=str(sender.domain))
    if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id):
        raise InvalidMail(f"a Message-ID looks like <id@domain>, not {message_id!r}")
    msg["Message-ID"] = message_id
    for name, value in mail.headers.items():
        if name.lower() in _RESERVED:
            raise InvalidMail(f"{name} is set from the mail itself, not as a custom header")
        if not name or any(c in name for c in ":\r\n ") or "\r" in value or "\n" in value:
            raise InvalidMail(f"header {name!r} has a bad name or a line break")
        msg[name] = value
    _body(msg, mail.text, "plain", alternative=False)
    if mail.html:
        _body(msg, mail.html, "html", alternative=True)
    return msg


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
        t = self.target
        try:
            smtp: smtplib.SMTP
            if t.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(t.host, t.port, local_hostname=self.local_hostname, timeout=t.timeout,
                                        context=self.context)
            else:
                smtp = smtplib.SMTP(t.host, t.port, local_hostname=self.local_hostname, timeout=t.timeout)
            smtp.ehlo()
            if t.scheme == "smtp+starttls":
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise MailUnavailable(f"{t.url} does not offer STARTTLS")
                smtp.starttls(context=self.context)
                smtp.ehlo()
            if t.username:
                smtp.login(t.username, t.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailUnavailable(f"{t.url} refused the login: {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError is an OSError
            raise MailUnavailable(f"{t.url} unreachable: {exc}") from None
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
            msg = build_message(mail)
        except (InvalidMail, ValueError) as exc:
            raise MailRejected(True, 0, str(exc)) from None
        sender = str(address_of(mail.envelope_from or mail.sender, "envelope sender").addr_spec)
        recipient = str(address_of(mail.to).addr_spec)
        for attempt in (1, 2):
            conn, reused = self._connection()
            try:
                self._transact(conn, sender, recipient, msg)
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

    def _transact(self, conn: _Connection, sender: str, recipient: str, msg: EmailMessage) -> None:
        smtp = conn.smtp
        utf8 = not (sender.isascii() and recipient.isascii())
        if utf8 and not smtp.has_extn("smtputf8"):
            raise MailRejected(True, 553, "the relay cannot take non-ASCII addresses (no SMTPUTF8)")
        try:
            code, reply = smtp.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"] if utf8 else [])
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise _Stale() from exc  # nothing was handed over yet: safe to retry on a new connection
        if code != 250:
            self._reset(smtp)
            raise MailRejected(code >= 500, code, _text(reply))
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            self._reset(smtp)
            raise MailRejected(code >= 500, code, _text(reply))
        policy = email.policy.SMTPUTF8 if utf8 else email.policy.SMTP
        code, reply = smtp.data(msg.as_bytes(policy=policy))
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
