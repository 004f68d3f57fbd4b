"""What every part of the servicer shares: the database, the clock, the ports and keys."""
from __future__ import annotations

from collections.abc import Callable

from crm_marketing.ports import ContactsPort
from crmkit.servicer import ServicerBase


class Base(ServicerBase):
    contacts: ContactsPort | None
    key: bytes                       # the tracking key (tokens of mails, forms, contacts)
    default_sender: str
    mail_enabled: bool
    sms_enabled: bool                # SMS_URL is set: sms waves may start
    submitted: Callable[[], None]    # wakes the delivery job after a form submission
    rules_changed: Callable[[], None]  # the consumer re-reads which event types the rules count
