"""The CONTACTS stream into the projection: snapshots (consent changes included) win by version
whatever their order, deletions and merges suppress, and other events change nothing."""
from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crm_marketing import handlers
from crm_marketing.store import projection
from crm_marketing.usecases import projection as projecting
from crmkit.events import new_event, parse_envelope

from .conftest import NOW


def deliver(store: Any, event_type: str, payload: Message, aggregate_id: str = "c-1") -> None:
    envelope = parse_envelope(new_event(producer="contacts", event_type=event_type, aggregate_type="contact",
                                        aggregate_id=aggregate_id, aggregate_version=1, payload=payload).data)
    store.write(lambda uow: handlers.handle(uow, envelope, now=NOW))


def contact(version: int, *, granted: bool | None = None, **fields: Any) -> cpb.Contact:
    c = cpb.Contact(id="c-1", name="王强", version=version, emails=[cpb.Email(address="WQ@Example.cn")],
                    preferences={"language": "en-US"}, tags=["vip"], **fields)
    if granted is not None:
        c.consents.add(purpose="marketing_email", granted=granted).at.FromDatetime(NOW)
    return c


def test_snapshots_fill_the_projection_and_the_newest_version_wins(store: Any) -> None:
    H = handlers.CONTACTS
    deliver(store, H.CONTACT_CREATED, cev.ContactCreated(contact=contact(1)))
    row = store.read(lambda s: projection.get(s, "c-1"))
    assert (row.email, row.language, row.consents) == ("wq@example.cn", "en", {})
    assert store.read(lambda s: projection.tagged(s, ["vip"])) == ["c-1"]
    deliver(store, H.CONSENT_CHANGED, cev.ConsentChanged(contact=contact(3, granted=True)))
    deliver(store, H.CONTACT_UPDATED, cev.ContactUpdated(contact=contact(2, title="stale")))  # late, older
    row = store.read(lambda s: projection.get(s, "c-1"))
    assert row.version == 3 and row.consents["marketing_email"].granted and row.title == ""
    deliver(store, H.CONTACT_DELETED, cev.ContactDeleted(contact=contact(4, granted=True)))
    assert store.read(lambda s: projection.get(s, "c-1")).suppressed == "deleted"


def test_merged_away_contacts_stay_suppressed_and_the_rest_is_ignored(store: Any) -> None:
    H = handlers.CONTACTS
    deliver(store, H.CONTACT_CREATED, cev.ContactCreated(contact=contact(1, granted=True)))
    survivor = cpb.Contact(id="c-2", name="王强", version=5, emails=[cpb.Email(address="wq@example.cn")])
    deliver(store, H.CONTACT_MERGED, cev.ContactsMerged(survivor=survivor, merged_ids=["c-1"]), "c-2")
    deliver(store, H.CONTACT_UPDATED, cev.ContactUpdated(contact=contact(9, granted=True)))  # a stale replay
    assert store.read(lambda s: projection.get(s, "c-1")).suppressed == "merged"
    assert store.read(lambda s: projection.get(s, "c-2")).suppressed == ""
    assert not handlers.wants(H.ACCOUNT_CREATED) and handlers.wants(H.CONSENT_CHANGED)
    deliver(store, H.ACCOUNT_CREATED, cev.AccountCreated(account=cpb.Account(id="a-1")))


def test_a_freeze_projects_its_segment_members_in_bulk_with_the_same_newest_wins_rule(store: Any) -> None:
    """waves.create projects every member contacts listed (apply_contacts, a page of statements at
    a time): new ones arrive, older snapshots than ours change nothing, tags are replaced."""
    deliver(store, handlers.CONTACTS.CONTACT_CREATED, cev.ContactCreated(contact=contact(5, granted=True)))
    stale = contact(4, granted=False, title="stale")
    newer = cpb.Contact(id="c-2", name="李娜", version=2, emails=[cpb.Email(address="ln@example.cn")], tags=["new"])
    older_copy = cpb.Contact(id="c-2", name="李娜 (old)", version=1, tags=["old"])
    store.write(lambda uow: projecting.apply_contacts(uow.session, [stale, newer, older_copy], NOW, page=2))
    kept = store.read(lambda s: projection.get(s, "c-1"))
    assert (kept.version, kept.title, kept.consents["marketing_email"].granted) == (5, "", True)
    assert store.read(lambda s: projection.get(s, "c-2")).name == "李娜"  # the later page's older copy lost
    retagged = cpb.Contact(id="c-1", name="王强", version=6, emails=[cpb.Email(address="wq@example.cn")],
                           tags=["gold"])
    store.write(lambda uow: projecting.apply_contacts(uow.session, [retagged], NOW))
    assert store.read(lambda s: (projection.tagged(s, ["vip"]), projection.tagged(s, ["gold", "new"]))) == (
        [], ["c-1", "c-2"])
