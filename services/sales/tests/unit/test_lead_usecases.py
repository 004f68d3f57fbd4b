"""Lead use cases against the real schema, in milliseconds: capture, scoring, round-robin
assignment, the response deadline the scheduler enforces, conversion through the contacts port,
and interactions from the contacts stream."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.common.v1.types_pb2 import Money
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crm.sales.v1.sales_pb2 import AssignmentRule, ConvertLeadRequest, Lead, SalesRep, SalesSettings
from crm_sales import handlers, jobs
from crm_sales.usecases import conversion, leads, reps, settings, tasks
from crmkit.auth import Principal
from crmkit.errors import FailedPrecondition, PermissionDenied
from crmkit.events import new_event, parse_envelope
from services.sales.tests.fakes import FakeContactsPort

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal("admin", ("admin",), "hq", "")
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")
REP2 = Principal("rep.north.2", ("rep",), "north-sales", "north")
MARKETING = Principal("marketing.1", ("marketing",), "marketing", "")


def north_team(sales: Any, response_hours: int = 24) -> None:
    for user in ("rep.north.1", "rep.north.2"):
        sales.write(lambda uow, u=user: reps.upsert_rep(uow, principal=ADMIN, rep=SalesRep(
            user_id=u, team="north-sales", region="north", active=True)))
    rules = SalesSettings(assignment_rules=[AssignmentRule(
        id="north", strategy="round_robin", members=["rep.north.1", "rep.north.2"], response_hours=response_hours)])
    sales.write(lambda uow: settings.update_settings(uow, now=NOW, principal=ADMIN, patch=rules, mask=["assignment_rules"],
                                                     expected=0))


def capture(sales: Any, **fields: Any) -> Lead:
    return sales.write(lambda uow: leads.create_lead(uow, principal=MARKETING, now=NOW, lead=Lead(**fields),
                                                     channel="web_form"))


def test_captured_leads_are_scored_and_assigned_round_robin(sales: Any) -> None:
    north_team(sales)
    a = capture(sales, name="赵强", company="天津重工", industry="manufacturing", phone="13800138000", budget="500000")
    b = capture(sales, name="钱敏", company="北京软件")
    c = capture(sales, name="孙丽", company="石家庄机械")
    assert [a.owner_id, b.owner_id, c.owner_id] == ["rep.north.1", "rep.north.2", "rep.north.1"]
    assert {i.rule_id: i.points for i in a.score_breakdown} == {
        "industry_manufacturing": 20, "stated_budget": 15, "reachable_by_phone": 5}
    assert (a.score, a.source, a.status, a.phone, a.budget) == (40, "web_form", "new", "+8613800138000", "500000.00")
    assert a.response_due_at.seconds - a.assigned_at.seconds == 24 * 3600
    assert sales.events().count("crm.sales.lead.assigned") == 3


def test_a_rep_cannot_give_a_lead_to_someone_else_nor_assign_leads(sales: Any) -> None:
    with pytest.raises(PermissionDenied) as err:
        sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW,
                                                  lead=Lead(name="王五", owner_id="rep.north.2")))
    assert err.value.field == "owner_id"
    mine = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="王五")))
    assert mine.owner_id == "rep.north.1"
    with pytest.raises(PermissionDenied):
        sales.write(lambda uow: leads.assign_lead(uow, principal=REP1, now=NOW, lead_id=mine.id, owner_id=""))
    moved = sales.write(lambda uow: leads.assign_lead(uow, principal=MANAGER, now=NOW, lead_id=mine.id,
                                                      owner_id="rep.north.2"))
    assert moved.owner_id == "rep.north.2" and moved.version == 2


def test_activity_rescores_and_an_owner_call_counts_as_the_first_response(sales: Any) -> None:
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="冯七")))
    emailed = sales.write(lambda uow: leads.record_activity(
        uow, principal=MARKETING, now=NOW, lead_id=lead.id, kind="inbound_email", count=3, occurred_at=None))
    assert emailed.score == 30 and emailed.status == "new" and not emailed.HasField("first_response_at")
    called = sales.write(lambda uow: leads.record_activity(
        uow, principal=REP1, now=NOW + timedelta(hours=1), lead_id=lead.id, kind="call", count=1, occurred_at=None))
    assert called.status == "working" and called.first_response_at.ToDatetime(tzinfo=UTC) == NOW + timedelta(hours=1)
    assert "crm.sales.lead.scored" in sales.events()


def test_a_lapsed_response_deadline_reminds_and_hands_the_lead_on_once(sales: Any) -> None:
    north_team(sales, response_hours=4)
    answered, ignored = capture(sales, name="快回复"), capture(sales, name="没人理")
    sales.write(lambda uow: leads.record_activity(
        uow, principal=REP1, now=NOW, lead_id=answered.id, kind="call", count=1, occurred_at=None))
    later = NOW + timedelta(hours=5)
    assert jobs.run_due(sales.db, later) == 2          # both deadlines fire; only the ignored one acts
    moved = sales.read(lambda s: leads.get_lead(s, principal=ADMIN, now=later, lead_id=ignored.id))
    assert moved.owner_id == "rep.north.1"
    lapsed = sales.read(lambda s: tasks.list_reminders(s, principal=REP2, user_id=""))
    assert len(lapsed) == 1 and "响应超时" in lapsed[0].message
    assert jobs.run_due(sales.db, later) == 0          # fired once


def qualified(sales: Any) -> Lead:
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
        name="赵强", company="天津重工", email="zhao@tjzg.cn", budget="500000", province="天津")))
    return sales.write(lambda uow: leads.change_status(uow, principal=REP1, now=NOW, lead_id=lead.id,
                                                       status="qualified", reason="", expected=0))


def test_conversion_creates_the_customer_first_and_then_the_deal_once(sales: Any) -> None:
    contacts = FakeContactsPort()
    lead = qualified(sales)
    request = ConvertLeadRequest(id=lead.id, amount=Money(currency_code="CNY", amount="480000"))

    def convert() -> Any:
        customer = sales.read(lambda s: conversion.prepare(s, contacts, principal=REP1, now=NOW,
                                                           authorization="Bearer rep", request=request))
        return sales.write(lambda uow: conversion.convert(uow, principal=REP1, now=NOW, request=request,
                                                          customer=customer))

    done = convert()
    assert contacts.calls == {"CreateAccount": 1, "CreateContact": 1}
    assert set(contacts.keys) == {f"sales-convert-{lead.id}-account", f"sales-convert-{lead.id}-contact"}
    assert contacts.authorizations == ["Bearer rep", "Bearer rep"]      # on the caller's behalf
    [account] = contacts.accounts.values()
    assert (account.name, account.owner_id, account.addresses[0].province) == ("天津重工", "rep.north.1", "天津")
    assert contacts.contacts[done.contact_id].account_id == done.account_id == account.id
    assert (done.lead.status, done.opportunity.budget.amount, done.opportunity.name) == (
        "converted", "500000.00", "天津重工 - 赵强")
    again = convert()   # a retry without a key: the finished conversion, contacts not asked again
    assert again.opportunity.id == done.opportunity.id and contacts.calls["CreateAccount"] == 1
    assert sales.events().count("crm.sales.lead.converted") == 1


def test_only_a_qualified_and_assigned_lead_is_converted_and_contacts_is_not_asked(sales: Any) -> None:
    contacts = FakeContactsPort()
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="钱敏")))
    with pytest.raises(FailedPrecondition, match="qualified"):
        sales.read(lambda s: conversion.prepare(s, contacts, principal=REP1, now=NOW, authorization="",
                                                request=ConvertLeadRequest(id=lead.id)))
    assert not contacts.calls


def test_an_inbound_email_logged_on_a_contact_counts_for_the_lead_with_its_email(sales: Any) -> None:
    lead = capture(sales, name="赵强", email="Zhao.Qiang@Example.cn")
    other = capture(sales, name="钱敏", email="qian@example.cn")
    contact = cpb.Contact(id="c-1", name="赵强", emails=[cpb.Email(address="zhao.qiang@example.cn")])
    email = cpb.Interaction(contact_id="c-1", kind="email", direction="inbound")
    note = cpb.Interaction(contact_id="c-1", kind="note")
    for event_type, payload in ((handlers.CONTACTS.CONTACT_CREATED, cev.ContactCreated(contact=contact)),
                                (handlers.CONTACTS.INTERACTION_LOGGED, cev.InteractionLogged(interaction=note)),
                                (handlers.CONTACTS.INTERACTION_LOGGED, cev.InteractionLogged(interaction=email))):
        assert handlers.wants(event_type)
        envelope = new_event(producer="contacts", event_type=event_type, aggregate_type="contact",
                             aggregate_id="c-1", aggregate_version=1, payload=payload)
        sales.write(lambda uow, e=envelope: handlers.handle(uow, parse_envelope(e.data), now=NOW))
    assert dict(sales.read(lambda s: leads.get_lead(s, principal=ADMIN, now=NOW, lead_id=lead.id)).activity) == {
        "inbound_email": 1}
    assert not sales.read(lambda s: leads.get_lead(s, principal=ADMIN, now=NOW, lead_id=other.id)).activity
    assert not handlers.wants(handlers.CONTACTS.ACCOUNT_CREATED)
