"""Two sales replicas on one PostgreSQL database and one nats-server, as production runs them:
writes spread over both, the scheduler ticking in both every 50 ms, one replica stopped in the
middle of the load. Every acknowledged write is there, and every stalled deal got exactly one
follow-up task and one reminder (the lease lets one replica run the scheduler at a time; the
claims make each job take effect once)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm.common.v1.types_pb2 import Money
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.sales.v1 import sales_pb2 as pb
from crm.sales.v1.sales_pb2_grpc import SalesServiceStub
from crm_fakes.contacts import FakeContacts
from crm_sales import bootstrap
from crm_sales.ports import GrpcContacts
from crmkit.auth import Principal
from crmkit.testing import ManualClock, ServiceHarness, fresh_postgres_database, postgres_reachable, wait_for

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not postgres_reachable(), reason="PostgreSQL not reachable on 127.0.0.1:5432")]

SECRET = "sales-two-replicas-secret-0123456789abcdef"
REP = Principal("rep.north.1", ("rep",), "north-sales", "north", "张伟")
DEALS = 24


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database("crm_sales_replicas") as url:
        yield url


def test_two_sales_replicas_remind_each_stalled_deal_once(database: str, nats_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    contacts = FakeContacts(SECRET).start()
    contacts.add_contact(cpb.Contact(id="c-1", name="c-1", owner_id=REP.user_id, team=REP.team, region=REP.region))
    replicas = []
    for n in range(2):
        (tmp_path / f"r{n}").mkdir()
        replicas.append(ServiceHarness(
            "sales", bootstrap.spec, url=database, nats_url=nats_server.url, tmp=tmp_path / f"r{n}", secret=SECRET,
            users={"rep": REP}, clock=clock, contacts=lambda: GrpcContacts(contacts.address),
            scheduler_interval=0.05))
    replicas[0].migrate()
    try:
        for replica in replicas:
            replica.start()
        reps = [r.as_user("rep", SalesServiceStub) for r in replicas]
        created = []
        for i in range(DEALS):
            rep = reps[i % 2] if i < DEALS // 2 else reps[1]
            opp = rep.CreateOpportunity(pb.CreateOpportunityRequest(opportunity=pb.Opportunity(
                name=f"deal {i}", amount=Money(currency_code="CNY", amount="1000"), expected_close_date="2026-06-30",
                contact_id="c-1")))
            rep.ChangeStage(pb.ChangeStageRequest(id=opp.id, stage="needs_confirmed"))
            created.append(opp.id)
            if i == DEALS // 2:
                clock.advance(days=6)  # the first half stalls while both replicas tick
                replicas[0].stop()  # one replica goes away mid-load (its lease is released)
        clock.advance(days=6)
        survivor = reps[1]

        def tasks_of(opp_id: str) -> list[pb.Task]:
            return list(survivor.ListTasks(pb.ListTasksRequest(related_id=opp_id)).tasks)

        wait_for(lambda: all(tasks_of(o) for o in created), 60, what="a follow-up on every stalled deal")
        for _ in range(5):  # more ticks change nothing
            replicas[1].tick()
        for opp_id in created:
            assert survivor.GetOpportunity(pb.GetOpportunityRequest(id=opp_id)).stage == "needs_confirmed"
            assert len(tasks_of(opp_id)) == 1, f"{opp_id}: a follow-up created twice"
        reminders = survivor.ListReminders(pb.ListRemindersRequest()).reminders
        assert len(reminders) == DEALS and len({r.task_id for r in reminders}) == DEALS
    finally:
        for replica in replicas:
            replica.stop()
        contacts.stop()
