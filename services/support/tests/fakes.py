"""Fakes at support's ports, for the fast use-case tests: contacts as records in memory, and a
mailer that keeps what it was given."""
from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from crm.contacts.v1 import contacts_pb2 as cpb
from crmkit.errors import NotFound


class FakeContactsPort:
    """The ContactsPort of crm_support.ports over a dict; `calls` counts each method."""

    def __init__(self) -> None:
        self.contacts: dict[str, cpb.Contact] = {}
        self.calls: Counter[str] = Counter()
        self.authorizations: list[str] = []
        self.down = False  # find_or_create_identity raises ContactsUnavailable while set

    def add(self, name: str, email: str, *, level: str = "", account_id: str = "") -> cpb.Contact:
        contact = cpb.Contact(id=str(uuid.uuid4()), name=name, level=level, account_id=account_id,
                              emails=[cpb.Email(address=email)])
        self.contacts[contact.id] = contact
        return contact

    def get_contact(self, contact_id: str, *, authorization: str) -> cpb.Contact:
        self.calls["get_contact"] += 1
        self.authorizations.append(authorization)
        if contact_id not in self.contacts:
            raise NotFound(f"contact {contact_id} not found", field="contact_id")
        return self.contacts[contact_id]

    def find_or_create(self, email: str, name: str) -> cpb.Contact | None:
        self.calls["find_or_create"] += 1
        for contact in self.contacts.values():
            if any(e.address == email for e in contact.emails):
                return contact
        return self.add(name or email.split("@")[0], email)


    def find_or_create_identity(self, identity: cpb.SocialIdentity, name: str) -> cpb.Contact | None:
        self.calls["find_or_create_identity"] += 1
        if self.down:
            from crm_support.ports import ContactsUnavailable
            raise ContactsUnavailable("UNAVAILABLE")
        for contact in self.contacts.values():
            if any((i.platform, i.app_id, i.kind, i.value) == (identity.platform, identity.app_id, identity.kind,
                                                               identity.value) for i in contact.social_identities):
                return contact
        contact = cpb.Contact(id=str(uuid.uuid4()), name=name, social_identities=[identity])
        self.contacts[contact.id] = contact
        return contact


class FakeChannelSender:
    """The ChannelSender port in memory: `sent` (account app id, to_user, text); `fail_with` raised instead."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail_with: Exception | None = None

    def send_text(self, account: Any, to_user: str, text: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((account.app_id, to_user, text))


class FakeMailer:
    """The Mailer port of crmkit.mail in memory: `sent` what was handed over; `fail_with` an
    exception raised (once per send) instead, e.g. MailUnavailable or MailRejected."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.fail_with: Exception | None = None

    def send(self, mail: Any) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(mail)
