"""A contacts service for the tests of its callers (sales, support): a real gRPC server
implementing the calls they make, over records in memory.

It verifies the caller's token with the shared secret and applies the owner / team / region rule
contacts applies (support and analysts read everything), honours idempotency keys on creates,
answers FindDuplicates by exact email, and counts every call by method so a test can say
"the retry did not call contacts again"."""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from typing import TypeVar, cast

import grpc

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceServicer, add_ContactsServiceServicer_to_server
from crmkit.auth import Principal, TokenVerifier
from crmkit.config import AuthSettings
from crmkit.errors import Unauthenticated
from crmkit.grpc_server import IDEMPOTENCY_KEY
from crmkit.visibility import Visibility

T = TypeVar("T")
CONTACTS_RULE = Visibility(read_all=("support", "analyst"), writers=("rep", "marketing"))


class FakeContacts(ContactsServiceServicer):
    def __init__(self, secret: str) -> None:
        self._verifier = TokenVerifier(AuthSettings(secret, None, None, None))
        self.contacts: dict[str, pb.Contact] = {}
        self.accounts: dict[str, pb.Account] = {}
        self.calls: Counter[str] = Counter()
        self._keys: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.address = ""

    # -- running
    def start(self) -> FakeContacts:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        add_ContactsServiceServicer_to_server(self, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.address = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)

    # -- test set-up
    def add_contact(self, contact: pb.Contact) -> pb.Contact:
        contact.id = contact.id or str(uuid.uuid4())
        contact.version = contact.version or 1
        self.contacts[contact.id] = contact
        return contact

    # -- the calls
    @staticmethod
    def _metadata(context: grpc.ServicerContext, key: str) -> str:
        value = dict(context.invocation_metadata()).get(key, "")
        return value if isinstance(value, str) else ""  # only `-bin` keys carry bytes

    def _caller(self, context: grpc.ServicerContext, method: str) -> Principal:
        self.calls[method] += 1
        auth = self._metadata(context, "authorization")
        try:
            if not auth.lower().startswith("bearer "):
                raise Unauthenticated("missing bearer token")
            return self._verifier.verify(auth[7:].strip())
        except Unauthenticated as exc:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.message)
            raise

    def _keyed(self, context: grpc.ServicerContext, principal: Principal, create: Callable[[], T]) -> T:
        key = self._metadata(context, IDEMPOTENCY_KEY)
        with self._lock:
            if key and (principal.user_id, key) in self._keys:
                # what `create` made for this key the first time (tests use a key for one method)
                return cast(T, self._keys[(principal.user_id, key)])
            created = create()
            if key:
                self._keys[(principal.user_id, key)] = created
            return created

    def GetContact(self, request: pb.GetContactRequest, context: grpc.ServicerContext) -> pb.Contact:
        principal = self._caller(context, "GetContact")
        contact = self.contacts.get(request.id)
        if contact is None or not CONTACTS_RULE.can_read(principal, contact.owner_id, contact.team, contact.region):
            context.abort(grpc.StatusCode.NOT_FOUND, f"contact {request.id} not found")
        return contact

    def CreateContact(self, request: pb.CreateContactRequest, context: grpc.ServicerContext) -> pb.Contact:
        principal = self._caller(context, "CreateContact")

        def create() -> pb.Contact:
            contact = pb.Contact()
            contact.CopyFrom(request.contact)
            contact.id = ""
            return self.add_contact(contact)
        return self._keyed(context, principal, create)

    def CreateAccount(self, request: pb.CreateAccountRequest, context: grpc.ServicerContext) -> pb.Account:
        principal = self._caller(context, "CreateAccount")

        def create() -> pb.Account:
            account = pb.Account()
            account.CopyFrom(request.account)
            account.id, account.version = str(uuid.uuid4()), 1
            self.accounts[account.id] = account
            return account
        return self._keyed(context, principal, create)

    def FindDuplicates(self, request: pb.FindDuplicatesRequest,
                       context: grpc.ServicerContext) -> pb.FindDuplicatesResponse:
        self._caller(context, "FindDuplicates")
        wanted = {e.address.lower() for e in request.candidate.emails}
        matches = [c for c in self.contacts.values() if wanted & {e.address.lower() for e in c.emails}]
        return pb.FindDuplicatesResponse(matches=matches)
