"""Consent per purpose: the fixed lists of purposes, lawful bases and sources, the validation of
one decision, and the current state a contact carries (the latest decision per purpose). Pure:
the caller stamps the time and who recorded it."""
from __future__ import annotations

from crm.contacts.v1.contacts_pb2 import Consent, Contact
from crmkit.consent_purposes import PURPOSES
from crmkit.errors import InvalidArgument

# GDPR Art. 6(1) (a) to (f); PIPL Art. 13 has the same shape.
LAWFUL_BASES = ("consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interest")
SOURCE_KINDS = ("web_form", "import", "unsubscribe_link", "preference_center", "double_opt_in", "agent", "api",
                "sms_reply")  # sms_reply: an opt-out word texted back (回T退订), reported by marketing
MAX_SOURCE = 200
MAX_EVIDENCE = 2000


def normalize_consent(consent: Consent, field: str = "consent") -> None:
    """Validates a decision as received; fills the defaults ("" basis → consent, "" source → api).
    Source and evidence are kept as typed."""
    if not consent.purpose:
        raise InvalidArgument("purpose is required", field=f"{field}.purpose")
    if consent.purpose not in PURPOSES:
        raise InvalidArgument(f"must be one of {', '.join(PURPOSES)}", field=f"{field}.purpose")
    consent.lawful_basis = consent.lawful_basis or "consent"
    if consent.lawful_basis not in LAWFUL_BASES:
        raise InvalidArgument(f"must be one of {', '.join(LAWFUL_BASES)}", field=f"{field}.lawful_basis")
    consent.source = consent.source or "api"
    kind, _, reference = consent.source.partition(":")
    if kind not in SOURCE_KINDS:
        raise InvalidArgument(f"must be <kind> or <kind>:<reference>, kind one of {', '.join(SOURCE_KINDS)}",
                              field=f"{field}.source")
    if ":" in consent.source and not reference.strip():
        raise InvalidArgument("the reference after ':' is empty", field=f"{field}.source")
    if len(consent.source) > MAX_SOURCE:
        raise InvalidArgument(f"source is at most {MAX_SOURCE} characters", field=f"{field}.source")
    if len(consent.evidence) > MAX_EVIDENCE:
        raise InvalidArgument(f"evidence is at most {MAX_EVIDENCE} characters", field=f"{field}.evidence")


def current(contact: Contact, purpose: str) -> Consent | None:
    return next((c for c in contact.consents if c.purpose == purpose), None)


def set_current(contact: Contact, consent: Consent) -> Consent | None:
    """The contact's state for the purpose becomes `consent`; returns the state before (a copy)."""
    found = current(contact, consent.purpose)
    previous = None
    if found is not None:
        previous = Consent()
        previous.CopyFrom(found)
    kept = [c for c in contact.consents if c.purpose != consent.purpose]
    del contact.consents[:]
    contact.consents.extend(sorted([*kept, consent], key=lambda c: c.purpose))
    return previous


def merge_consents(survivor: Contact, other: Contact) -> bool:
    """Per purpose the later decision of the two records wins (a withdrawal on either record made
    after the other's grant stands). True when the survivor's state changed."""
    changed = False
    for theirs in other.consents:
        mine = current(survivor, theirs.purpose)
        if mine is None or (theirs.at.seconds, theirs.at.nanos) > (mine.at.seconds, mine.at.nanos):
            set_current(survivor, theirs)
            changed = True
    return changed
