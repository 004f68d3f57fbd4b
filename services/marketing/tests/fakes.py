"""Fakes at marketing's ports, for the fast use-case tests: contacts' segments, consent and
contact calls over dicts, sales' CaptureLead over a list, and a mailer that keeps what it was
handed."""
from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.sales.v1 import sales_pb2 as spb
from crm_marketing.ports import (
    ContactRefused,
    ContactsUnavailable,
    LeadRefused,
    MailRejected,
    MailUnavailable,
    OutgoingMail,
    SalesUnavailable,
)
from crmkit.errors import NotFound


class FakeContactsPort:
    """The ContactsPort of crm_marketing.ports; `calls` counts each method, `down` makes contacts away."""

    def __init__(self) -> None:
        self.segments: dict[str, list[cpb.Contact]] = {}
        self.consents: dict[str, cpb.Consent] = {}  # idempotency key → what was recorded
        self.consented: dict[str, cpb.Consent] = {}  # idempotency key → the consent as sent (evidence too)
        self.by_email: dict[str, str] = {}           # email → contact id
        self.created: dict[str, cpb.Contact] = {}    # idempotency key → the contact created
        self.calls: Counter[str] = Counter()
        self.down = False
        self.refusing = False  # contacts' validation refuses every consent (an unknown purpose)

    page = 2  # members per page of segment_pages: small, so tests freeze segments of several pages

    def segment_pages(self, segment_id: str) -> Iterator[list[cpb.Contact]]:
        self.calls["segment_members"] += 1
        if segment_id not in self.segments:
            raise NotFound(f"segment {segment_id} not found", field="audience.segment_ids")
        members = list(self.segments[segment_id])
        for start in range(0, len(members), self.page):
            yield members[start:start + self.page]

    def record_consent(self, contact_id: str, consent: cpb.Consent, *, key: str) -> None:
        self.calls["record_consent"] += 1
        if self.down:
            raise ContactsUnavailable("UNAVAILABLE")
        if self.refusing:
            raise ContactRefused(f"INVALID_ARGUMENT: {consent.purpose!r} is not a consent purpose")
        self.consents.setdefault(key, cpb.Consent(purpose=consent.purpose, granted=consent.granted,
                                                  source=consent.source, recorded_by=contact_id))
        kept = cpb.Consent()
        kept.CopyFrom(consent)
        kept.recorded_by = contact_id
        self.consented.setdefault(key, kept)

    def find_by_email(self, email: str) -> str | None:
        self.calls["find_by_email"] += 1
        if self.down:
            raise ContactsUnavailable("UNAVAILABLE")
        return self.by_email.get(email)

    def create_contact(self, contact: cpb.Contact, *, key: str) -> str:
        self.calls["create_contact"] += 1
        if self.down:
            raise ContactsUnavailable("UNAVAILABLE")
        if key not in self.created:
            made = cpb.Contact()
            made.CopyFrom(contact)
            made.id = f"c-new-{len(self.created) + 1}"
            self.created[key] = made
            for email in made.emails:
                self.by_email[email.address] = made.id
        return self.created[key].id


class FakeSalesPort:
    """The SalesPort: `leads` by idempotency key (a retry answers the first lead), `down` makes
    sales away, `refuse` maps an email to the field and message its lead is refused with."""

    def __init__(self) -> None:
        self.leads: dict[str, tuple[spb.Lead, str]] = {}
        self.calls: Counter[str] = Counter()
        self.refuse: dict[str, tuple[str, str]] = {}
        self.down = False

    def capture_lead(self, lead: spb.Lead, *, form_id: str, key: str) -> spb.Lead:
        self.calls["capture_lead"] += 1
        if self.down:
            raise SalesUnavailable("UNAVAILABLE")
        if lead.email in self.refuse:
            field, message = self.refuse[lead.email]
            raise LeadRefused(message, field)
        if key not in self.leads:
            made = spb.Lead()
            made.CopyFrom(lead)
            made.id = str(uuid.uuid4())
            self.leads[key] = (made, form_id)
        return self.leads[key][0]

    def captured(self) -> list[spb.Lead]:
        return [lead for lead, _ in self.leads.values()]


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


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the sender may catch it)."""


class FakeRounds:
    """A relay driven in rounds (ports.Staging): a staged mail is delivered only by the next
    `exchange` (its end of data); `crash_round` > 0 kills the process in that exchange, after its
    ends of data went out (those mails delivered, their answers lost) and before the new mails'
    DATA ended (a relay discards those)."""

    def __init__(self, connections: int = 2) -> None:
        self.connections = connections
        self.delivered: list[bytes] = []
        self.rounds = 0
        self.crash_round = 0
        self._staged: list[bytes] = []

    def exchange(self, mails: Any) -> tuple[list[Exception | None], list[Exception | None]]:
        self.rounds += 1
        ending, self._staged = self._staged, [m.data for m in mails]
        self.delivered.extend(ending)
        if self.rounds == self.crash_round:
            self._staged = []  # the dead process's connections close: the relay discards open DATA
            raise Crash()
        return [None] * len(ending), [None] * len(mails)

    def finish(self) -> list[Exception | None]:
        return self.exchange([])[0]

    def discard(self) -> None:
        self._staged = []

    def send(self, mail: Any) -> None:
        raise AssertionError("a wave goes through exchange")

    def close(self) -> None:
        pass

    def message_ids(self) -> list[str]:
        found = (re.search(rb"^Message-ID: (<[^>]+>)", d, re.MULTILINE) for d in self.delivered)
        return [m.group(1).decode() for m in found if m]
