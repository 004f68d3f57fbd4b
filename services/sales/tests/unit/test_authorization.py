"""Authorization findings in sales, as a second rep and a manager of another region would try
them: a rep cannot file a lead or a deal in another region or team; a deal, a task or a lead
conversion cannot name an account or contact the caller cannot see in contacts (it would write
into that customer's timeline), nor a task hang on someone else's deal; a delegation ends early."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.common.v1.types_pb2 import Money
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.sales.v1.sales_pb2 import ConvertLeadRequest, Delegation, Lead, LeadFilter, Opportunity, SalesRep, Task
from crm_sales import jobs
from crm_sales.usecases import conversion, leads, opportunities, ownership, reps, tasks
from crm_sales.usecases.access import check_customer, deal_customer
from crmkit.auth import Principal
from crmkit.errors import NotFound, PermissionDenied
from services.sales.tests.fakes import FakeContactsPort

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal("admin", ("admin",), "hq", "")
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")
SOUTH_MANAGER = Principal("manager.south", ("manager",), "south-sales", "south")
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")
REP2 = Principal("rep.north.2", ("rep",), "north-sales", "north")


def opp_of(sales: Any, who: Principal, **fields: Any) -> Opportunity:
    opp = Opportunity(name="唐山钢铁 MES", amount=Money(currency_code="CNY", amount="100000"), **fields)
    return sales.write(lambda uow: opportunities.create(uow, principal=who, now=NOW, opp=opp))


def test_a_rep_cannot_file_a_lead_or_a_deal_in_another_region_or_team(sales: Any) -> None:
    with pytest.raises(PermissionDenied) as refused:
        sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="李雷", region="south")))
    assert refused.value.field == "region"
    for fields in ({"region": "south"}, {"team": "south-sales"}):
        with pytest.raises(PermissionDenied):
            opp_of(sales, REP1, **fields)
    assert opp_of(sales, REP1, region="north").region == "north"      # their own: fine
    assert opp_of(sales, MANAGER, owner_id="rep.north.1", region="north").team == "north-sales"
    with pytest.raises(PermissionDenied):
        opp_of(sales, MANAGER, owner_id="rep.north.1", region="south", team="south-sales")
    assert opp_of(sales, ADMIN, owner_id="rep.south.1", region="south").region == "south"


def test_a_rep_cannot_move_a_lead_to_another_region_a_manager_of_its_team_can(sales: Any) -> None:
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="李雷")))

    def move(who: Principal) -> Lead:
        return sales.write(lambda uow: leads.update_lead(uow, principal=who, now=NOW, patch=Lead(
            id=lead.id, region="south"), mask=["region"], expected=0))

    with pytest.raises(PermissionDenied):
        move(REP1)
    with pytest.raises(NotFound):
        move(SOUTH_MANAGER)                        # not theirs to see at all
    assert move(MANAGER).region == "south"         # still in their team's view


def test_a_deal_keeps_its_accounts_name_read_once_and_never_one_the_caller_cannot_see() -> None:
    contacts = FakeContactsPort()
    contacts.accounts["acc-mine"] = cpb.Account(id="acc-mine", name="天津重工")
    assert deal_customer(contacts, principal=REP1, authorization="Bearer rep", account_id="acc-mine",
                         contact_id="", given_name="") == "天津重工"
    assert contacts.calls["GetAccount"] == 1  # the name's read is the account's check too
    with pytest.raises(NotFound) as refused:
        deal_customer(contacts, principal=REP1, authorization="Bearer rep", account_id="acc-theirs",
                      contact_id="", given_name="")
    assert refused.value.field == "account_id"
    assert deal_customer(contacts, principal=REP1, authorization="Bearer rep", account_id="acc-mine",
                         contact_id="", given_name="天津重工集团") == "天津重工集团"  # what the client gave wins
    assert deal_customer(contacts, principal=ADMIN, authorization="Bearer admin", account_id="acc-gone",
                         contact_id="", given_name="") == ""  # an admin is not checked


def test_a_deal_or_a_conversion_cannot_name_a_customer_the_caller_cannot_see(sales: Any) -> None:
    contacts = FakeContactsPort()
    contacts.visible.add(("account", "acc-mine"))
    check_customer(contacts, principal=REP1, authorization="Bearer rep", account_id="acc-mine")
    with pytest.raises(NotFound) as refused:
        check_customer(contacts, principal=REP1, authorization="Bearer rep", account_id="acc-mine",
                       contact_id="con-theirs")
    assert refused.value.field == "contact_id"
    assert contacts.authorizations == ["Bearer rep", "Bearer rep", "Bearer rep"]   # asked as the caller

    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="赵强", company="天津重工", budget="500000")))
    sales.write(lambda uow: leads.change_status(uow, principal=REP1, now=NOW, lead_id=lead.id, status="qualified",
                                                reason="", expected=0))
    with pytest.raises(NotFound) as conv:
        sales.read(lambda s: conversion.prepare(s, contacts, principal=REP1, now=NOW, authorization="Bearer rep",
                                                request=ConvertLeadRequest(id=lead.id,
                                                                           existing_account_id="acc-theirs")))
    assert conv.value.field == "existing_account_id"
    assert contacts.calls["CreateAccount"] == 0 and contacts.calls["CreateContact"] == 0


def test_a_task_cannot_hang_on_someone_elses_deal(sales: Any) -> None:
    theirs = opp_of(sales, REP2)
    with pytest.raises(NotFound) as refused:
        sales.write(lambda uow: tasks.create_task(uow, principal=REP1, now=NOW, task=Task(
            title="回访", related_type="opportunity", related_id=theirs.id)))
    assert refused.value.field == "related_id"
    made = sales.write(lambda uow: tasks.create_task(uow, principal=REP2, now=NOW, task=Task(
        title="回访", related_type="opportunity", related_id=theirs.id)))
    assert made.related_id == theirs.id


def test_a_delegation_ends_early_and_the_delegate_loses_the_records(sales: Any) -> None:
    opp = opp_of(sales, REP1)
    d = Delegation(from_user_id="rep.north.1", to_user_id="rep.north.2")
    d.ends_at.FromDatetime(NOW + timedelta(days=7))
    made = sales.write(lambda uow: ownership.delegate(uow, principal=REP1, now=NOW, delegation=d))
    later = NOW + timedelta(days=1)
    assert sales.read(lambda s: opportunities.get(s, principal=REP2, now=later, opp_id=opp.id)).id == opp.id
    outsider = Principal("rep.south.1", ("rep",), "south-sales", "south")
    with pytest.raises(PermissionDenied):
        sales.write(lambda uow: ownership.end_delegation(uow, principal=outsider, now=later, delegation_id=made.id,
                                                         reason=""))
    ended = sales.write(lambda uow: ownership.end_delegation(uow, principal=REP1, now=later, delegation_id=made.id,
                                                             reason="back early"))
    assert ended.revoked and ended.ends_at.ToDatetime(UTC) == later
    with pytest.raises(NotFound):
        sales.read(lambda s: opportunities.get(s, principal=REP2, now=later + timedelta(minutes=1), opp_id=opp.id))
    assert sales.events()[-1] == "crm.sales.delegation.ended"
    again = sales.write(lambda uow: ownership.end_delegation(uow, principal=REP1, now=later, delegation_id=made.id,
                                                             reason=""))
    assert again.revoked and sales.events().count("crm.sales.delegation.ended") == 1


def test_a_manager_delegates_only_the_work_of_their_own_team_or_region(sales: Any) -> None:
    """A north manager lent a south rep's work to a north rep, who then read every south lead and
    customer of that rep."""
    for user, team, region in (("rep.south.1", "south-sales", "south"), ("rep.north.1", "north-sales", "north")):
        sales.write(lambda uow, u=user, t=team, r=region: reps.upsert_rep(
            uow, principal=ADMIN, rep=SalesRep(user_id=u, team=t, region=r, active=True)))

    def lend(who: Principal, from_user: str) -> Delegation:
        d = Delegation(from_user_id=from_user, to_user_id="rep.north.2")
        d.ends_at.FromDatetime(NOW + timedelta(days=7))
        return sales.write(lambda uow: ownership.delegate(uow, principal=who, now=NOW, delegation=d))

    for outside in ("rep.south.1", "someone.unknown"):
        with pytest.raises(PermissionDenied) as refused:
            lend(MANAGER, outside)
        assert refused.value.field == "from_user_id"
    assert lend(MANAGER, "rep.north.1").from_user_id == "rep.north.1"
    assert lend(SOUTH_MANAGER, "rep.south.1").from_user_id == "rep.south.1"
    assert lend(ADMIN, "someone.unknown").from_user_id == "someone.unknown"


def test_a_manager_reads_the_reminders_of_their_own_team_or_region_only(sales: Any) -> None:
    """Any manager read any rep's reminders (the task titles: who to call about what), while the
    tasks themselves stayed hidden from another region's manager."""
    sales.write(lambda uow: reps.upsert_rep(uow, principal=ADMIN, rep=SalesRep(
        user_id="rep.north.1", team="north-sales", region="north", active=True)))
    item = Task(title="给唐山钢铁赵总回电话")
    item.remind_at.FromDatetime(NOW + timedelta(hours=1))
    sales.write(lambda uow: tasks.create_task(uow, principal=REP1, now=NOW, task=item))
    assert jobs.run_due(sales.db, NOW + timedelta(hours=2)) == 1
    with pytest.raises(PermissionDenied) as refused:
        sales.read(lambda s: tasks.list_reminders(s, principal=SOUTH_MANAGER, user_id="rep.north.1"))
    assert refused.value.field == "user_id"
    [seen] = sales.read(lambda s: tasks.list_reminders(s, principal=MANAGER, user_id="rep.north.1"))
    assert "赵总" in seen.message


