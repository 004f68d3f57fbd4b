"""Other services as sales needs them: a Protocol per port and its gRPC adapter (the fakes for
tests are in tests/fakes.py and crm_fakes).

Contacts: converting a lead creates its account and contact there. Calls carry the caller's
bearer token (contacts applies its own permissions) and an idempotency key derived from the
lead, so a retried conversion never creates an account or a contact twice."""
from __future__ import annotations

from typing import Protocol

import grpc

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crmkit.grpc_client import GrpcPort
from crmkit.grpc_server import IDEMPOTENCY_KEY


class ContactsPort(Protocol):
    def create_account(self, account: cpb.Account, *, idempotency_key: str, authorization: str) -> cpb.Account: ...

    def create_contact(self, contact: cpb.Contact, *, idempotency_key: str, authorization: str) -> cpb.Contact: ...

    def can_see(self, kind: str, record_id: str, *, authorization: str) -> bool: ...

    def account_name(self, account_id: str, *, authorization: str) -> str: ...


class GrpcContacts(GrpcPort):
    stub = ContactsServiceStub

    def _metadata(self, key: str, authorization: str) -> list[tuple[str, str]]:
        return [(IDEMPOTENCY_KEY, key), ("authorization", authorization)]

    def create_account(self, account: cpb.Account, *, idempotency_key: str, authorization: str) -> cpb.Account:
        request = cpb.CreateAccountRequest(account=account, allow_duplicate=True)
        created: cpb.Account = self.client.call("CreateAccount", request,
                                                metadata=self._metadata(idempotency_key, authorization))
        return created

    def create_contact(self, contact: cpb.Contact, *, idempotency_key: str, authorization: str) -> cpb.Contact:
        request = cpb.CreateContactRequest(contact=contact, allow_duplicate=True)
        created: cpb.Contact = self.client.call("CreateContact", request,
                                                metadata=self._metadata(idempotency_key, authorization))
        return created

    def can_see(self, kind: str, record_id: str, *, authorization: str) -> bool:
        """Whether the caller sees this account or contact in contacts (its own visibility rule):
        False on NOT_FOUND; any other failure propagates (the write is not attempted)."""
        method, request = (("GetAccount", cpb.GetAccountRequest(id=record_id)) if kind == "account"
                           else ("GetContact", cpb.GetContactRequest(id=record_id)))
        return self._get(method, request, authorization) is not None

    def account_name(self, account_id: str, *, authorization: str) -> str:
        """The account's name as the caller reads it in contacts; "" when it is not found."""
        account = self._get("GetAccount", cpb.GetAccountRequest(id=account_id), authorization)
        return account.name if isinstance(account, cpb.Account) else ""

    def _get(self, method: str, request: object, authorization: str) -> object | None:
        try:
            found: object = self.client.call(method, request, metadata=[("authorization", authorization)])
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise
        return found
