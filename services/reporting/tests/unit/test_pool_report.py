"""The public pool (公海) report from sales' pool move events: pool size per team from the leads'
newest snapshots, returns, releases, claims and assignments counted once per event, and each
caller counting only the teams they may see."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm.common.v1.pool_pb2 import PoolMove
from crm.contacts.v1 import events_pb2 as cev
from crm.contacts.v1.contacts_pb2 import Account
from crm.reporting.v1.reporting_pb2 import GetPoolReportRequest, PoolTeamFigures
from crm.sales.v1 import events_pb2 as sev
from crm.sales.v1.sales_pb2 import Lead
from crm_reporting import handlers
from crm_reporting.usecases import pool
from crmkit.auth import Principal
from crmkit.db import UnitOfWork

from .conftest import FEED_NOW, Feed, ts

ADMIN = Principal("admin", ("admin",))
NORTH_REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
SOUTH_MANAGER = Principal("manager.south", ("manager",), "south-sales", "south")


def move(feed: Feed, lead_id: str, version: int, kind: str, *, team: str = "north-sales", region: str = "north",
         in_pool: bool, at: str = "2024-06-10T09:00:00") -> None:
    lead = Lead(id=lead_id, version=version, team=team, region=region, status="working", in_pool=in_pool,
                owner_id="" if in_pool else "rep.north.2")
    lead.created_at.CopyFrom(ts("2024-06-01T08:00:00"))
    m = PoolMove(record_type="lead", record_id=lead_id, kind=kind, team=team, user_id="rep.north.1", at=ts(at))
    feed.event(f"crm.sales.lead.pool_{kind}", lead_id, version, sev.LeadPoolMoved(lead=lead, move=m))


def report(session: Session, principal: Principal = ADMIN, **request: str) -> list[PoolTeamFigures]:
    return list(pool.pool_report(session, principal=principal, request=GetPoolReportRequest(**request)).teams)


def test_pool_size_returns_claims_per_team(feed: Feed, session: Session) -> None:
    move(feed, "l-1", 2, "returned", in_pool=True)
    move(feed, "l-2", 2, "released", in_pool=True)
    move(feed, "l-2", 3, "claimed", in_pool=False, at="2024-06-11T09:00:00")
    move(feed, "l-3", 2, "returned", team="south-sales", region="south", in_pool=True)
    north, south = report(session)
    assert (north.team, north.in_pool, north.returned, north.released, north.claimed) == ("north-sales", 1, 1, 1, 1)
    assert (south.team, south.in_pool, south.returned) == ("south-sales", 1, 1)
    later = {t.team: (t.in_pool, t.returned, t.claimed) for t in report(session, from_day="2024-06-11")}
    assert later == {"north-sales": (1, 0, 1), "south-sales": (1, 0, 0)}  # the pool now, the moves since


def test_a_redelivered_move_counts_once_and_an_older_snapshot_does_not_refill_the_pool(
        feed: Feed, uow: UnitOfWork, session: Session) -> None:
    move(feed, "l-1", 2, "returned", in_pool=True)
    move(feed, "l-1", 3, "claimed", in_pool=False)
    handlers.handle(uow, feed.log[0], now=FEED_NOW)  # redelivered
    (north,) = report(session)
    assert (north.in_pool, north.returned, north.claimed) == (0, 1, 1)


def test_a_rep_counts_their_team_s_pool_and_a_manager_their_region(feed: Feed, session: Session) -> None:
    move(feed, "l-1", 2, "returned", in_pool=True)
    move(feed, "l-3", 2, "returned", team="south-sales", region="south", in_pool=True)
    assert [t.team for t in report(session, NORTH_REP)] == ["north-sales"]
    assert [t.team for t in report(session, SOUTH_MANAGER)] == ["south-sales"]
    assert report(session, Principal("x", ("rep",))) == []


def account_move(feed: Feed, account_id: str, version: int, kind: str, *, in_pool: bool) -> None:
    account = Account(id=account_id, version=version, team="north-sales", region="north", in_pool=in_pool)
    m = PoolMove(record_type="account", record_id=account_id, kind=kind, team="north-sales",
                 at=ts("2024-06-12T09:00:00"))
    feed.event(f"crm.contacts.account.pool_{kind}", account_id, version, cev.AccountPoolMoved(account=account, move=m))


def test_customers_count_apart_from_leads(feed: Feed, session: Session) -> None:
    move(feed, "l-1", 2, "returned", in_pool=True)
    account_move(feed, "a-1", 3, "returned", in_pool=True)
    account_move(feed, "a-2", 3, "released", in_pool=True)
    account_move(feed, "a-2", 4, "claimed", in_pool=False)
    rows = {(t.team, t.record_type): (t.in_pool, t.returned, t.released, t.claimed) for t in report(session)}
    assert rows == {("north-sales", "account"): (1, 1, 1, 1), ("north-sales", "lead"): (1, 1, 0, 0)}
    assert [t.record_type for t in report(session, record_type="account")] == ["account"]
