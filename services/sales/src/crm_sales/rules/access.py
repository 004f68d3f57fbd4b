"""Who sees and changes which sales record: crmkit's owner / team / region rule, parameterized for
sales. Finance, legal, analysts and support read everything (they approve, report and help);
reps change what they own or what an active delegation lends them."""
from __future__ import annotations

from crm.sales.v1.sales_pb2 import Lead
from crmkit.auth import Principal
from crmkit.visibility import Visibility, mask_email, mask_phone, sees_contact_details

VISIBILITY = Visibility(read_all=("support", "analyst", "finance", "legal"), writers=("rep",))
# Finance reads every payment record (quotes, contracts, amounts, approvals) to invoice; support and
# legal read without changing; an analyst reads too, with a lead's phone and email masked.


def masked_lead(principal: Principal, lead: Lead) -> Lead:
    """The lead as this caller may read it (changed in place: only on a read's way out)."""
    if not sees_contact_details(principal):
        lead.phone, lead.email = mask_phone(lead.phone), mask_email(lead.email) if lead.email else ""
        # An unverified phone keeps what was typed beside its digits: masked alike, as contacts
        # masks a phone's raw text with its number.
        if lead.phone_raw:
            lead.phone_raw = lead.phone
    return lead


def as_manager(principal: Principal) -> Principal:
    """A rep delegating their own work passes the checks a manager's delegation passes."""
    return Principal(principal.user_id, (*principal.roles, "manager"), principal.team, principal.region)
