"""Who may do what, pure. Campaigns are owned records (crmkit.visibility): marketing and analysts
read every campaign, marketing writes its own, managers see and change their team's and region's,
admins and services everything. Templates are shared: marketing (and managers) write, analysts
read. The public principal (the gateway's, for the tracking links in mails) only reaches the
public RPCs."""
from __future__ import annotations

from typing import TypeVar

from crm.marketing.v1.marketing_pb2 import Campaign, Invitee, Recipient
from crmkit.auth import Principal
from crmkit.errors import PermissionDenied
from crmkit.visibility import Visibility, mask_email, sees_contact_details

PUBLIC_ROLE = "public"
T = TypeVar("T", Invitee, Recipient)
CAMPAIGNS = Visibility(read_all=("marketing", "analyst"), writers=("marketing",))
WRITERS = ("marketing", "manager")
READERS = ("marketing", "manager", "analyst")


def masked_emails(principal: Principal, items: list[T]) -> list[T]:
    """Invitees or recipients as this caller may read them: an analyst gets the emails masked."""
    if not sees_contact_details(principal):
        for item in items:
            item.email = mask_email(item.email) if item.email else ""
    return items


def is_public(principal: Principal) -> bool:
    return PUBLIC_ROLE in principal.roles and not principal.is_admin


def require_reader(principal: Principal) -> None:
    if not principal.has_role(*READERS):
        raise PermissionDenied("marketing is for marketing, managers and analysts")


def require_writer(principal: Principal) -> None:
    if not principal.has_role(*WRITERS):
        raise PermissionDenied("only marketing, managers and admins change marketing records")


def can_read(principal: Principal, campaign: Campaign) -> bool:
    if is_public(principal):
        return False
    return CAMPAIGNS.can_read(principal, campaign.owner_id, campaign.team, campaign.region)


def can_write(principal: Principal, campaign: Campaign) -> bool:
    if is_public(principal):
        return False
    return CAMPAIGNS.can_write(principal, campaign.owner_id, campaign.team, campaign.region)
