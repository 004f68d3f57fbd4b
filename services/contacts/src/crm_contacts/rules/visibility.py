"""Who sees which customer, enforced inside the service (the gateway is not trusted with it): an
admin sees everything, a manager their team and their region, support and analysts read
everything but change nothing, reps and marketing only the records they own (plus those an
active delegation lends them). Below: what each role may see of what it reads."""
from __future__ import annotations

from typing import TypeVar

from crm.contacts.v1.contacts_pb2 import Account, Contact, SearchCustomersResponse
from crmkit.auth import Principal
from crmkit.visibility import Visibility, mask_email, mask_phone, sees_contact_details

R = TypeVar("R", bound=Contact | Account)

VISIBILITY = Visibility(read_all=("support", "analyst"), writers=("rep", "marketing"))

# Segments are definitions shared across the company (HubSpot lists are): every signed-in user
# reads every segment, while its members are always evaluated with the caller's own visibility of
# contacts. Changing one is its owner's, a manager's in its team or region, or an admin's: this
# rule's `can_write` (its reads are not restricted).
SEGMENTS = Visibility(writers=("rep", "marketing", "analyst"))


# -- role policies beyond visibility, in one place (the seeds' examples):
# finance and analysts see that a conversation happened, never what was said (timeline entries
# without their content; finance logs none); support reads every customer and their service
# history but edits no profile (not among VISIBILITY's writers); analysts read aggregates and
# customers with their phones and emails masked, here and in search results.
CONVERSATION_BLIND = ("finance", "analyst")
_SEARCH_PERSONAL_FIELDS = ("phones", "emails")


def reads_conversations(principal: Principal) -> bool:
    return principal.is_admin or not any(role in principal.roles for role in CONVERSATION_BLIND)


def masked(principal: Principal, record: R) -> R:
    """The record as this caller may read it (changed in place: only on a read's way out)."""
    if sees_contact_details(principal):
        return record
    for phone in record.phones:
        phone.number = mask_phone(phone.number)
        phone.raw = phone.number
    for email in record.emails:
        email.address = mask_email(email.address)
    return record


def masked_hits(principal: Principal, response: SearchCustomersResponse) -> SearchCustomersResponse:
    """Search results without the phone and email fragments a caller may not read."""
    if sees_contact_details(principal):
        return response
    for hit in response.hits:
        kept = [h for h in hit.highlights if h.field not in _SEARCH_PERSONAL_FIELDS]
        del hit.highlights[:]
        hit.highlights.extend(kept)
    return response
