"""A real SMTP server that keeps every message it accepts, for `make run` and tests (aiosmtpd):

    python -m crmkit.smtp_sink --dir var/mail --host 127.0.0.1 --port 1025

Each message becomes one .eml file under the directory, named `<UTC time>-<n>-<hash of its
Message-ID>.eml` so names sort by arrival, and one JSON log line on stdout (file, Message-ID,
envelope sender and recipients, subject, size). A file is written completely (temp file, rename)
before the 250 goes back, so a message the client saw accepted is on disk. SIGTERM or SIGINT
closes the server; a session in the middle of DATA gets no 250, so its client retries.

A bulk send runs the sink on the same cores as the sender, so its cost per message counts
(`KeepingSMTP`): DATA is read in blocks up to the end-of-data line rather than a line at a time
(the same limits: 1,000-octet lines, the data size limit; dots unstuffed), plain `<user@domain>`
paths skip the RFC 5322 parser, and the replies to pipelined commands (RFC 2920) go back in one
write once no further command is waiting. Every byte received is still kept.

Not for production: it accepts any sender and recipient, and delivers nowhere."""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import logging
import os
import re
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from crmkit import logs

log = logs.get("crmkit.smtp_sink")
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)
_STUFFED = re.compile(rb"(?:^|(?<=\r\n))\.")  # a line's leading dot added by the client (RFC 5321 §4.5.2)
_END = b"\r\n.\r\n"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")
LINE_LIMIT = 1001  # RFC 5321 §4.5.3.1.6: 1,000 octets with the CRLF (aiosmtpd's, one more for a stuffed dot)


class Keeper:
    """The aiosmtpd handler: every message to a file and a log line; always 250."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._where = f"{self.directory}{os.sep}"
        self._counter = itertools.count(1)
        self.kept = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        self.keep(data, str(envelope.mail_from or ""), [str(r) for r in envelope.rcpt_tos])
        return "250 OK: kept"

    def keep(self, data: bytes, mail_from: str, rcpt_tos: Sequence[str]) -> Path:
        # Only the Message-ID is needed to name the file; the full header parse (~0.5 ms, a third of
        # the sink's time under a bulk send) only when the log line is written.
        found = _MESSAGE_ID.search(data, 0, max(0, data.find(b"\r\n\r\n")) or len(data))
        message_id = found.group(1).decode("ascii", "replace") if found else ""
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
        digest = hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()[:12]
        name = f"{stamp}-{next(self._counter):06d}-{digest}"
        path = self.directory / f"{name}.eml"
        tmp = f"{self._where}{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)  # readers never see half a message
        self.kept += 1
        if log.isEnabledFor(logging.INFO):
            headers = BytesHeaderParser(policy=default).parsebytes(data)
            log.info("message kept", extra={"fields": {
                "file": path.name, "message_id": str(headers.get("Message-ID", "") or message_id),
                "mail_from": mail_from, "rcpt_to": list(rcpt_tos), "subject": str(headers.get("Subject", "") or ""),
                "bytes": len(data)}})
        return path


class KeepingSMTP(SMTP):
    """aiosmtpd's session with a cheaper DATA, address parse and replies (see the module text);
    its private hooks (`_reader`, `_call_handler_hook`, `_set_post_data_state`) are aiosmtpd
    1.4's, the version requirements.txt pins."""

    # The stream's limit is the longest line readuntil may return: raised so that a whole message
    # comes in one read; lines and commands are still held to their limits (LINE_LIMIT, aiosmtpd's
    # command_size_limit).
    line_length_limit = 1 << 20

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replies: list[bytes] = []

    async def push(self, status: Any) -> None:
        response = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") if isinstance(status, str) else status
        self._replies.append(response + b"\r\n")
        waiting: bytes = getattr(self._reader, "_buffer", b"")  # sent to us and not read yet (asyncio's)
        if b"\n" in waiting:  # another whole command is here: answer it with this one (RFC 2920)
            return
        replies, self._replies = b"".join(self._replies), []
        self._writer.write(replies)
        await self._writer.drain()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        plain = _PLAIN_PATH.match(arg)
        if plain is None:
            return super()._getaddr(arg)
        address = plain.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, arg[plain.end():]

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = bytearray()
        too_much = False
        limit = self.data_size_limit
        while True:
            try:
                data += await self._reader.readuntil(b".\r\n")
            except asyncio.LimitOverrunError as exc:  # no end within a megabyte yet: take what is there
                data += await self._reader.readexactly(exc.consumed)
            except asyncio.CancelledError:  # the connection went away in the middle of DATA: no 250
                self._writer.close()
                raise
            if data.endswith(_END) or data == b".\r\n":
                break
            if limit and len(data) > limit:
                too_much = True
                del data[:-4]  # enough to see the end of data arrive
        body = bytes(data[:-3])  # without the end-of-data line (the last line's CRLF stays)
        del data[:]
        if too_much or (limit and len(body) > limit):
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
        if len(body) >= LINE_LIMIT and max(map(len, body.split(b"\r\n"))) > LINE_LIMIT - 2:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            self._set_post_data_state()
            return
        original = _STUFFED.sub(b"", body) if b"\r\n." in body or body.startswith(b".") else body
        self.envelope.original_content = original
        self.envelope.content = original.decode("utf-8", "surrogateescape") if self._decode_data else original
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class KeepingController(Controller):
    def factory(self) -> SMTP:
        return KeepingSMTP(self.handler, **self.SMTP_kwargs)


def _authenticator(username: str, password: str) -> Callable[..., AuthResult]:
    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == username
              and auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False)
    return check


def controller(directory: Path, host: str = "127.0.0.1", port: int = 1025, *,
               tls: ssl.SSLContext | None = None, implicit_tls: bool = False,
               auth: tuple[str, str] | None = None) -> Controller:
    """A sink not yet started. `tls`: the server's certificate, offered by STARTTLS or, with
    `implicit_tls`, from the first byte (smtps); `auth`: the one login it accepts (TLS only)."""
    kwargs: dict[str, Any] = {"enable_SMTPUTF8": True}
    if tls is not None and implicit_tls:
        kwargs["ssl_context"] = tls
    elif tls is not None:
        kwargs["tls_context"] = tls
    if auth is not None:
        # aiosmtpd only counts STARTTLS as TLS; with implicit TLS every byte is encrypted already
        # (it still warns "AUTH while not requiring TLS" for each session).
        kwargs.update(authenticator=_authenticator(*auth), auth_required=True, auth_require_tls=not implicit_tls)
    return KeepingController(Keeper(directory), hostname=host, port=port, ready_timeout=10.0, **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crmkit.smtp_sink", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("var/mail"), help="where messages are kept")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    args = parser.parse_args(argv)
    logs.configure("smtp-sink", os.environ.get("LOG_LEVEL", "INFO"))
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sink = controller(args.dir, args.host, args.port)
    try:
        sink.start()
    except Exception as exc:  # the port is taken, most often
        print(f"smtp sink: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    log.info("listening", extra={"fields": {"url": f"smtp://{args.host}:{args.port}", "dir": str(args.dir)}})
    stop.wait()
    sink.stop()
    log.info("stopped", extra={"fields": {"kept": sink.handler.kept}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
