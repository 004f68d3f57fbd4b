"""Other services as marketing needs them: a `Protocol` per port and its adapter.

Contacts is asked for a segment's members when a wave freezes its audience, to record consent
decisions (an unsubscribe, a form's ticked checkbox), and to find or create the contact of a
form's email; sales to capture leads (a form submission, a marketing-qualified contact). None of
these has a user behind it in the other service's sense (marketing must reach every member,
whoever owns them; a form or an unsubscribe comes from the public), so all run with this
service's own credentials (crmkit.credentials), and every write carries an idempotency key. Mail
goes through crmkit.mail's `Mailer`; a relay that can also say whether it already took a
Message-ID (an `AcceptedCheck`) lets the sender skip a re-send after a crash. Waves go through
`SmtpRounds` (a `Staging` relay): several connections in lockstep, the end of data held back until
the sender's send log committed."""
from __future__ import annotations

import contextlib
import json
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import grpc

from crm.common.v1.types_pb2 import PageRequest
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.sales.v1 import sales_pb2 as spb
from crm.sales.v1.sales_pb2_grpc import SalesServiceStub
from crm_marketing.rules.mime import dot_stuffed
from crmkit.credentials import ServiceCredentials
from crmkit.errors import ERROR_DETAILS_KEY, ERROR_FIELD_KEY, DomainError, NotFound, decode_field
from crmkit.grpc_client import GrpcPort
from crmkit.grpc_server import IDEMPOTENCY_KEY
from crmkit.mail import (
    IDLE_PROBE_SECONDS,
    InvalidMail,
    Mailer,
    MailRejected,
    MailUnavailable,
    OutgoingMail,
    SmtpTarget,
    mailbox,
    message_bytes,
    open_smtp,
    parse_smtp_url,
    tls_context,
)

__all__ = ["AcceptedCheck", "ContactGone", "ContactRefused", "ContactsPort", "ContactsUnavailable",
           "DependencyUnavailable", "GrpcContacts", "GrpcSales", "LeadRefused", "MailRejected", "MailUnavailable",
           "Mailer", "OutgoingMail", "NotHandedOver", "SalesPort", "SalesUnavailable", "SmtpRounds", "Staging"]

SEGMENT_PAGE = 1000


class ContactsUnavailable(Exception):
    """Contacts did not answer (retried later by whoever asked)."""


class ContactGone(Exception):
    """Contacts no longer has this contact (deleted, erased): nothing left to record."""


class ContactRefused(Exception):
    """Contacts refused what we sent (its validation): retrying the same call cannot help."""


class SalesUnavailable(Exception):
    """Sales did not answer (retried later)."""


