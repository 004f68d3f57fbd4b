"""A sales service for the tests of its callers (marketing): a real gRPC server implementing
CaptureLead over leads in memory.

It verifies the caller's token with the shared secret, honours idempotency keys (a retry with the
same key answers the lead created the first time), refuses a lead without a name or company as
sales does (INVALID_ARGUMENT naming the field), and counts every call by method. `unavailable`
makes every call answer UNAVAILABLE, as a sales that is down would; `refuse` maps an email to the
INVALID_ARGUMENT message its lead gets."""
from __future__ import annotations

import threading
import uuid
from collections import Counter

import grpc

from crm.sales.v1 import sales_pb2 as pb
from crm.sales.v1.sales_pb2_grpc import SalesServiceServicer, add_SalesServiceServicer_to_server
from crmkit import picklists
from crmkit.auth import Principal, TokenVerifier
from crmkit.config import AuthSettings
from crmkit.errors import ERROR_FIELD_KEY, Unauthenticated
from crmkit.grpc_server import IDEMPOTENCY_KEY

SOURCES = picklists.SOURCES


class FakeSales(SalesServiceServicer):
    def __init__(self, secret: str) -> None:
        self._verifier = TokenVerifier(AuthSettings(secret, None, None, None))
        self.leads: dict[str, pb.Lead] = {}
        self.captured: list[tuple[pb.Lead, str]] = []  # (lead, form_id), in the order created
        self.calls: Counter[str] = Counter()
        self.refuse: dict[str, str] = {}
        self.unavailable = False
        self._keys: dict[tuple[str, str], pb.Lead] = {}
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.address = ""

    def start(self) -> FakeSales:
        from concurrent import futures

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        add_SalesServiceServicer_to_server(self, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.address = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)

    def _caller(self, context: grpc.ServicerContext, method: str) -> Principal:
        self.calls[method] += 1
        if self.unavailable:
            context.abort(grpc.StatusCode.UNAVAILABLE, "sales is down (fake)")
        auth = dict(context.invocation_metadata()).get("authorization", "")
        try:
            if not isinstance(auth, str) or not auth.lower().startswith("bearer "):
                raise Unauthenticated("missing bearer token")
            return self._verifier.verify(auth[7:].strip())
        except Unauthenticated as exc:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.message)
            raise

    def _refuse(self, context: grpc.ServicerContext, field: str, message: str) -> None:
        context.set_trailing_metadata(((ERROR_FIELD_KEY, field),))
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)

    def CaptureLead(self, request: pb.CaptureLeadRequest, context: grpc.ServicerContext) -> pb.Lead:
        principal = self._caller(context, "CaptureLead")
        if not principal.has_role("marketing", "manager"):
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "lead capture is for marketing forms and service accounts")
        key = dict(context.invocation_metadata()).get(IDEMPOTENCY_KEY, "")
        with self._lock:
            if isinstance(key, str) and key and (principal.user_id, key) in self._keys:
                return self._keys[(principal.user_id, key)]
            lead = pb.Lead()
            lead.CopyFrom(request.lead)
            if not lead.name.strip() and not lead.company.strip():
                self._refuse(context, "name", "a lead needs a name or a company")
            if lead.source and lead.source not in SOURCES:
                self._refuse(context, "source", f"must be one of {', '.join(SOURCES)}")
            if lead.email in self.refuse:
                self._refuse(context, "email", self.refuse[lead.email])
            lead.id, lead.version, lead.status = str(uuid.uuid4()), 1, "new"
            self.leads[lead.id] = lead
            self.captured.append((lead, request.form_id))
            if isinstance(key, str) and key:
                self._keys[(principal.user_id, key)] = lead
            return lead
