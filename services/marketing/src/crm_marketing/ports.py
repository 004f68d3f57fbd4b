"""Other services as marketing needs them: a `Protocol` per port and its adapter.

Contacts is asked for a segment's members when a wave freezes its audience, to record consent
decisions (an unsubscribe, a form's ticked checkbox), and to find or create the contact of a
form's email; sales to capture leads (a form submission, a marketing-qualified contact). None of
these has a user behind it in the other service's sense (marketing must reach every member,
whoever owns them; a form or an unsubscribe comes from the public), so all run with this
service's own credentials (crmkit.credentials), and every write carries an idempotency key. Mail
goes through crmkit.mail's `Mailer`; a relay that can also say whether it already took a
Message-ID (an `AcceptedCheck`) lets the sender skip a re-send after a crash."""
from __future__ import annotations

import json
from typing import Protocol, runtime_checkable

import grpc

from crm.common.v1.types_pb2 import PageRequest
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.sales.v1 import sales_pb2 as spb
from crm.sales.v1.sales_pb2_grpc import SalesServiceStub
from crmkit.credentials import ServiceCredentials
from crmkit.errors import ERROR_DETAILS_KEY, ERROR_FIELD_KEY, DomainError, NotFound
from crmkit.grpc_client import GrpcPort
from crmkit.grpc_server import IDEMPOTENCY_KEY
from crmkit.mail import Mailer, MailRejected, MailUnavailable, OutgoingMail

__all__ = ["AcceptedCheck", "ContactGone", "ContactRefused", "ContactsPort", "ContactsUnavailable",
           "DependencyUnavailable", "GrpcContacts", "GrpcSales", "LeadRefused", "MailRejected", "MailUnavailable",
           "Mailer", "OutgoingMail", "SalesPort", "SalesUnavailable"]

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
    def segment_members(self, segment_id: str) -> list[cpb.Contact]:
        """Every member (NotFound naming the segment; DependencyUnavailable when contacts is away)."""
        ...

    def record_consent(self, contact_id: str, consent: cpb.Consent, *, key: str) -> None:
        """Record one consent decision; `key` makes a retry change nothing (ContactGone,
        ContactsUnavailable)."""
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
                raise LeadRefused(exc.details() or code.name, _trailer(exc, ERROR_FIELD_KEY)) from None
            raise SalesUnavailable(code.name) from None
        lead_out: spb.Lead = created
        return lead_out
