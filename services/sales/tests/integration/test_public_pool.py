"""The public pool (公海) with real concurrency, on SQLite and on PostgreSQL: two reps claiming the
same lead at the same moment through the running service, exactly one wins and the other gets
ABORTED (409 at the gateway); two scheduler replicas scanning at once return each stale lead to
the pool exactly once (one move, one event per lead)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
from sqlalchemy import func, select

from crm.sales.v1 import sales_pb2 as pb
from crm.sales.v1.sales_pb2_grpc import SalesServiceStub
from crm_sales import jobs
from crm_sales.tables import pool_moves
from crmkit.auth import Principal, mint_token
from crmkit.db import Database
from crmkit.testing import Caller

SECRET = "test-secret-for-shuniu-crm-0123456789"  # the harness's (conftest)
REP3 = Principal("rep.north.3", ("rep",), "north-sales", "north", "周杰")
LEADS = 12


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each result, or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # the loser's RpcError is a result here
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def rep3(sales: Any) -> Caller:
    channel = grpc.insecure_channel(sales.address)
    sales._channels.append(channel)
    return Caller(SalesServiceStub(channel), mint_token(REP3, SECRET))


def pooled_leads(sales: Any, api: Any, n: int) -> list[str]:
    """n leads in north-sales' pool, released by a rep who is not racing for them."""
    for user in ("rep.north.1", "rep.north.2", "rep.north.3"):
        api.admin.UpsertRep(pb.UpsertRepRequest(rep=pb.SalesRep(user_id=user, team="north-sales", region="north",
                                                                  active=True)))
    owner = rep3(sales)
    ids = []
    for i in range(n):
        lead = owner.CreateLead(pb.CreateLeadRequest(lead=pb.Lead(name=f"客户 {i}", company="天津重工")))
        owner.ReleaseLead(pb.ReleaseLeadRequest(id=lead.id, reason="换人跟进"))
        ids.append(lead.id)
    return ids


def test_two_reps_claiming_the_same_lead_at_once_one_wins_the_other_gets_aborted(sales: Any, api: Any) -> None:
    for lead_id in pooled_leads(sales, api, LEADS):
        results = at_once(lambda i=lead_id: api.rep1.ClaimLead(pb.ClaimLeadRequest(id=i)),
                          lambda i=lead_id: api.rep2.ClaimLead(pb.ClaimLeadRequest(id=i)))
        won = [r for r in results if isinstance(r, pb.Lead)]
        lost = [r for r in results if isinstance(r, grpc.RpcError)]
        assert len(won) == 1 and len(lost) == 1, results
        assert lost[0].code() == grpc.StatusCode.ABORTED, lost[0].details()
        held = api.admin.GetLead(pb.GetLeadRequest(id=lead_id))
        assert held.owner_id == won[0].owner_id and not held.in_pool
        kinds = [m.kind for m in api.admin.ListPoolMoves(pb.ListPoolMovesRequest(lead_id=lead_id)).moves]
        assert kinds == ["released", "claimed"]


def test_two_scheduler_replicas_return_each_stale_lead_exactly_once(sales: Any, api: Any) -> None:
    for user in ("rep.north.1", "rep.north.2"):
        api.admin.UpsertRep(pb.UpsertRepRequest(rep=pb.SalesRep(user_id=user, team="north-sales", region="north",
                                                                  active=True)))
    ids = [api.rep1.CreateLead(pb.CreateLeadRequest(lead=pb.Lead(name=f"线索 {i}"))).id for i in range(LEADS)]
    later = sales.clock() + timedelta(days=31)
    replicas = [sales.runtime.db, Database(sales.url)]  # two processes' engines on one database
    try:
        returned = at_once(*[lambda db=db: jobs.return_stale_leads(db, later) for db in replicas])
        assert sum(returned) == LEADS, returned
        assert at_once(*[lambda db=db: jobs.return_stale_leads(db, later) for db in replicas]) == [0, 0]
    finally:
        replicas[1].dispose()
    with sales.runtime.db.read() as session:
        rows = session.execute(select(pool_moves.c.lead_id, func.count()).group_by(pool_moves.c.lead_id)).all()
    per_lead = {lead_id: n for lead_id, n in rows}
    assert per_lead == dict.fromkeys(ids, 1)
    assert sales.events().count("crm.sales.lead.pool_returned") == LEADS
    pool = api.rep2.ListPool(pb.ListPoolRequest()).leads
    assert {lead.id for lead in pool} == set(ids) and all("30" in lead.pool_reason for lead in pool)