def test_an_analyst_reads_leads_with_phone_and_email_masked(sales: Any) -> None:
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="李雷", phone="13800138000", email="li.lei@tjport.example")))
    analyst = Principal("ana.1", ("analyst",), "bi", "")
    seen = sales.read(lambda s: leads.get_lead(s, principal=analyst, now=NOW, lead_id=lead.id))
    assert (seen.phone, seen.email) == ("+861******8000", "l***@tjport.example")
    listed, _ = sales.read(lambda s: leads.list_leads(s, principal=analyst, now=NOW, flt=LeadFilter(), page_size=10,
                                                      page_token=""))
    assert [x.email for x in listed] == ["l***@tjport.example"]
    own = sales.read(lambda s: leads.get_lead(s, principal=REP1, now=NOW, lead_id=lead.id))
    assert own.email == "li.lei@tjport.example"



def test_an_analyst_does_not_read_an_imported_leads_unverified_phone_as_typed(sales: Any) -> None:
    # An import keeps a phone that does not validate as typed (phone_raw) beside its digits.
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, channel="import", lead=Lead(
        name="周八", phone="14012345678", phone_raw="140 1234 5678", phone_unverified=True)))
    analyst = Principal("ana.1", ("analyst",), "bi", "")
    seen = sales.read(lambda s: leads.get_lead(s, principal=analyst, now=NOW, lead_id=lead.id))
    assert "1234" not in seen.phone_raw and "1234" not in seen.phone and seen.phone_unverified
    listed, _ = sales.read(lambda s: leads.list_leads(s, principal=analyst, now=NOW, flt=LeadFilter(), page_size=10,
                                                      page_token=""))
    assert [x.phone_raw for x in listed] == [seen.phone]
    own = sales.read(lambda s: leads.get_lead(s, principal=REP1, now=NOW, lead_id=lead.id))
    assert own.phone_raw == "140 1234 5678"


def test_marketing_reports_a_visit_on_any_lead_but_reads_nothing_of_one_it_may_not_see(sales: Any) -> None:
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="李雷", company="天津港集团", phone="13800138000", email="li.lei@tjport.example")))
    marketer = Principal("marketing.hq", ("marketing",), "marketing", "")
    answer = sales.write(lambda uow: leads.record_activity(uow, principal=marketer, now=NOW, lead_id=lead.id,
                                                           kind="web_visit", count=1, occurred_at=None))
    assert answer.id == lead.id and answer.activity["web_visit"] == 1
    assert (answer.name, answer.phone, answer.email, answer.owner_id) == ("", "", "", "")
    with pytest.raises(NotFound):  # a call is the owner's to log, on a lead its author may see
        sales.write(lambda uow: leads.record_activity(uow, principal=marketer, now=NOW, lead_id=lead.id,
                                                      kind="call", count=1, occurred_at=None))
    own = sales.read(lambda s: leads.get_lead(s, principal=REP1, now=NOW, lead_id=lead.id))
    assert own.activity["web_visit"] == 1 and "call" not in own.activity and own.email == "li.lei@tjport.example"