class LeadRefused(Exception):
    """Sales refused the lead (its validation or rules): retrying the same call cannot help."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class DependencyUnavailable(DomainError):
    """A service we depend on did not answer: UNAVAILABLE, so the caller retries."""

    status = grpc.StatusCode.UNAVAILABLE
    title = "Service unavailable"


class ContactsPort(Protocol):
    def segment_pages(self, segment_id: str) -> Iterator[Sequence[cpb.Contact]]:
        """Every member, a page at a time as contacts lists them (NotFound naming the segment;
        DependencyUnavailable when contacts is away): a freeze never holds a big segment at once."""
        ...

    def record_consent(self, contact_id: str, consent: cpb.Consent, *, key: str) -> None:
        """Record one consent decision; `key` makes a retry change nothing (ContactGone,
        ContactRefused, ContactsUnavailable)."""
        ...

    def find_by_email(self, email: str) -> str | None:
        """The id of the contact with this email, None when there is none (ContactsUnavailable)."""
        ...

    def create_contact(self, contact: cpb.Contact, *, key: str) -> str:
        """Create it (or, with the same key, answer the one created before): its id
        (ContactRefused, ContactsUnavailable)."""
        ...


class SalesPort(Protocol):
    def capture_lead(self, lead: spb.Lead, *, form_id: str, key: str) -> spb.Lead:
        """The lead sales created (or, with the same key, created before) (LeadRefused,
        SalesUnavailable)."""
        ...


@runtime_checkable
class AcceptedCheck(Protocol):
    def accepted(self, message_id: str) -> bool | None:
        """True when the relay already took a mail with this Message-ID, None when it cannot tell."""
        ...


class GrpcContacts(GrpcPort):
    stub = ContactsServiceStub

    def __init__(self, addr: str, credentials: ServiceCredentials, timeout: float = 10.0) -> None:
        super().__init__(addr, timeout)
        self.credentials = credentials

    def _metadata(self) -> list[tuple[str, str]]:
        authorization = self.credentials.authorization()
        if not authorization:
            raise DependencyUnavailable("marketing has no service credential to call contacts (JWT_SECRET or "
                                        "SERVICE_TOKEN_FILE)")
        return [("authorization", authorization)]

    def segment_pages(self, segment_id: str) -> Iterator[Sequence[cpb.Contact]]:
        md = self._metadata()
        token = ""
        while True:
            request = cpb.ListSegmentMembersRequest(segment_id=segment_id,
                                                    page=PageRequest(page_size=SEGMENT_PAGE, page_token=token))
            try:
                page = self.client.call("ListSegmentMembers", request, metadata=md)
            except grpc.RpcError as exc:
                if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                    raise NotFound(f"segment {segment_id} not found", field="audience.segment_ids") from None
                raise DependencyUnavailable(f"contacts did not list segment {segment_id}: {exc.code().name}") from None
            yield page.contacts
            token = page.page.next_page_token
            if not token:
                return

    def record_consent(self, contact_id: str, consent: cpb.Consent, *, key: str) -> None:
        try:
            md = self._metadata()
        except DependencyUnavailable as exc:
            raise ContactsUnavailable(exc.message) from None
        try:
            self.client.call("RecordConsent", cpb.RecordConsentRequest(contact_id=contact_id, consent=consent),
                             metadata=[*md, (IDEMPOTENCY_KEY, key)])
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise ContactGone(contact_id) from None
            # its validation (an unknown purpose, say): the same call again cannot help. A permission
            # denied is left to retry: a service's roles are configuration, fixed without a new call.
            if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
                raise ContactRefused(f"{exc.code().name}: {exc.details()}") from None
            raise ContactsUnavailable(exc.code().name) from None

    def find_by_email(self, email: str) -> str | None:
        md = self._service_metadata()
        try:
            found = self.client.call("FindContactByEmail", cpb.FindContactByEmailRequest(email=email), metadata=md)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise ContactsUnavailable(exc.code().name) from None
        return str(found.id) or None

    def create_contact(self, contact: cpb.Contact, *, key: str) -> str:
        md = self._service_metadata()
        try:
            created = self.client.call("CreateContact", cpb.CreateContactRequest(contact=contact),
                                       metadata=[*md, (IDEMPOTENCY_KEY, key)])
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.ALREADY_EXISTS:  # someone created it meanwhile: use theirs
                existing = _existing_id(exc)
                if existing:
                    return existing
            if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
                        grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.ALREADY_EXISTS):
                raise ContactRefused(f"{code.name}: {exc.details()}") from None
            raise ContactsUnavailable(code.name) from None
        return str(created.id)

    def _service_metadata(self) -> list[tuple[str, str]]:
        try:
            return self._metadata()
        except DependencyUnavailable as exc:
            raise ContactsUnavailable(exc.message) from None


def _trailer(exc: grpc.RpcError, key: str) -> str:
    value = next((m.value for m in exc.trailing_metadata() or () if m.key == key), "")
    return value if isinstance(value, str) else ""


def _existing_id(exc: grpc.RpcError) -> str:
    try:
        details = json.loads(_trailer(exc, ERROR_DETAILS_KEY) or "{}")
    except ValueError:
        return ""
    existing = details.get("existing_id", "") if isinstance(details, dict) else ""
    return existing if isinstance(existing, str) else ""


class GrpcSales(GrpcPort):
    """Sales at SALES_SERVICE_ADDR, with this service's own credentials."""

    stub = SalesServiceStub

    def __init__(self, addr: str, credentials: ServiceCredentials, timeout: float = 10.0) -> None:
        super().__init__(addr, timeout)
        self.credentials = credentials

    def capture_lead(self, lead: spb.Lead, *, form_id: str, key: str) -> spb.Lead:
        authorization = self.credentials.authorization()
        if not authorization:
            raise SalesUnavailable("marketing has no service credential to call sales (JWT_SECRET or "
                                   "SERVICE_TOKEN_FILE)")
        try:
            created = self.client.call("CaptureLead", spb.CaptureLeadRequest(lead=lead, form_id=form_id),
                                       metadata=[("authorization", authorization), (IDEMPOTENCY_KEY, key)])
        except grpc.RpcError as exc:
            code = exc.code()
            if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
                        grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
                raise LeadRefused(exc.details() or code.name, decode_field(_trailer(exc, ERROR_FIELD_KEY))) from None
            raise SalesUnavailable(code.name) from None
        lead_out: spb.Lead = created
        return lead_out


# -- the relay, for waves: several connections driven in lockstep, the end of data held back


