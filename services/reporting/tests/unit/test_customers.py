"""The customer read model (handlers.contacts) and the customer counts (usecases.customers) on
the migrated schema: snapshots applied in any order, any number of times, converge to the newest
one; counts follow the same visibility as contacts."""
from __future__ import annotations

import functools
import itertools
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import Account, Contact, Interaction
from crm.reporting.v1.reporting_pb2 import CustomerCounts, GetCustomerCountsRequest
from crm_devtools.users import DEMO_USERS
from crm_reporting import handlers
from crm_reporting.handlers import contacts
from crm_reporting.tables import customer_tags, customers
from crm_reporting.usecases import customers as reports
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.errors import InvalidArgument
from crmkit.events import new_event, parse_envelope
from crmkit.runtime_tables import inbox_row

ADMIN = DEMO_USERS["admin"]
NOW = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)
apply_snapshot = functools.partial(contacts.apply_snapshot, now=NOW)


def customer_counts(session: Session, principal: Principal, request: GetCustomerCountsRequest) -> CustomerCounts:
    return reports.customer_counts(session, principal=principal, request=request)


def snapshot(contact_id: str, version: int, *, day: str = "2024-05-01", **fields: object) -> Contact:
    fields.setdefault("owner_id", "rep.north.1")
    fields.setdefault("team", "north-sales")
    fields.setdefault("region", "north")
    contact = Contact(id=contact_id, name="张伟", version=version, **fields)  # type: ignore[arg-type]
    contact.created_at.FromDatetime(datetime.fromisoformat(day).replace(hour=23, minute=59, tzinfo=UTC))
    return contact


def row(session: Session, contact_id: str) -> dict[str, object]:
    values = session.execute(select(customers).where(customers.c.contact_id == contact_id)).one()._asdict()
    assert values.pop("first_seen_at") is not None  # stamped when the read model first held it
    values["tags"] = sorted(session.execute(
        select(customer_tags.c.tag).where(customer_tags.c.contact_id == contact_id)).scalars())
    return values


def buckets(items) -> dict[str, int]:
    return {b.key: b.count for b in items}


HISTORY = [
    snapshot("c1", 1, source="website", level="prospect", tags=["a", "b"]),
    snapshot("c1", 2, source="website", level="regular", tags=["b", "c"]),
    snapshot("c1", 3, source="website", level="vip", tags=["c"], region="south", team="south-sales"),
    snapshot("c1", 4, source="website", level="vip", tags=["c", "d"], region="south", team="south-sales"),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=lambda o: "".join(map(str, o)))
def test_snapshots_in_any_order_converge_to_the_newest(session: Session, order: tuple[int, ...]) -> None:
    for i in order:
        apply_snapshot(session, HISTORY[i])
    for i in order:   # and delivered all over again
        assert apply_snapshot(session, HISTORY[i]) is False
    assert row(session, "c1") == {
        "contact_id": "c1", "version": 4, "owner_id": "rep.north.1", "team": "south-sales", "region": "south",
        "source": "website", "level": "vip", "created_day": "2024-05-01", "live": True, "tags": ["c", "d"],
    }


def test_a_newer_snapshot_replaces_the_tags_and_an_older_one_is_ignored(session: Session) -> None:
    assert apply_snapshot(session, HISTORY[0]) is True
    assert row(session, "c1")["tags"] == ["a", "b"]
    assert apply_snapshot(session, HISTORY[1]) is True
    assert row(session, "c1")["tags"] == ["b", "c"]
    assert apply_snapshot(session, HISTORY[0]) is False
    assert row(session, "c1")["tags"] == ["b", "c"] and row(session, "c1")["level"] == "regular"
    untagged = snapshot("c1", 5)
    assert apply_snapshot(session, untagged) is True
    assert row(session, "c1")["tags"] == []


def test_deleted_customers_are_not_counted_whatever_arrives_later(session: Session) -> None:
    apply_snapshot(session, snapshot("c1", 1, source="ads", tags=["x"]))
    apply_snapshot(session, snapshot("c2", 1, source="ads", tags=["x"]))
    assert customer_counts(session, ADMIN, GetCustomerCountsRequest()).total == 2
    apply_snapshot(session, snapshot("c1", 2, source="ads", tags=["x"], deleted=True))
    apply_snapshot(session, snapshot("c1", 1, source="ads", tags=["x"]))   # late redelivery
    counts = customer_counts(session, ADMIN, GetCustomerCountsRequest())
    assert counts.total == 1
    assert buckets(counts.by_source) == {"ads": 1} and buckets(counts.by_tag) == {"x": 1}
    assert row(session, "c1")["live"] is False and row(session, "c1")["tags"] == []


def test_a_deletion_seen_before_the_creation_still_wins(session: Session) -> None:
    apply_snapshot(session, snapshot("c9", 2, deleted=True, merged_into_id="c1"))
    apply_snapshot(session, snapshot("c9", 1))
    assert customer_counts(session, ADMIN, GetCustomerCountsRequest()).total == 0


def _envelope(event_type: str, payload, version: int = 1):
    env = new_event(producer="contacts", event_type=event_type, aggregate_type="contact",
                    aggregate_id=str(uuid.uuid4()), aggregate_version=version, payload=payload)
    return parse_envelope(env.data)


