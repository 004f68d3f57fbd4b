"""The public pool (公海) of customers on the real schema with a controlled clock: an account
whose contacts saw nothing for the team's rule returns to the pool once, with its contacts and the
reason on their timeline; a logged call keeps it; a won deal spares it the conversion clock;
claims keep to the limit and the cool-down, and the rules come from sales' event."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from crm.common.v1.pool_pb2 import PoolRule
from crm.contacts.v1.contacts_pb2 import Account, Contact, Interaction
from crm.sales.v1 import events_pb2 as sev
from crm_contacts import handlers
from crm_contacts.jobs.pool import return_stale_accounts
from crm_contacts.store import pool as rows
from crm_contacts.tables import won_deals
from crm_contacts.usecases import pool, records, timeline
from crmkit.auth import Principal
from crmkit.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from crmkit.events import new_event, parse_envelope
from crmkit.runtime_tables import outbox_row

from .conftest import NOW

REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")
REP2 = Principal("rep.north.2", ("rep",), "north-sales", "north")
SOUTH = Principal("rep.south.1", ("rep",), "south-sales", "south")
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")
ADMIN = Principal("admin", ("admin",))


def customer(contacts: Any, owner: Principal = REP1, name: str = "天津重工") -> tuple[Account, Contact]:
    account = contacts.write(lambda uow: records.create_record(uow, principal=owner, now=NOW, record=Account(
        name=name), allow_duplicate=True))
    person = contacts.write(lambda uow: records.create_record(uow, principal=owner, now=NOW, record=Contact(
        name="赵强", account_id=account.id), allow_duplicate=True))
    return account, person


def sweep(contacts: Any, days: float) -> int:
    return return_stale_accounts(contacts.db, NOW + timedelta(days=days))


def load(contacts: Any, kind: type, record_id: str) -> Any:
    return contacts.read(lambda s: records.store.load(s, kind, record_id))


def publish_rules(contacts: Any, version: int, *rules: PoolRule) -> None:
    subject = "crm.sales.settings.pool_rules_changed"
    env = new_event(producer="sales", event_type=subject, aggregate_type="settings", aggregate_id="sales",
                    aggregate_version=version, payload=sev.PoolRulesChanged(pool_rules=rules, settings_version=version))
    assert handlers.wants(subject)
    contacts.write(lambda uow: handlers.make_handler(lambda: NOW)(uow, parse_envelope(env.data)))


def test_a_customer_nobody_followed_up_returns_once_with_its_contacts(contacts: Any) -> None:
    account, person = customer(contacts)
    assert sweep(contacts, 29) == 0
    assert sweep(contacts, 30) == 1
    assert sweep(contacts, 31) == 0
    back, moved = load(contacts, Account, account.id), load(contacts, Contact, person.id)
    assert back.in_pool and back.owner_id == "" and back.previous_owner_id == "rep.north.1" and "30" in back.pool_reason
    assert moved.owner_id == ""  # the person waits in the pool with the company
    entries = contacts.read(lambda s: timeline.list_timeline(s, principal=ADMIN, contact_id=person.id, page_size=10,
                                                               page_token=""))[0]
    assert [e.kind for e in entries] == ["pool_returned"] and "30" in entries[0].summary
    outbox = contacts.read(lambda s: list(s.execute(select(outbox_row.c.subject)).scalars()))
    assert outbox.count("crm.contacts.account.pool_returned") == 1
    listed, _ = contacts.read(lambda s: pool.list_pool(s, principal=REP2, team="", query="", page_size=10,
                                                       page_token=""))
    assert [a.id for a in listed] == [account.id]
    assert contacts.read(lambda s: pool.list_pool(s, principal=SOUTH, team="", query="", page_size=10,
                                                  page_token=""))[0] == []


def test_a_call_logged_on_one_of_its_contacts_keeps_the_customer(contacts: Any) -> None:
    account, person = customer(contacts)
    call = Interaction(contact_id=person.id, kind="call", direction="outbound", subject="回访")
    call.occurred_at.FromDatetime(NOW + timedelta(days=20))
    contacts.write(lambda uow: timeline.log_interaction(uow, principal=REP1, now=NOW + timedelta(days=20),
                                                        interaction=call))
    assert sweep(contacts, 31) == 0
    assert sweep(contacts, 50) == 1


def test_the_team_rule_comes_from_sales_and_an_older_copy_is_ignored(contacts: Any) -> None:
    publish_rules(contacts, 3, PoolRule(team="north-sales", inactive_days=5))
    publish_rules(contacts, 2, PoolRule(team="north-sales", inactive_days=60))  # late redelivery of an old one
    assert contacts.read(lambda s: rows.rules(s))[1][0].inactive_days == 5
    customer(contacts)
    customer(contacts, owner=SOUTH)
    assert sweep(contacts, 5) == 1  # north's 5 days; south keeps the default 30


def test_claim_limit_cool_down_and_one_winner(contacts: Any) -> None:
    publish_rules(contacts, 1, PoolRule(team="north-sales", inactive_days=30, unconverted_days=90, claim_limit=1,
                                        cooldown_days=7))
    account, person = customer(contacts)
    customer(contacts, owner=REP2, name="自己的客户")
    with pytest.raises(InvalidArgument):
        contacts.write(lambda uow: pool.release(uow, principal=REP1, now=NOW, account_id=account.id, reason=""))
    contacts.write(lambda uow: pool.release(uow, principal=REP1, now=NOW, account_id=account.id, reason="预算冻结"))
    with pytest.raises(FailedPrecondition) as cooling:
        contacts.write(lambda uow: pool.claim(uow, principal=REP1, now=NOW + timedelta(days=1), account_id=account.id))
    assert cooling.value.field == "cooldown_days"
    with pytest.raises(FailedPrecondition) as limit:
        contacts.write(lambda uow: pool.claim(uow, principal=REP2, now=NOW, account_id=account.id))
    assert limit.value.field == "claim_limit" and "allows 1" in limit.value.message
    with pytest.raises(NotFound):
        contacts.write(lambda uow: pool.claim(uow, principal=SOUTH, now=NOW, account_id=account.id))
    given = contacts.write(lambda uow: pool.assign(uow, principal=MANAGER, now=NOW, account_id=account.id,
                                                   owner_id="rep.north.2"))
    assert given.owner_id == "rep.north.2" and load(contacts, Contact, person.id).owner_id == "rep.north.2"
    with pytest.raises(Conflict):
        contacts.write(lambda uow: pool.claim(uow, principal=REP1, now=NOW + timedelta(days=8), account_id=account.id))
    moves = contacts.read(lambda s: pool.pool_history(s, principal=REP2, account_id=account.id))
    assert [(m.kind, m.user_id) for m in moves] == [("released", "rep.north.1"), ("assigned", "rep.north.2")]


def test_a_new_owner_by_an_edit_restarts_the_clock(contacts: Any) -> None:
    account, _ = customer(contacts)
    later = NOW + timedelta(days=25)
    contacts.write(lambda uow: records.update_record(uow, principal=MANAGER, now=later, patch=Account(
        id=account.id, owner_id="rep.north.2"), mask=["owner_id"], expected_version=0))
    assert sweep(contacts, 31) == 0
    assert sweep(contacts, 56) == 1


def test_a_customer_with_a_won_deal_is_not_taken_back_by_the_conversion_clock(contacts: Any) -> None:
    publish_rules(contacts, 1, PoolRule(team="", inactive_days=0, unconverted_days=90))
    won, _ = customer(contacts, name="赢单客户")
    idle, _ = customer(contacts, name="未成交客户")
    contacts.write(lambda uow: uow.session.execute(insert(won_deals).values(
        opportunity_id="opp-1", version=1, won=True, account_id=won.id, year=2026, currency="CNY", amount_cents=100)))
    assert sweep(contacts, 90) == 1
    assert not load(contacts, Account, won.id).in_pool and load(contacts, Account, idle.id).in_pool
