"""A real SMTP server that keeps every message it accepts, for `make run` and tests (aiosmtpd):

    python -m crmkit.smtp_sink --dir var/mail --host 127.0.0.1 --port 1025

Each message becomes one .eml file under the directory, named `<UTC time>-<n>-<hash of its
Message-ID>.eml` so names sort by arrival, and one JSON log line on stdout (file, Message-ID,
envelope sender and recipients, subject, size). A file is written completely (temp file, rename)
before the 250 goes back, so a message the client saw accepted is on disk. SIGTERM or SIGINT
closes the server; a session in the middle of DATA gets no 250, so its client retries.

Not for production: it accepts any sender and recipient, and delivers nowhere."""
from __future__ import annotations

import argparse
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
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from crmkit import logs

log = logs.get("crmkit.smtp_sink")
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


class Keeper:
    """The aiosmtpd handler: every message to a file and a log line; always 250."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
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
        path = self.directory / f"{stamp}-{next(self._counter):06d}-{digest}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a message
        self.kept += 1
        if log.isEnabledFor(logging.INFO):
            headers = BytesHeaderParser(policy=default).parsebytes(data)
            log.info("message kept", extra={"fields": {
                "file": path.name, "message_id": str(headers.get("Message-ID", "") or message_id),
                "mail_from": mail_from, "rcpt_to": list(rcpt_tos), "subject": str(headers.get("Subject", "") or ""),
                "bytes": len(data)}})
        return path


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
    return Controller(Keeper(directory), hostname=host, port=port, ready_timeout=10.0, **kwargs)


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
