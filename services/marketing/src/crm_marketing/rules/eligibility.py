"""Who may receive a wave's mail, pure. A recipient is mailed only with a granted consent for the
wave's purpose, not unsubscribed since, not suppressed, with an email no earlier recipient of the
wave has; otherwise the first reason that applies is recorded (and counted)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

NO_CONSENT, UNSUBSCRIBED, SUPPRESSED, NO_EMAIL = "no_consent", "unsubscribed", "suppressed", "no_email"
DUPLICATE_EMAIL, UNKNOWN_CONTACT, RENDER_FAILED = "duplicate_email", "unknown_contact", "render_failed"
SKIP_REASONS = (NO_CONSENT, UNSUBSCRIBED, SUPPRESSED, NO_EMAIL, DUPLICATE_EMAIL, UNKNOWN_CONTACT, RENDER_FAILED)
DEFAULT_PURPOSE = "marketing_email"


@dataclass(frozen=True)
class ConsentState:
    granted: bool
    at: datetime | None = None


@dataclass(frozen=True)
class Reachability:
    """What the projection knows of one contact, as sending needs it."""

    email: str
    suppressed: str = ""                     # deleted | merged | erased (from contacts)
    email_suppressed: str = ""               # bounced | complained (this address, learned here)
    consents: Mapping[str, ConsentState] = field(default_factory=dict)
    unsubscribed_at: datetime | None = None  # for the wave's purpose
    phone: str = ""                          # E.164 (sms waves)


def skip_reason(contact: Reachability | None, purpose: str, seen_emails: set[str] | None = None) -> str:
    """"" when the contact may be mailed (its email is then added to `seen_emails`)."""
    if contact is None:
        return UNKNOWN_CONTACT
    if contact.suppressed or contact.email_suppressed:
        return SUPPRESSED
    email = contact.email.strip().lower()
    if not email:
        return NO_EMAIL
    consent = contact.consents.get(purpose)
    if contact.unsubscribed_at is not None and not (
            consent and consent.granted and consent.at and consent.at > contact.unsubscribed_at):
        return UNSUBSCRIBED  # a grant given after the unsubscribe (a new form) lifts it
    if consent is None or not consent.granted:
        return NO_CONSENT
    if seen_emails is not None:
        if email in seen_emails:
            return DUPLICATE_EMAIL
        seen_emails.add(email)
    return ""
