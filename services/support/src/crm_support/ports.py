"""The contacts service as support sees it: a port and its gRPC adapter.

Looking a customer up uses the caller's own token (contacts applies its visibility). Finding or
creating the contact of an unknown email sender has no user behind it, so it runs with this
service's own credentials (`crmkit.credentials.ServiceCredentials`: a platform token file, or a
token minted for `crmkit.auth.SYSTEM`); without any, unknown senders simply stay uncontacted
(the ticket keeps their email)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Protocol

import grpc

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crmkit.credentials import ServiceCredentials
from crmkit.errors import ERROR_DETAILS_KEY, DomainError, InvalidArgument, NotFound, PermissionDenied
from crmkit.grpc_client import GrpcPort
from crmkit.grpc_server import IDEMPOTENCY_KEY
from crmkit.wechat.api import ApiAccount, TokenCache, send_text


class ContactsUnavailable(Exception):
    """Contacts did not answer (the adapter's failure, before it becomes a domain error)."""


class DependencyUnavailable(DomainError):
    """A service we depend on (contacts) did not answer: UNAVAILABLE, so the caller retries."""

    status = grpc.StatusCode.UNAVAILABLE
    title = "Service unavailable"


class ContactsPort(Protocol):
    def get_contact(self, contact_id: str, *, authorization: str) -> cpb.Contact: ...

    def find_or_create(self, email: str, name: str) -> cpb.Contact | None: ...

    def find_or_create_identity(self, identity: cpb.SocialIdentity, name: str) -> cpb.Contact | None: ...


class ChannelSender(Protocol):
    """The platforms' send API (crmkit.wechat.api): raises SendFailed."""

    def send_text(self, account: ApiAccount, to_user: str, text: str) -> None: ...


class PlatformSender:
    """The HTTP adapter, one token cache per process."""

    def __init__(self, tokens: TokenCache | None = None) -> None:
        self.tokens = tokens or TokenCache()

    def send_text(self, account: ApiAccount, to_user: str, text: str) -> None:
        send_text(self.tokens, account, to_user, text)


class GrpcContacts(GrpcPort):
    stub = ContactsServiceStub

    def __init__(self, addr: str, credentials: ServiceCredentials, timeout: float = 5.0) -> None:
        super().__init__(addr, timeout)
        self.credentials = credentials

    def get_contact(self, contact_id: str, *, authorization: str) -> cpb.Contact:
        try:
            return self.client.call("GetContact", cpb.GetContactRequest(id=contact_id),  # type: ignore[no-any-return]  # ServiceClient.call answers Any
                                    metadata=[("authorization", authorization)])
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"contact {contact_id} not found", field="contact_id") from None
            if code == grpc.StatusCode.PERMISSION_DENIED:
                raise PermissionDenied("you may not see this contact", field="contact_id") from None
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument("not a contact id", field="contact_id") from None
            raise ContactsUnavailable(code.name) from None

    def find_or_create(self, email: str, name: str) -> cpb.Contact | None:
        authorization = self.credentials.authorization()
        if not authorization:
            return None
        md = [("authorization", authorization)]
        # Only the address finds a duplicate: no picklist value there, none for contacts to check.
        probe = cpb.Contact(name=name or email.split("@")[0], emails=[cpb.Email(address=email)])
        found = self.client.call("FindDuplicates", cpb.FindDuplicatesRequest(candidate=probe), metadata=md)
        for match in found.matches:
            if any(e.address.lower() == email for e in match.emails):
                return match  # type: ignore[no-any-return]  # ServiceClient.call answers Any
        # The values we mean; contacts settles one an administrator retired (its fallback, the
        # value kept as a tag) rather than refuse a service's create: the sender is never lost.
        candidate = cpb.Contact(name=probe.name, emails=probe.emails, source="other", lifecycle_stage="customer")
        # Keyed by the address: two messages from the same stranger make one contact.
        key = "support-contact-" + hashlib.sha256(email.encode()).hexdigest()[:40]
        return self._create_keyed(md, candidate, key,
                                  existing=lambda contact_id: cpb.Contact(id=contact_id, emails=candidate.emails))

    def find_or_create_identity(self, identity: cpb.SocialIdentity, name: str) -> cpb.Contact | None:
        """The contact holding this openid / external_userid, else a new one carrying it (an agent
        merges it into the right person later: contacts' duplicates and merge). None without a
        service credential; ContactsUnavailable when contacts does not answer."""
        authorization = self.credentials.authorization()
        if not authorization:
            return None
        md = [("authorization", authorization)]
        try:
            return self.client.call(  # type: ignore[no-any-return]  # ServiceClient.call answers Any
                "FindContactByIdentity", cpb.FindContactByIdentityRequest(identity=identity), metadata=md)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise ContactsUnavailable(exc.code().name) from None
        # As for an email sender: a retired `social` or `customer` is settled by contacts, not refused.
        candidate = cpb.Contact(name=name, social_identities=[identity], source="social", lifecycle_stage="customer")
        # Keyed by the identity: two first messages of one follower make one contact.
        ref = f"{identity.platform}:{identity.kind}:{identity.app_id}:{identity.value}"
        key = "support-identity-" + hashlib.sha256(ref.encode()).hexdigest()[:40]
        try:
            return self._create_keyed(md, candidate, key,
                                      existing=lambda contact_id: cpb.Contact(id=contact_id, name=name))
        except grpc.RpcError as exc:
            raise ContactsUnavailable(exc.code().name) from None

    def _create_keyed(self, md: list[tuple[str, str]], candidate: cpb.Contact, key: str, *,
                      existing: Callable[[str], cpb.Contact]) -> cpb.Contact | None:
        """CreateContact under an idempotency key. When contacts answers ALREADY_EXISTS, the contact
        it names in the error details (`existing(id)`), None when it names none; any other failure
        raises the grpc.RpcError for the caller to judge."""
        try:
            return self.client.call(  # type: ignore[no-any-return]  # ServiceClient.call answers Any
                "CreateContact", cpb.CreateContactRequest(contact=candidate),
                metadata=[*md, (IDEMPOTENCY_KEY, key)])
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
            details = next((m.value for m in exc.trailing_metadata() or () if m.key == ERROR_DETAILS_KEY), "{}")
            existing_id = json.loads(details).get("existing_id", "")
            return existing(existing_id) if existing_id else None