class NotHandedOver(MailUnavailable):
    """The connection failed before the end of data went out: the relay discarded the mail."""


@runtime_checkable
class Staging(Protocol):
    """A relay a wave's mails are handed to in rounds (SmtpRounds). `exchange` ends the mails the
    last exchange staged (the rest of their DATA and the end of data: the caller committed its
    send log in between) and stages the new round, one mail per connection, up to the relay's 354;
    `finish` ends what is staged without staging more."""

    connections: int

    def exchange(self, mails: Sequence[Staged]) -> tuple[list[Exception | None], list[Exception | None]]:
        """(per mail the last exchange staged, in order: None, the relay took it, or why not;
        per new mail: None, staged, or the MailRejected / MailUnavailable that stopped it)."""
        ...

    def finish(self) -> list[Exception | None]:
        """`exchange([])`'s answers: the end of data of what is staged."""
        ...

    def discard(self) -> None:
        """Drop what is staged without ending it (its send log never committed): the relay
        discards a mail whose DATA never ended."""
        ...

    def close(self) -> None: ...


class Staged(Protocol):
    @property
    def envelope_from(self) -> str: ...  # MAIL FROM

    @property
    def address(self) -> str: ...  # RCPT TO

    @property
    def data(self) -> bytes: ...  # DATA, dot-stuffed, without the final "."


class _Line:
    """One SMTP connection (smtplib for the greeting, TLS and login; raw commands after)."""

    def __init__(self, smtp: smtplib.SMTP, pipelining: bool) -> None:
        self.smtp, self.pipelining, self.used = smtp, pipelining, time.monotonic()

    def send(self, data: bytes) -> None:
        self.smtp.send(data)

    def reply(self) -> tuple[int, str]:
        code, text = self.smtp.getreply()
        return code, text.decode("utf-8", "replace")


