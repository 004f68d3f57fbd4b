"""The public pool's use cases on the real schema with a controlled clock: a lead nobody followed
up returns to its team's pool once (and a follow-up keeps it), a rep claims it within the limit
and outside the cool-down, releases it with a reason, a manager assigns it; every move is in the
lead's pool history, the outbox and the audit log, and leaves with the person's data."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crm.common.v1.pool_pb2 import PoolRule
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crm.privacy.v1.privacy_pb2 import Subject
from crm.sales.v1.sales_pb2 import Lead, SalesRep, SalesSettings, Task
from crm_sales import handlers, jobs
from crm_sales.tables import pool_moves
from crm_sales.usecases import leads, pool, reps, settings, tasks
from crm_sales.usecases.subject import HOLDINGS
from crmkit.auth import Principal
from crmkit.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crmkit.events import new_event, parse_envelope
from crmkit.privacy import erase, export
from crmkit.runtime_tables import audit_row as audit_log

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal("admin", ("admin",), "hq", "")
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")
REP2 = Principal("rep.north.2", ("rep",), "north-sales", "north")
SOUTH = Principal("rep.south.1", ("rep",), "south-sales", "south")


@pytest.fixture
def team(sales: Any) -> Any:
    for p in (REP1, REP2, SOUTH):
        sales.write(lambda uow, p=p: reps.upsert_rep(uow, principal=ADMIN, rep=SalesRep(
            user_id=p.user_id, team=p.team, region=p.region, active=True)))
    return sales


def rule(sales: Any, **fields: Any) -> None:
    current = sales.read(lambda s: settings.current(s))
    patch = SalesSettings(pool_rules=[PoolRule(team="north-sales", **fields)])
    sales.write(lambda uow: settings.update_settings(uow, now=NOW, principal=ADMIN, patch=patch, mask=["pool_rules"],
                                                     expected=current.version))


def new_lead(sales: Any, owner: Principal = REP1, at: datetime = NOW, name: str = "赵强") -> Lead:
    return sales.write(lambda uow: leads.create_lead(uow, principal=owner, now=at, lead=Lead(
        name=name, company="天津重工")))


def sweep(sales: Any, at: datetime) -> int:
    return jobs.return_stale_leads(sales.db, at)


def get(sales: Any, lead_id: str) -> Lead:
    return sales.read(lambda s: leads.get_lead(s, principal=ADMIN, now=NOW, lead_id=lead_id))


def test_a_lead_without_follow_up_returns_to_its_team_pool_once_with_the_reason(team: Any) -> None:
    lead = new_lead(team)
    assert sweep(team, NOW + timedelta(days=29)) == 0
    assert sweep(team, NOW + timedelta(days=30)) == 1
    assert sweep(team, NOW + timedelta(days=31)) == 0  # once
    back = get(team, lead.id)
    assert back.in_pool and back.owner_id == "" and back.previous_owner_id == "rep.north.1"
    assert "30" in back.pool_reason and back.team == "north-sales"
    moves = team.read(lambda s: pool.pool_history(s, principal=REP2, now=NOW, lead_id=lead.id))
    assert [(m.kind, m.user_id, m.actor_id) for m in moves] == [("returned", "rep.north.1", "system")]
    assert "crm.sales.lead.pool_returned" in team.events()
    audited = team.read(lambda s: s.execute(select(audit_log.c.action).where(
        audit_log.c.record_id == lead.id)).scalars().all())
    assert "pool_returned" in audited


def test_a_logged_call_a_task_or_a_status_change_keeps_the_lead_with_its_rep(team: Any) -> None:
    called, tasked, moved = (new_lead(team, name=n) for n in ("a", "b", "c"))
    later = NOW + timedelta(days=20)
    team.write(lambda uow: leads.record_activity(uow, principal=REP1, now=later, lead_id=called.id, kind="call",
                                                 count=1, occurred_at=None))
    team.write(lambda uow: tasks.create_task(uow, principal=REP1, now=later, task=Task(
        title="回访", related_type="lead", related_id=tasked.id)))
    team.write(lambda uow: leads.change_status(uow, principal=REP1, now=later, lead_id=moved.id, status="working",
                                               reason="", expected=0))
    assert sweep(team, NOW + timedelta(days=31)) == 0
    assert sweep(team, later + timedelta(days=30)) == 3


def test_a_team_rule_saved_by_an_admin_changes_when_leads_return(team: Any) -> None:
    rule(team, inactive_days=5, unconverted_days=0, claim_limit=50, cooldown_days=7)
    north, south = new_lead(team), new_lead(team, owner=SOUTH)
    assert sweep(team, NOW + timedelta(days=5)) == 1  # south keeps the default 30 days
    assert get(team, north.id).in_pool and not get(team, south.id).in_pool
    with pytest.raises(PermissionDenied):
        team.write(lambda uow: settings.update_settings(uow, now=NOW, principal=MANAGER, patch=SalesSettings(
            pool_rules=[PoolRule()]), mask=["pool_rules"], expected=0))


def test_claim_release_and_the_cool_down(team: Any) -> None:
    lead = new_lead(team)
    with pytest.raises(InvalidArgument):
        team.write(lambda uow: pool.release(uow, principal=REP1, now=NOW, lead_id=lead.id, reason=" "))
    team.write(lambda uow: pool.release(uow, principal=REP1, now=NOW, lead_id=lead.id, reason="客户暂无预算"))
    listed, _ = team.read(lambda s: pool.list_pool(s, principal=REP2, team="", query="", page_size=10, page_token=""))
    assert [item.id for item in listed] == [lead.id]
    assert team.read(lambda s: pool.list_pool(s, principal=SOUTH, team="", query="", page_size=10,
                                              page_token=""))[0] == []  # another team's pool
    with pytest.raises(NotFound):
        team.write(lambda uow: pool.claim(uow, principal=SOUTH, now=NOW, lead_id=lead.id))
    with pytest.raises(FailedPrecondition) as cooling:
        team.write(lambda uow: pool.claim(uow, principal=REP1, now=NOW + timedelta(days=6), lead_id=lead.id))
    assert cooling.value.field == "cooldown_days"
    claimed = team.write(lambda uow: pool.claim(uow, principal=REP2, now=NOW + timedelta(days=1), lead_id=lead.id))
    assert claimed.owner_id == "rep.north.2" and not claimed.in_pool
    with pytest.raises(Conflict):  # the second claimant finds it taken
        team.write(lambda uow: pool.claim(uow, principal=REP1, now=NOW + timedelta(days=8), lead_id=lead.id))
    moves = team.read(lambda s: pool.pool_history(s, principal=REP2, now=NOW, lead_id=lead.id))
    assert [(m.kind, m.user_id, m.reason) for m in moves][0] == ("released", "rep.north.1", "客户暂无预算")
    assert [m.kind for m in moves] == ["released", "claimed"]


def test_a_rep_at_the_claim_limit_is_refused_naming_it(team: Any) -> None:
    rule(team, inactive_days=30, unconverted_days=90, claim_limit=2, cooldown_days=7)
    new_lead(team, owner=REP2, name="held 1")
    new_lead(team, owner=REP2, name="held 2")
    spare = new_lead(team)
    team.write(lambda uow: pool.release(uow, principal=REP1, now=NOW, lead_id=spare.id, reason="换人跟进"))
    with pytest.raises(FailedPrecondition) as refused:
        team.write(lambda uow: pool.claim(uow, principal=REP2, now=NOW, lead_id=spare.id))
    assert refused.value.field == "claim_limit" and "2" in refused.value.message
    assert get(team, spare.id).in_pool  # nothing changed


def test_a_manager_assigns_from_the_pool_to_a_rep_of_the_team_only(team: Any) -> None:
    lead = new_lead(team)
    team.write(lambda uow: pool.release(uow, principal=REP1, now=NOW, lead_id=lead.id, reason="离职交接"))
    with pytest.raises(PermissionDenied):
        team.write(lambda uow: pool.assign(uow, principal=REP2, now=NOW, lead_id=lead.id, owner_id="rep.north.2"))
    with pytest.raises(FailedPrecondition) as other_team:
        team.write(lambda uow: pool.assign(uow, principal=MANAGER, now=NOW, lead_id=lead.id, owner_id="rep.south.1"))
    assert other_team.value.field == "owner_id"
    given = team.write(lambda uow: pool.assign(uow, principal=MANAGER, now=NOW, lead_id=lead.id,
                                               owner_id="rep.north.1"))  # no cool-down for a manager's choice
    assert given.owner_id == "rep.north.1" and not given.in_pool
    assert "crm.sales.lead.pool_assigned" in team.events()
    # the new holder's clock starts at the assignment
    assert sweep(team, NOW + timedelta(days=29)) == 0


def test_a_manager_assigns_from_the_pool_without_a_rep_roster(sales: Any) -> None:
    # `make run` and a fresh install have no roster (PUT /sales/reps): assign_lead accepts any
    # user there, and so must the pool's assign, keeping the lead in its team.
    lead = new_lead(sales)
    sales.write(lambda uow: pool.release(uow, principal=REP1, now=NOW, lead_id=lead.id, reason="离职交接"))
    given = sales.write(lambda uow: pool.assign(uow, principal=MANAGER, now=NOW, lead_id=lead.id,
                                                owner_id="rep.north.2"))
    assert (given.owner_id, given.team, given.in_pool) == ("rep.north.2", "north-sales", False)


def test_a_manager_cannot_assign_from_the_pool_to_an_inactive_rep(team: Any) -> None:
    team.write(lambda uow: reps.upsert_rep(uow, principal=ADMIN, rep=SalesRep(
        user_id="rep.north.9", team="north-sales", region="north", active=False)))
    lead = new_lead(team)
    team.write(lambda uow: pool.release(uow, principal=REP1, now=NOW, lead_id=lead.id, reason="离职交接"))
    with pytest.raises(FailedPrecondition) as inactive:
        team.write(lambda uow: pool.assign(uow, principal=MANAGER, now=NOW, lead_id=lead.id, owner_id="rep.north.9"))
    assert inactive.value.field == "owner_id" and get(team, lead.id).in_pool


def test_a_data_subject_erasure_takes_the_lead_s_pool_history_with_it(team: Any) -> None:
    lead = team.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="韩梅梅", email="han.meimei@example.com")))
    team.write(lambda uow: pool.release(uow, principal=REP1, now=NOW, lead_id=lead.id, reason="韩女士说明年再联系"))
    person = Subject(emails=["han.meimei@example.com"])
    exported = team.read(lambda s: export(s, HOLDINGS, person))
    assert [m["reason"] for m in exported.sections["pool moves"]] == ["韩女士说明年再联系"]
    team.write(lambda uow: erase(uow.session, HOLDINGS, person))
    assert team.read(lambda s: s.execute(select(pool_moves.c.seq).where(pool_moves.c.lead_id == lead.id)).all()) == []


def test_a_note_logged_on_the_lead_s_contact_counts_as_a_follow_up(team: Any) -> None:
    lead = team.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="赵强", email="zhao.qiang@example.cn")))
    contact = cpb.Contact(id="c-1", name="赵强", emails=[cpb.Email(address="zhao.qiang@example.cn")])
    note = cpb.Interaction(contact_id="c-1", kind="note", content="客户说下月再谈")
    note.occurred_at.FromDatetime(NOW + timedelta(days=25))
    for event_type, payload in ((handlers.CONTACTS.CONTACT_CREATED, cev.ContactCreated(contact=contact)),
                                (handlers.CONTACTS.INTERACTION_LOGGED, cev.InteractionLogged(interaction=note))):
        envelope = new_event(producer="contacts", event_type=event_type, aggregate_type="contact",
                             aggregate_id="c-1", aggregate_version=1, payload=payload)
        team.write(lambda uow, e=envelope: handlers.handle(uow, parse_envelope(e.data), now=NOW + timedelta(days=25)))
    assert not get(team, lead.id).activity  # not scored
    assert sweep(team, NOW + timedelta(days=40)) == 0
    assert sweep(team, NOW + timedelta(days=55)) == 1
