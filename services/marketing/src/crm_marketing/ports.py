"""Other services as marketing needs them: a `Protocol` per port and its adapter.

Contacts is asked twice only: for a segment's members when a wave freezes its audience, and to
record a consent withdrawal after an unsubscribe. Neither has a user behind it in contacts'
sense (marketing must reach every member, whoever owns them; an unsubscribe comes from a link in
a mail), so both run with this service's own credentials (crmkit.credentials). Mail goes through
crmkit.mail's `Mailer`; a relay that can also say whether it already took a Message-ID (an
`AcceptedCheck`) lets the sender skip a re-send after a crash."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import grpc

from crm.common.v1.types_pb2 import PageRequest
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crmkit.credentials import ServiceCredentials
from crmkit.errors import DomainError, NotFound
from crmkit.grpc_client import ServiceClient, open_channel
from crmkit.grpc_server import IDEMPOTENCY_KEY
from crmkit.mail import Mailer, MailRejected, MailUnavailable, OutgoingMail

__all__ = ["AcceptedCheck", "ContactGone", "ContactsPort", "ContactsUnavailable", "DependencyUnavailable",
           "GrpcContacts", "MailRejected", "MailUnavailable", "Mailer", "OutgoingMail"]

SEGMENT_PAGE = 1000


class ContactsUnavailable(Exception):
    """Contacts did not answer (retried later by whoever asked)."""


class ContactGone(Exception):
    """Contacts no longer has this contact (deleted, erased): nothing left to record."""


class DependencyUnavailable(DomainError):
    """A service we depend on did not answer: UNAVAILABLE, so the caller retries."""

    status = grpc.StatusCode.UNAVAILABLE
    title = "Service unavailable"


class ContactsPort(Protocol):
    def segment_members(self, segment_id: str) -> list[cpb.Contact]:
        """Every member (NotFound naming the segment; DependencyUnavailable when contacts is away)."""
        ...

    def record_consent(self, contact_id: str, consent: cpb.Consent, *, key: str) -> None:
        """Record one consent decision; `key` makes a retry change nothing (ContactGone,
        ContactsUnavailable)."""
        ...


@runtime_checkable
class AcceptedCheck(Protocol):
    def accepted(self, message_id: str) -> bool | None:
        """True when the relay already took a mail with this Message-ID, None when it cannot tell."""
        ...


class GrpcContacts:
    def __init__(self, addr: str, credentials: ServiceCredentials, timeout: float = 10.0) -> None:
        self.addr = addr
        self.credentials = credentials
        self.timeout = timeout
        self._client: ServiceClient | None = None

    @property
    def client(self) -> ServiceClient:
        if self._client is None:  # connect lazily: nothing dials out at start-up
            self._client = ServiceClient(ContactsServiceStub(open_channel(self.addr)), timeout=self.timeout)
        return self._client

    def _metadata(self) -> list[tuple[str, str]]:
        authorization = self.credentials.authorization()
        if not authorization:
            raise DependencyUnavailable("marketing has no service credential to call contacts (JWT_SECRET or "
                                        "SERVICE_TOKEN_FILE)")
        return [("authorization", authorization)]

    def segment_members(self, segment_id: str) -> list[cpb.Contact]:
        md = self._metadata()
        members: list[cpb.Contact] = []
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
            members.extend(page.contacts)
            token = page.page.next_page_token
            if not token:
                return members

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
            raise ContactsUnavailable(exc.code().name) from None
