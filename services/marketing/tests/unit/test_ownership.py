"""Offboarding in marketing: every campaign a leaving marketer owns moves to their successor
(finished ones too, so none is left with an owner who is gone); only a manager or an admin may
move them, a manager only what they manage; a retry moves nothing twice. And an analyst reads a
campaign's invitees with their emails masked."""
from __future__ import annotations

from typing import Any

import pytest

from crm.common.v1.ownership_pb2 import ReassignRequest
from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing.usecases import campaigns, invitees, ownership
from crmkit.auth import Principal
from crmkit.errors import PermissionDenied

from .conftest import NOW

MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
MKT2 = Principal("mkt.2", ("marketing",), "marketing", "east", "市场小王")
ADMIN = Principal("admin", ("admin",), "hq", "")
MANAGER_SOUTH = Principal("mgr.south", ("manager",), "south-sales", "south")


def test_offboarding_moves_every_campaign_of_the_leaving_marketer(store: Any) -> None:
    made = [store.write(lambda uow, i=i: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
        name=f"Expo {i}", type="trade_show", start_date="2026-04-01"))) for i in range(2)]
    request = ReassignRequest(from_user_id="mkt.1", to_user_id="mkt.2")

    def reassign(who: Principal) -> Any:
        return store.write(lambda uow: ownership.reassign(uow, principal=who, now=NOW, request=request))

    with pytest.raises(PermissionDenied):
        reassign(MKT)
    assert reassign(MANAGER_SOUTH).moved["campaigns"] == 0       # not in their region or team
    result = reassign(ADMIN)
    assert (result.service, result.moved["campaigns"]) == ("marketing", 2)
    for c in made:
        moved = store.read(lambda s, c=c: campaigns.get(s, principal=MKT2, campaign_id=c.id))
        assert (moved.owner_id, moved.version) == ("mkt.2", 2)
    assert store.events()[-1] == "crm.marketing.campaign.updated"
    assert reassign(ADMIN).moved["campaigns"] == 0


def test_an_analyst_reads_invitees_with_masked_emails(store: Any) -> None:
    c = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
        name="Expo", type="trade_show", start_date="2026-04-01")))
    person = store.contact("王强", "wang.qiang@hbsteel.cn")
    store.write(lambda uow: invitees.add(uow, principal=MKT, now=NOW, campaign_id=c.id, contact_ids=[person.id]))

    def emails(who: Principal) -> list[str]:
        found, _ = store.read(lambda s: invitees.list_invitees(s, principal=who, campaign_id=c.id, status="",
                                                               page_size=10, page_token=""))
        return [i.email for i in found]

    assert emails(Principal("ana.1", ("analyst",), "bi", "")) == ["w***@hbsteel.cn"]
    assert emails(MKT) == ["wang.qiang@hbsteel.cn"]