class SmtpRounds:
    """`connections` SMTP connections to SMTP_URL, driven by one thread in lockstep: each command
    goes out on every connection before any reply is read, so the relay works on all of them while
    we wait for the first (and with PIPELINING, MAIL, RCPT and DATA go out together). Also a plain
    `Mailer` (`send`), one mail at a time."""

    def __init__(self, target: SmtpTarget, connections: int = 8, *, context: ssl.SSLContext | None = None) -> None:
        self.target, self.connections = target, max(1, connections)
        self.context = (context or tls_context()) if target.scheme != "smtp" else None
        self._lines: list[_Line | None] = [None] * self.connections
        self._staged: list[tuple[int, bytes]] = []  # (connection, DATA) of each mail staged, in order

    @classmethod
    def from_url(cls, url: str, connections: int = 8, *, context: ssl.SSLContext | None = None) -> SmtpRounds:
        return cls(parse_smtp_url(url), connections, context=context)

    def __repr__(self) -> str:
        return f"SmtpRounds({self.target.url}, {self.connections} connections)"

    def _connect(self) -> _Line:
        smtp = open_smtp(self.target, self.context)
        with contextlib.suppress(OSError):  # the end of data is a small write after a big one: no Nagle wait
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Line(smtp, smtp.has_extn("pipelining"))

    def _line(self, i: int) -> _Line:
        line = self._lines[i]
        if line is not None and time.monotonic() - line.used > IDLE_PROBE_SECONDS:
            try:  # relays drop idle clients: find out before a mail depends on it
                line.send(b"NOOP\r\n")
                if line.reply()[0] != 250:
                    raise OSError("NOOP refused")
            except (OSError, smtplib.SMTPException):
                self._drop(i)
                line = None
        if line is None:
            line = self._lines[i] = self._connect()
        return line

    def _drop(self, i: int) -> None:
        line, self._lines[i] = self._lines[i], None
        if line is not None:
            with contextlib.suppress(OSError):
                line.smtp.close()

    def exchange(self, mails: Sequence[Staged]) -> tuple[list[Exception | None], list[Exception | None]]:
        """One write and one read per connection: the end of the mail staged on it last time (its
        DATA and the final "."), then, pipelined behind it (RFC 2920 lets message content open a
        group), the next mail's MAIL, RCPT and DATA; the relay's answers to all of them together."""
        if len(mails) > self.connections:
            raise ValueError(f"at most {self.connections} mails a round")
        ending, self._staged = self._staged, []
        body: dict[int, bytes] = dict(ending)
        answers: dict[int, Exception | None] = {}  # per connection ending a mail, once known
        errors: list[Exception | None] = [None] * len(mails)
        refused: list[Exception | None] = [None] * len(mails)  # a refusal whose later replies are still due
        for k in range(len(mails)):
            if k in body:
                continue  # open DATA on it: no probe (a NOOP would be mail text), it is in use anyway
            try:
                self._line(k)
            except MailUnavailable as exc:
                errors[k] = exc
        mail_from = [f"MAIL FROM:<{m.envelope_from}>\r\n".encode("ascii") for m in mails]
        rcpt_to = [f"RCPT TO:<{m.address}>\r\n".encode("ascii") for m in mails]
        ks = sorted(set(range(len(mails))) | set(body))

        def each(step: Callable[[int, _Line], None]) -> None:
            for k in ks:
                line = self._lines[k]
                busy = k < len(mails) and errors[k] is None
                if line is None or not (busy or (k in body and k not in answers)):
                    continue
                try:
                    step(k, line)
                except (OSError, smtplib.SMTPException) as exc:  # the new mail: nothing handed over
                    self._drop(k)
                    if k < len(mails) and errors[k] is None:
                        errors[k] = MailUnavailable(f"{self.target.url}: {exc}")
                    if k in body and k not in answers:  # did the end of data go out? ask() tells
                        answers[k] = MailUnavailable(f"{self.target.url}: no answer after the end of data: {exc}")

        def answer(k: int, line: _Line, good: tuple[int, ...]) -> bool:
            code, text = line.reply()
            if code not in good and refused[k] is None:
                refused[k] = MailRejected(code >= 500, code, text)
            if refused[k] is None:
                return True
            if not line.pipelining or good == (354,):  # no more replies due on this connection
                errors[k] = refused[k]
                if code == 354:  # it took DATA after all: abort by closing, never an empty mail
                    self._drop(k)
                else:
                    line.send(b"RSET\r\n")
                    line.reply()
            return False

        def ask(k: int, line: _Line) -> None:
            end = body[k] + b".\r\n" if k in body else b""
            new = k < len(mails) and errors[k] is None
            command = (mail_from[k] + rcpt_to[k] + b"DATA\r\n" if line.pipelining else mail_from[k]) if new else b""
            try:
                line.send(end + command if line.pipelining or not end else end)
            except (OSError, smtplib.SMTPException) as exc:
                if end:  # the end of data may not have gone out: the relay discards such a mail
                    answers[k] = NotHandedOver(f"{self.target.url}: {exc}")
                raise

        def after_end(k: int, line: _Line) -> None:
            if k in body and k not in answers:
                code, text = line.reply()
                line.used = time.monotonic()
                answers[k] = None if code == 250 else MailRejected(code >= 500, code, text)
                if code == 421:
                    raise smtplib.SMTPServerDisconnected(text)
                if not line.pipelining and k < len(mails) and errors[k] is None:
                    line.send(mail_from[k])

        def after_mail(k: int, line: _Line) -> None:
            if k < len(mails) and errors[k] is None and answer(k, line, (250,)) and not line.pipelining:
                line.send(rcpt_to[k])

        def after_rcpt(k: int, line: _Line) -> None:
            if k < len(mails) and errors[k] is None and answer(k, line, (250, 251)) and not line.pipelining:
                line.send(b"DATA\r\n")

        def after_data(k: int, line: _Line) -> None:
            if k < len(mails) and errors[k] is None and answer(k, line, (354,)):
                self._staged.append((k, mails[k].data))  # the rest goes with the next exchange

        # each command on every connection before any reply is read: the relay works on all at once
        for step in (ask, after_end, after_mail, after_rcpt, after_data):
            each(step)
        return [answers.get(k, NotHandedOver(f"{self.target.url}: connection lost")) for k, _ in ending], errors

    def finish(self) -> list[Exception | None]:
        return self.exchange([])[0]

    def discard(self) -> None:
        staged, self._staged = self._staged, []
        for k, _ in staged:
            self._drop(k)  # closed mid-DATA; a QUIT would only be more mail text

    def send(self, mail: OutgoingMail) -> None:
        """One mail (the Mailer protocol), on the first connection."""
        try:
            data = dot_stuffed(message_bytes(mail))
            one = _One(mailbox(mail.envelope_from or mail.sender, "envelope sender")[1], mailbox(mail.to, "To")[1], data)
        except InvalidMail as exc:
            raise MailRejected(True, 0, str(exc)) from None
        error = self.exchange([one])[1][0]
        if error is not None:
            raise error
        error = self.finish()[0]
        if error is not None:
            raise error

    def close(self) -> None:
        self.discard()
        for i, line in enumerate(self._lines):
            if line is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    line.smtp.quit()
                self._drop(i)


@dataclass(frozen=True)
class _One:
    envelope_from: str
    address: str
    data: bytes

