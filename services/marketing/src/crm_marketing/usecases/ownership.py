"""Offboarding: every campaign a leaving user owns (finished ones included, so none is left with
an owner who is gone) moves to another user in one call, each as a normal change (new version,
a `campaign.updated` event naming owner_id). A repeated call finds nothing left to move."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from crm.common.v1.ownership_pb2 import ReassignRequest, ReassignResponse
from crm.marketing.v1 import events_pb2 as ev
from crm_marketing.events import MARKETING, emit
from crm_marketing.rules import access
from crm_marketing.store import records
from crm_marketing.tables import campaigns
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument
from crmkit.records import bump
from crmkit.visibility import require_manager


def reassign(uow: UnitOfWork, *, principal: Principal, now: datetime, request: ReassignRequest) -> ReassignResponse:
    require_manager(principal, "move a user's campaigns")
    old, new = request.from_user_id, request.to_user_id
    if not old:
        raise InvalidArgument("name the user who leaves", field="from_user_id")
    if not new or new == old:
        raise InvalidArgument("name someone else to take over", field="to_user_id")
    ids = uow.session.execute(select(campaigns.c.id).where(campaigns.c.owner_id == old)
                              .order_by(campaigns.c.seq)).scalars()
    moved = 0
    for campaign_id in list(ids):
        campaign = records.load_campaign(uow.session, campaign_id, for_update=True)
        if campaign is None or not access.can_write(principal, campaign):  # a manager: their scope only
            continue
        campaign.owner_id = new
        changed = ["owner_id"]
        for name, value in (("team", request.to_team), ("region", request.to_region)):
            if value and getattr(campaign, name) != value:
                setattr(campaign, name, value)
                changed.append(name)
        bump(campaign, now)
        records.update_campaign(uow.session, campaign)
        emit(uow, principal, MARKETING.CAMPAIGN_UPDATED, campaign.id, campaign.version,
             ev.CampaignUpdated(campaign=campaign, changed_fields=changed), now)
        moved += 1
    result = ReassignResponse(service="marketing")
    result.moved["campaigns"] = moved
    return result
