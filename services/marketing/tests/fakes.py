"""Fakes at marketing's ports, for the fast use-case tests: contacts' segments and consent calls
over dicts, and a mailer that keeps what it was handed."""
from __future__ import annotations

from collections import Counter

from crm.contacts.v1 import contacts_pb2 as cpb
from crm_marketing.ports import ContactsUnavailable, MailRejected, MailUnavailable, OutgoingMail
from crmkit.errors import NotFound


class FakeContactsPort:
    """The ContactsPort of crm_marketing.ports; `calls` counts each method, `down` makes contacts away."""

    def __init__(self) -> None:
        self.segments: dict[str, list[cpb.Contact]] = {}
        self.consents: dict[str, cpb.Consent] = {}  # idempotency key → what was recorded
        self.calls: Counter[str] = Counter()
        self.down = False

    def segment_members(self, segment_id: str) -> list[cpb.Contact]:
        self.calls["segment_members"] += 1
        if segment_id not in self.segments:
            raise NotFound(f"segment {segment_id} not found", field="audience.segment_ids")
        return list(self.segments[segment_id])

    def record_consent(self, contact_id: str, consent: cpb.Consent, *, key: str) -> None:
        self.calls["record_consent"] += 1
        if self.down:
            raise ContactsUnavailable("UNAVAILABLE")
        self.consents.setdefault(key, cpb.Consent(purpose=consent.purpose, granted=consent.granted,
                                                  source=consent.source, recorded_by=contact_id))


class FakeMailer:
    """A Mailer that keeps every mail; `refuse` maps an address to (permanent, code)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []
        self.refuse: dict[str, tuple[bool, int]] = {}
        self.unavailable = False

    def send(self, mail: OutgoingMail) -> None:
        if self.unavailable:
            raise MailUnavailable("relay down")
        address = mail.to[mail.to.rfind("<") + 1:].rstrip(">")
        if address in self.refuse:
            permanent, code = self.refuse[address]
            raise MailRejected(permanent, code, "mailbox unavailable")
        self.sent.append(mail)

    def to(self, address: str) -> list[OutgoingMail]:
        return [m for m in self.sent if address in m.to]


class CheckingMailer(FakeMailer):
    """A relay that can tell whether it already took a Message-ID (ports.AcceptedCheck)."""

    def accepted(self, message_id: str) -> bool | None:
        return any(m.message_id == message_id for m in self.sent)
