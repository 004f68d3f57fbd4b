"""A real HTTP receiver on a local port, as an integrator would write one: it verifies each
delivery's signature and timestamp, keeps what it got, and answers what the test says."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from crm_webhooks.rules import signature


@dataclass(frozen=True)
class Received:
    delivery_id: str
    event_type: str
    verified: bool
    document: dict[str, Any]


class Receiver:
    def __init__(self) -> None:
        self.secret = ""
        self.status = 200
        self.delay = 0.0  # seconds before answering (a slow receiver)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                verified = signature.verify(
                    receiver.secret, timestamp=self.headers.get(signature.HEADER_TIMESTAMP, ""), body=body,
                    signature=self.headers.get(signature.HEADER_SIGNATURE, ""), now=time.time())
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    receiver.received.append(Received(self.headers.get(signature.HEADER_ID, ""),
                                                      self.headers.get(signature.HEADER_EVENT, ""), verified,
                                                      json.loads(body)))
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def got(self) -> list[Received]:
        with self._lock:
            return list(self.received)
