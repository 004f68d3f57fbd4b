"""A contacts service for the tests of its callers (sales, support): a real gRPC server
implementing the calls they make, over records in memory.

It verifies the caller's token with the shared secret and applies the owner / team / region rule
contacts applies (support and analysts read everything), honours idempotency keys on creates,
answers FindDuplicates and FindContactByEmail by exact email, lists segment members (segments are set up by the test as
lists of contact ids) and records consent decisions (idempotent by key, like contacts), and counts
every call by method so a test can say "the retry did not call contacts again". `unavailable`
makes every call answer UNAVAILABLE, as a contacts that is down would."""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from typing import TypeVar, cast

import grpc

from crm.common.v1.types_pb2 import PageResponse
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
        self.segments: dict[str, list[str]] = {}       # segment id → member contact ids, in order
        self.consent_history: list[tuple[str, pb.Consent]] = []
        self.unavailable = False

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
    def add_segment(self, segment_id: str, contact_ids: list[str]) -> None:
        self.segments[segment_id] = list(contact_ids)

    def add_account(self, account: pb.Account) -> pb.Account:
        account.id = account.id or str(uuid.uuid4())
        account.version = account.version or 1
        self.accounts[account.id] = account
        return account

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
        if self.unavailable:
            context.abort(grpc.StatusCode.UNAVAILABLE, "contacts is down (fake)")
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

    def GetAccount(self, request: pb.GetAccountRequest, context: grpc.ServicerContext) -> pb.Account:
        principal = self._caller(context, "GetAccount")
        account = self.accounts.get(request.id)
        if account is None or not CONTACTS_RULE.can_read(principal, account.owner_id, account.team, account.region):
            context.abort(grpc.StatusCode.NOT_FOUND, f"account {request.id} not found")
        return account

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

    def FindContactByEmail(self, request: pb.FindContactByEmailRequest, context: grpc.ServicerContext) -> pb.Contact:
        self._caller(context, "FindContactByEmail")
        wanted = request.email.strip().lower()
        for contact in self.contacts.values():  # insertion order: the oldest first, like contacts
            if not contact.deleted and any(e.address.lower() == wanted for e in contact.emails):
                return contact
        context.abort(grpc.StatusCode.NOT_FOUND, f"no contact with the email {wanted}")
        raise AssertionError("abort raises")

    def FindContactByIdentity(self, request: pb.FindContactByIdentityRequest,
                              context: grpc.ServicerContext) -> pb.Contact:
        self._caller(context, "FindContactByIdentity")
        want = request.identity
        for contact in self.contacts.values():  # the oldest first, like contacts
            if not contact.deleted and any((i.platform, i.kind, i.value) == (want.platform, want.kind, want.value)
                                           and (i.app_id == want.app_id or want.kind == "unionid")
                                           for i in contact.social_identities):
                return contact
        context.abort(grpc.StatusCode.NOT_FOUND, "no contact has this identity")
        raise AssertionError("abort raises")

    def ListSegmentMembers(self, request: pb.ListSegmentMembersRequest,
                           context: grpc.ServicerContext) -> pb.ListSegmentMembersResponse:
        principal = self._caller(context, "ListSegmentMembers")
        if request.segment_id not in self.segments:
            context.abort(grpc.StatusCode.NOT_FOUND, f"segment {request.segment_id} not found")
        visible = [self.contacts[i] for i in self.segments[request.segment_id] if i in self.contacts
                   and CONTACTS_RULE.can_read(principal, self.contacts[i].owner_id, self.contacts[i].team,
                                              self.contacts[i].region)]
        size = min(request.page.page_size or 50, 1000)
        start = int(request.page.page_token or 0)
        token = str(start + size) if start + size < len(visible) else ""
        return pb.ListSegmentMembersResponse(contacts=visible[start:start + size],
                                             page=PageResponse(next_page_token=token))

    def RecordConsent(self, request: pb.RecordConsentRequest, context: grpc.ServicerContext) -> pb.Contact:
        principal = self._caller(context, "RecordConsent")
        contact = self.contacts.get(request.contact_id)
        if contact is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"contact {request.contact_id} not found")

        def record() -> pb.Contact:
            consent = pb.Consent()
            consent.CopyFrom(request.consent)
            consent.recorded_by = principal.user_id
            consent.at.GetCurrentTime()
            self.consent_history.append((contact.id, consent))
            current = [c for c in contact.consents if c.purpose != consent.purpose]
            del contact.consents[:]
            contact.consents.extend([*current, consent])
            contact.version += 1
            return contact
        return self._keyed(context, principal, record)
