"""WSGI entry point for granian and gunicorn: `crm_gateway.wsgi:app`. Reads the settings
(failing fast when one is missing) and builds the app; nothing connects until the first request."""
from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from crm_gateway.app import create_app
from crmkit import logs

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class SizedChunkedBody:
    """A chunked request body (no Content-Length) read here, up to one byte past the limit, and
    handed on with a Content-Length like any other body. Both servers tell werkzeug they end the
    stream themselves (wsgi.input_terminated), and werkzeug then stops reading at
    MAX_CONTENT_LENGTH without an error: an oversized chunked body would be cut short and parsed
    as if it were whole. Sized this way, it gets the same 413 as an oversized Content-Length."""

    def __init__(self, app: WSGIApplication, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.drain_limit = max(4 * limit, 4 << 20)  # as app.py drains refused sized bodies

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("CONTENT_LENGTH") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            stream = environ["wsgi.input"]
            body = _read(stream, self.limit + 1)
            if len(body) > self.limit:
                # Read on (and drop) a moderately oversized body, so that closing the connection
                # with unread data does not reset it before the client reads its 413.
                _read(stream, self.drain_limit, keep=False)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]  # werkzeug ignores a length given with it
        return self.app(environ, start_response)


def _read(stream: io.BufferedIOBase, at_most: int, keep: bool = True) -> bytes:
    parts, remaining = [], at_most
    while remaining > 0:
        chunk = stream.read(min(remaining, 64 * 1024))
        if not chunk:
            break
        remaining -= len(chunk)
        if keep:
            parts.append(chunk)
    return b"".join(parts)


logs.configure("gateway", os.environ.get("LOG_LEVEL", "INFO"))
app = create_app()
app.wsgi_app = SizedChunkedBody(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])  # type: ignore[method-assign]  # Flask's documented way to wrap the WSGI app
