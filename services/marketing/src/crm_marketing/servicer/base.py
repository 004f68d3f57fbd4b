"""What every part of the servicer shares: the database, the clock, the ports and keys."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from crm.contacts.v1.contacts_pb2 import Contact
from crm_marketing.ports import ContactsPort
from crm_marketing.usecases import waves
from crmkit.servicer import Call, ServicerBase


class Base(ServicerBase):
    contacts: ContactsPort | None
    key: bytes                       # the tracking key (tokens of mails, forms, contacts)
    default_sender: str
    mail_enabled: bool
    sms_enabled: bool                # SMS_URL is set: sms waves may start
    submitted: Callable[[], None]    # wakes the delivery job after a form submission
    rules_changed: Callable[[], None]  # the consumer re-reads which event types the rules count

    def projector(self, call: Call) -> waves.Project:
        """A freeze's pages of segment members into the projection, a transaction each."""
        def project(page: Sequence[Contact]) -> None:
            with self.db.unit_of_work() as uow:
                waves.project_page(uow, page, call.now)
                uow.commit()
        return project
