"""Fakes at the sales service's ports, for the fast use-case tests (the integration tests use
crm_fakes.contacts.FakeContacts, a gRPC server built from the contract)."""
from __future__ import annotations

import uuid
from collections import Counter
from typing import Any, TypeVar, cast

from crm.contacts.v1 import contacts_pb2 as cpb

M = TypeVar("M", cpb.Account, cpb.Contact)


class FakeContactsPort:
    """crm_sales.ports.ContactsPort in memory: honours idempotency keys like contacts does, and
    counts every call by method so a test can say "the retry did not ask contacts again"."""

    def __init__(self) -> None:
        self.accounts: dict[str, cpb.Account] = {}
        self.contacts: dict[str, cpb.Contact] = {}
        self.calls: Counter[str] = Counter()
        self.keys: dict[str, Any] = {}
        self.authorizations: list[str] = []
        self.visible: set[tuple[str, str]] = set()

    def create_account(self, account: cpb.Account, *, idempotency_key: str, authorization: str) -> cpb.Account:
        self.calls["CreateAccount"] += 1
        return self._keyed(idempotency_key, authorization, account, self.accounts)

    def create_contact(self, contact: cpb.Contact, *, idempotency_key: str, authorization: str) -> cpb.Contact:
        self.calls["CreateContact"] += 1
        return self._keyed(idempotency_key, authorization, contact, self.contacts)

    def can_see(self, kind: str, record_id: str, *, authorization: str) -> bool:
        """Visible when created through this fake, or listed in `visible` (kind, id) by a test."""
        self.calls["Get" + kind.capitalize()] += 1
        self.authorizations.append(authorization)
        known = self.accounts if kind == "account" else self.contacts
        return record_id in known or (kind, record_id) in self.visible

    def account_name(self, account_id: str, *, authorization: str) -> str:
        self.calls["GetAccount"] += 1
        account = self.accounts.get(account_id)
        return account.name if account is not None else ""

    def _keyed(self, key: str, authorization: str, record: M, into: dict[str, M]) -> M:
        self.authorizations.append(authorization)
        if key in self.keys:
            return cast(M, self.keys[key])
        created = type(record)()
        created.CopyFrom(record)
        created.id, created.version = str(uuid.uuid4()), 1
        into[created.id] = created
        self.keys[key] = created
        return created
