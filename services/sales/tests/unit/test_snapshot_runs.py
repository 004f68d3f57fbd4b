"""A consumer batch through the batch handler (runs of contact snapshots as one replace of their
emails) leaves every table exactly as applying its events one by one does: a contact twice in the
batch, a late older snapshot (stream order wins here), deletions, a merge, and the interactions
between them that score the open leads matched on those emails."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crm.sales.v1.sales_pb2 import Lead
from crm_sales import handlers
from crm_sales.usecases import leads
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.event_runs import runs
from crmkit.events import new_event, parse_envelope
from crmkit.testing import ManualClock, counted_uuids, every_row

C = handlers.CONTACTS
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MARKETING = Principal("marketing.1", ("marketing",), "marketing", "")


def person(contact_id: str, version: int, *emails: str, deleted: bool = False) -> cpb.Contact:
    return cpb.Contact(id=contact_id, name=f"客户 {contact_id}", version=version, deleted=deleted,
                       emails=[cpb.Email(address=e) for e in emails])


def event(event_type: str, payload: Message, aggregate_id: str, version: int = 1) -> EventEnvelope:
    return parse_envelope(new_event(producer="contacts", event_type=event_type,
                                    aggregate_type=event_type.split(".")[2], aggregate_id=aggregate_id,
                                    aggregate_version=version, payload=payload, occurred_at=NOW).data)


def logged(contact_id: str, kind: str, direction: str = "") -> EventEnvelope:
    interaction = cpb.Interaction(id=f"i-{contact_id}-{kind}", contact_id=contact_id, kind=kind, direction=direction)
    interaction.occurred_at.FromDatetime(NOW)
    return event(C.INTERACTION_LOGGED, cev.InteractionLogged(interaction=interaction), interaction.id)


def batch() -> list[EventEnvelope]:
    """An import's contacts with a few edits and interactions between them, in stream order."""
    return [
        event(C.CONTACT_CREATED, cev.ContactCreated(contact=person("c-1", 1, "Zhao@X.cn", " zhao@x.cn ")), "c-1"),
        event(C.CONTACT_CREATED, cev.ContactCreated(contact=person("c-2", 2, "qian@x.cn")), "c-2", 2),
        event(C.CONTACT_UPDATED, cev.ContactUpdated(contact=person("c-held", 2, "sun@x.cn")), "c-held", 2),
        event(C.CONTACT_CREATED, cev.ContactCreated(contact=person("c-3", 1)), "c-3"),
        # c-1 again: the next run
        event(C.CONTACT_TAGGED, cev.ContactTagged(contact=person("c-1", 2, "zhao@x.cn", "li@x.cn")), "c-1", 2),
        event(C.CONTACT_UPDATED, cev.ContactUpdated(contact=person("c-2", 1, "old@x.cn")), "c-2", 1),  # older
        logged("c-1", "email", "inbound"),  # scores the lead of li@x.cn, matched on c-1's emails by now
        event(C.CONTACT_DELETED, cev.ContactDeleted(contact=person("c-held", 3, "sun@x.cn")), "c-held", 3),
        event(C.CONTACT_MERGED, cev.ContactsMerged(survivor=person("c-4", 5, "zhou@x.cn", "qian@x.cn"),
                                                   merged_ids=["c-2"]), "c-4", 5),
        event(C.CONTACT_UPDATED, cev.ContactUpdated(contact=person("c-5", 1, "wu@x.cn", deleted=True)), "c-5"),
        logged("c-held", "call"),  # deleted: no emails, no lead of sun@x.cn scored
        logged("c-4", "note"),  # a follow-up of qian@x.cn's lead
        event(C.CONTACT_CREATED, cev.ContactCreated(contact=person("c-6", 1, "zheng@x.cn")), "c-6"),
    ]


@pytest.fixture
def twins(sales: Any, tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    """Two copies of a database holding open leads and one contact's emails from before."""
    for name, email in (("李娜", "li@x.cn"), ("孙丽", "sun@x.cn"), ("钱敏", "qian@x.cn"), ("郑伟", "zheng@x.cn")):
        sales.write(lambda uow, n=name, e=email: leads.create_lead(
            uow, principal=MARKETING, now=NOW, lead=Lead(name=n, company="天津重工", email=e), channel="web_form"))
    sales.write(lambda uow: handlers.handle(uow, event(C.CONTACT_CREATED, cev.ContactCreated(
        contact=person("c-held", 1, "sun@x.cn", "sun.li@x.cn")), "c-held"), now=NOW))
    source = Path(sales.db.engine.url.database or "")
    sales.db.dispose()
    made = []
    for name in ("one-by-one.db", "batch.db"):
        shutil.copyfile(source, tmp_path / name)
        made.append(Database(f"sqlite:///{tmp_path / name}"))
    yield made[0], made[1]
    for db in made:
        db.dispose()


def test_the_batch_splits_into_runs_with_each_contact_once() -> None:
    split = [(bulk, [e.aggregate_id for e in run]) for bulk, run in runs(batch(), handlers.SNAPSHOTS)]
    assert split == [(True, ["c-1", "c-2", "c-held", "c-3"]), (True, ["c-1", "c-2"]), (False, ["i-c-1-email"]),
                     (True, ["c-held", "c-4", "c-5"]), (False, ["i-c-held-call"]), (False, ["i-c-4-note"]),
                     (True, ["c-6"])]


def test_a_batch_of_snapshots_leaves_the_tables_as_one_by_one(
        twins: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch) -> None:
    one_db, batch_db = twins
    clock = ManualClock(NOW)
    counted_uuids(monkeypatch)
    one = handlers.handler(clock)
    for env in batch():
        with one_db.unit_of_work() as uow:
            one(uow, env)
            uow.commit()
    counted_uuids(monkeypatch)
    with batch_db.unit_of_work() as uow:
        handlers.batch_handler(clock)(uow, batch())
        uow.commit()
    after = every_row(batch_db)
    assert after == every_row(one_db)
    emails = sorted((dict(r)["contact_id"], dict(r)["email"]) for r in after["contact_emails"])
    assert emails == [("c-1", "li@x.cn"), ("c-1", "zhao@x.cn"), ("c-2", "old@x.cn"), ("c-4", "qian@x.cn"),
                      ("c-4", "zhou@x.cn"), ("c-6", "zheng@x.cn")]
    lead_of = {dict(r)["email"]: dict(r) for r in after["leads"]}
    # the inbound email counted for c-1's new address, the note followed qian@x.cn's lead up, and
    # the call on the deleted contact found no lead any more
    assert lead_of["li@x.cn"]["score"] > lead_of["sun@x.cn"]["score"] == lead_of["zheng@x.cn"]["score"]
    assert lead_of["qian@x.cn"]["followed_up_at"] != lead_of["zheng@x.cn"]["followed_up_at"]
