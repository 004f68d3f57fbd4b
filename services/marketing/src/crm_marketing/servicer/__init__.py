"""gRPC servicer: translation only. Reads run on a read session (`self.read`); writes go through
the one transaction owner (`self.write`, or `self.write_after` when contacts must be asked
first: freezing a wave's or an A/B test's audience). Requests are never changed (their bytes key
idempotency): use cases get copies. One class per area (campaigns and mail, automation), joined
here."""
from __future__ import annotations

from collections.abc import Callable

from crm.marketing.v1 import marketing_pb2 as pb
from crm.marketing.v1.marketing_pb2_grpc import MarketingServiceServicer
from crm_marketing.ports import ContactsPort
from crm_marketing.servicer.automation import AutomationRpcs
from crm_marketing.servicer.campaigns import CampaignRpcs
from crmkit.audit import Personal
from crmkit.db import Database
from crmkit.servicer import Clock


def _nothing() -> None:
    return None


class MarketingServicer(CampaignRpcs, AutomationRpcs, MarketingServiceServicer):
    # Reads of these leave audit entries (crmkit.audit): who was invited, mailed or filled a form.
    personal_data = (Personal(pb.Invitee, "contact", "contact_id"), Personal(pb.Recipient, "contact", "contact_id"),
                     Personal(pb.FormSubmission))

    def __init__(self, db: Database, clock: Clock, contacts: ContactsPort | None, *, tracking_key: bytes,
                 default_sender: str, mail_enabled: bool, submitted: Callable[[], None] = _nothing,
                 rules_changed: Callable[[], None] = _nothing, sms_enabled: bool = False) -> None:
        super().__init__(db, clock)
        self.contacts = contacts
        self.key = tracking_key
        self.default_sender = default_sender
        self.mail_enabled = mail_enabled
        self.sms_enabled = sms_enabled
        self.submitted = submitted
        self.rules_changed = rules_changed
