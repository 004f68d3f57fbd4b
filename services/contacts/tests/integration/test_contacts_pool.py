"""The public pool of customers with real concurrency, on SQLite and PostgreSQL: two reps claiming
the same pooled customer at once through the running service, exactly one wins and the other gets
ABORTED; two scanning replicas return each neglected customer exactly once."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm_contacts.jobs.pool import return_stale_accounts
from crm_contacts.tables import account_pool_moves
from crmkit.auth import Principal, mint_token
from crmkit.db import Database
from crmkit.testing import Caller

pytestmark = pytest.mark.integration

JWT_SECRET = "contacts-integration-secret-0123456789abcdef"  # the conftest's
RACES = 8


def at_once(*calls: Callable[[], Any]) -> list[Any]:
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


def north_rep(harness: Any, user: str) -> Caller:
    channel = grpc.insecure_channel(harness.address)
    harness._channels.append(channel)
    return Caller(ContactsServiceStub(channel), mint_token(Principal(user, ("rep",), "north-sales", "north"),
                                                           JWT_SECRET))


def test_two_reps_claiming_one_customer_at_once_one_wins(harness: Any, api: Callable[[str], Caller]) -> None:
    owner, a, b = (north_rep(harness, f"rep.pool.{n}") for n in (1, 2, 3))
    for i in range(RACES):
        account = owner.CreateAccount(pb.CreateAccountRequest(account=pb.Account(name=f"公海客户 {i}"),
                                                              allow_duplicate=True))
        owner.ReleaseAccount(pb.ReleaseAccountRequest(id=account.id, reason="换人跟进"))
        results = at_once(lambda i=account.id: a.ClaimAccount(pb.ClaimAccountRequest(id=i)),
                          lambda i=account.id: b.ClaimAccount(pb.ClaimAccountRequest(id=i)))
        won = [r for r in results if isinstance(r, pb.Account)]
        lost = [r for r in results if isinstance(r, grpc.RpcError)]
        assert len(won) == 1 and len(lost) == 1, results
        assert lost[0].code() == grpc.StatusCode.ABORTED, lost[0].details()
        moves = api("admin").ListAccountPoolMoves(pb.ListAccountPoolMovesRequest(account_id=account.id)).moves
        assert [m.kind for m in moves] == ["released", "claimed"] and moves[1].user_id == won[0].owner_id


def test_two_scanning_replicas_return_each_customer_once(harness: Any, contacts: Any) -> None:
    owner = north_rep(harness, "rep.pool.9")
    ids = [owner.CreateAccount(pb.CreateAccountRequest(account=pb.Account(name=f"沉睡客户 {i}"),
                                                       allow_duplicate=True)).id for i in range(RACES)]
    later = datetime.now(UTC) + timedelta(days=31)
    replicas = [contacts.db, Database(contacts.db.url)]
    try:
        returned = at_once(*[lambda db=db: return_stale_accounts(db, later) for db in replicas])
        again = at_once(*[lambda db=db: return_stale_accounts(db, later) for db in replicas])
    finally:
        replicas[1].dispose()
    with contacts.db.read() as session:
        rows = session.execute(select(account_pool_moves.c.account_id, func.count()).where(
            account_pool_moves.c.account_id.in_(ids)).group_by(account_pool_moves.c.account_id)).all()
    assert {account_id: n for account_id, n in rows} == dict.fromkeys(ids, 1)
    assert sum(returned) >= RACES and again == [0, 0]  # (the customers claimed above are due too)