def test_handle_applies_every_contact_snapshot_event_and_ignores_the_rest(db: Database) -> None:
    a = snapshot("a", 1, source="website")
    b = snapshot("b", 1, source="ads")
    survivor = snapshot("a", 3, source="website", tags=["merged"])
    retired = snapshot("b", 2, source="ads", deleted=True, merged_into_id="a")
    events = [
        _envelope("crm.contacts.contact.created", ev.ContactCreated(contact=a)),
        _envelope("crm.contacts.contact.created", ev.ContactCreated(contact=b)),
        _envelope("crm.contacts.contact.updated", ev.ContactUpdated(contact=snapshot("a", 2, source="website"))),
        _envelope("crm.contacts.contact.deleted", ev.ContactDeleted(contact=retired)),
        _envelope("crm.contacts.contact.merged", ev.ContactsMerged(survivor=survivor, merged_ids=["b"])),
        _envelope("crm.contacts.interaction.logged", ev.InteractionLogged(interaction=Interaction(contact_id="a"))),
        _envelope("crm.contacts.account.created", ev.AccountCreated(account=Account(id="acc", name="x"))),
    ]
    for env in events:
        with db.unit_of_work() as uow:
            handlers.handle(uow, env, now=NOW)
            uow.commit()
    with db.read() as s:
        counts = customer_counts(s, ADMIN, GetCustomerCountsRequest())
        assert counts.total == 1 and buckets(counts.by_tag) == {"merged": 1}
        assert row(s, "a")["version"] == 3 and row(s, "b")["live"] is False
        assert s.execute(select(customers.c.contact_id)).scalars().all() == ["a", "b"]


# -- counts ------------------------------------------------------------------------------------

def _seed(session: Session) -> None:
    people = [
        ("n1", "rep.north.1", "north-sales", "north", "website", "vip", ["展会", "key"], "2024-05-01"),
        ("n2", "rep.north.1", "north-sales", "north", "ads", "", ["展会"], "2024-05-01"),
        ("n3", "rep.north.2", "north-sales", "north", "", "regular", [], "2024-05-02"),
        ("s1", "rep.south.1", "south-sales", "south", "website", "vip", ["key"], "2024-05-03"),
        ("s2", "rep.south.2", "south-sales", "south", "website", "prospect", [], "2024-05-03"),
        ("h1", "admin", "hq", "", "referral", "vip", [], "2024-05-04"),
    ]
    for cid, owner, team, region, source, level, tags, day in people:
        apply_snapshot(session, snapshot(cid, 1, owner_id=owner, team=team, region=region,
                                                    source=source, level=level, tags=tags, day=day))
    apply_snapshot(session, snapshot("gone", 2, deleted=True, source="website", day="2024-05-01"))
    session.execute(insert(inbox_row), [
        {"consumer": "reporting", "event_id": f"e{i}", "event_type": "t", "processed_at": datetime.now(UTC)}
        for i in range(9)])


def test_counts_by_source_region_level_tag_and_day(session: Session) -> None:
    _seed(session)
    counts = customer_counts(session, ADMIN, GetCustomerCountsRequest())
    assert counts.total == 6 and counts.events_applied == 9
    assert buckets(counts.by_source) == {"website": 3, "ads": 1, "unknown": 1, "referral": 1}
    assert [b.key for b in counts.by_source][0] == "website"           # largest first
    assert buckets(counts.by_region) == {"north": 3, "south": 2, "": 1}
    assert buckets(counts.by_level) == {"vip": 3, "regular": 1, "prospect": 1, "unknown": 1}
    assert buckets(counts.by_tag) == {"展会": 2, "key": 2}
    assert [(d.day, d.count) for d in counts.new_per_day] == [
        ("2024-05-01", 2), ("2024-05-02", 1), ("2024-05-03", 2), ("2024-05-04", 1)]

    window = customer_counts(session, ADMIN, GetCustomerCountsRequest(from_day="2024-05-02", to_day="2024-05-03"))
    assert [(d.day, d.count) for d in window.new_per_day] == [("2024-05-02", 1), ("2024-05-03", 2)]
    assert window.total == 6     # the window only narrows new_per_day
    south = customer_counts(session, ADMIN, GetCustomerCountsRequest(region="south"))
    assert south.total == 2 and buckets(south.by_level) == {"vip": 1, "prospect": 1}


@pytest.mark.parametrize(("user", "total", "tags"), [
    ("rep.north.1", 2, {"展会": 2, "key": 1}),
    ("rep.north.2", 1, {}),
    ("rep.south.2", 1, {}),
    ("manager.north", 3, {"展会": 2, "key": 1}),
    ("manager.south", 2, {"key": 1}),
    ("admin", 6, {"展会": 2, "key": 2}),
])
def test_counts_only_include_what_the_caller_may_see(session: Session, user: str, total: int, tags: dict) -> None:
    _seed(session)
    counts = customer_counts(session, DEMO_USERS[user], GetCustomerCountsRequest())
    assert counts.total == total
    assert buckets(counts.by_tag) == tags
    assert sum(d.count for d in counts.new_per_day) == total


def test_a_manager_without_a_region_does_not_count_customers_without_one(session: Session) -> None:
    _seed(session)
    key_accounts = Principal("manager.ka", ("manager",), "key-accounts", "")
    assert customer_counts(session, key_accounts, GetCustomerCountsRequest()).total == 0
    analyst = Principal("analyst.1", ("analyst",), "bi", "")
    assert customer_counts(session, analyst, GetCustomerCountsRequest()).total == 6


@pytest.mark.parametrize(("field", "value"), [("from_day", "2024/05/01"), ("to_day", "yesterday"),
                                              ("from_day", "2024-5-1")])
def test_bad_day_is_refused_naming_the_field(session: Session, field: str, value: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        customer_counts(session, ADMIN, GetCustomerCountsRequest(**{field: value}))
    assert err.value.field == field
