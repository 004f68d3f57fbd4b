"""A consumer batch through the batch handler (runs of contact snapshots in bulk) leaves every
table exactly as applying its events one by one does: stale versions, a contact twice in the
batch, deletions, a merge in between, and the touches and rule firings of counted event types."""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing import handlers
from crm_marketing.usecases import automation_rules, campaigns, projection, sequences, templates
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.event_runs import runs
from crmkit.events import new_event, parse_envelope
from crmkit.testing import ManualClock, counted_uuids, every_row

from .conftest import NOW, Store

H = handlers.CONTACTS
MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
SENDER = "Shuniu <marketing@shuniu.example>"


def person(contact_id: str, version: int, *, email: str = "", tags: tuple[str, ...] = (),
           granted: bool | None = None, **fields: Any) -> cpb.Contact:
    contact = cpb.Contact(id=contact_id, name=f"客户 {contact_id}", version=version, tags=list(tags),
                          emails=[cpb.Email(address=email)] if email else [], **fields)
    if granted is not None:
        contact.consents.add(purpose="marketing_email", granted=granted).at.FromDatetime(NOW)
    return contact


def event(event_type: str, payload: Message, aggregate_id: str, version: int = 1) -> EventEnvelope:
    return parse_envelope(new_event(producer="contacts", event_type=event_type, aggregate_type="contact",
                                    aggregate_id=aggregate_id, aggregate_version=version, payload=payload,
                                    occurred_at=NOW).data)


def batch() -> list[EventEnvelope]:
    """What an import and a few edits put on the stream, in stream order."""
    return [
        event(H.CONTACT_CREATED, cev.ContactCreated(contact=person("c-1", 1, email="A@x.cn", tags=("vip",))), "c-1"),
        event(H.CONTACT_CREATED, cev.ContactCreated(contact=person("c-2", 2, email="b@x.cn")), "c-2", 2),
        event(H.CONSENT_CHANGED, cev.ConsentChanged(contact=person("c-3", 1, email="c@x.cn", granted=True)), "c-3"),
        event(H.CONTACT_UPDATED, cev.ContactUpdated(contact=person("c-old", 4, title="stale")), "c-old", 4),
        event(H.CONTACT_UPDATED, cev.ContactUpdated(contact=person("c-kept", 2, tags=("gold", "gold"))), "c-kept", 2),
        # c-1 again: the next run
        event(H.CONTACT_TAGGED, cev.ContactTagged(contact=person("c-1", 2, email="a@x.cn", tags=("new",))), "c-1", 2),
        event(H.CONTACT_UPDATED, cev.ContactUpdated(contact=person("c-2", 1, title="late")), "c-2", 1),  # older
        event(H.CONTACT_MERGED, cev.ContactsMerged(survivor=person("c-4", 3, email="d@x.cn"), merged_ids=["c-5"]),
              "c-4", 3),
        event(H.CONTACT_UPDATED, cev.ContactUpdated(contact=person("c-5", 7)), "c-5", 7),  # merged away: stays so
        event(H.CONTACT_DELETED, cev.ContactDeleted(contact=person("c-3", 2, email="c@x.cn", granted=True)), "c-3", 2),
        event(H.ACCOUNT_CREATED, cev.AccountCreated(account=cpb.Account(id="a-1")), "a-1"),
        event(H.CONTACT_CREATED, cev.ContactCreated(contact=person("c-6", 1)), "c-6"),
        event(H.CONTACT_CREATED, cev.ContactCreated(contact=person("c-7", 1, email="e@x.cn")), "c-7"),
        event(H.CONTACT_UPDATED, cev.ContactUpdated(contact=person("c-7", 1, email="e2@x.cn")), "c-7"),  # same version
    ]


@pytest.fixture
def prepared(store: Store) -> Store:
    """Contacts held before the batch: one newer than the batch's snapshot, one older."""
    store.write(lambda uow: projection.apply_contact(uow.session, person("c-old", 5, tags=("a",)), NOW))
    store.write(lambda uow: projection.apply_contact(uow.session, person("c-kept", 1, tags=("b",)), NOW))
    return store


@pytest.fixture
def twins(prepared: Store, tmp_path: Path) -> Iterator[Callable[[], tuple[Database, Database]]]:
    """Two copies of the prepared database (same ids in both), made when the test asks."""
    made: list[Database] = []

    def make() -> tuple[Database, Database]:
        source = Path(prepared.db.engine.url.database or "")
        prepared.db.dispose()
        for name in ("one-by-one.db", "batch.db"):
            shutil.copyfile(source, tmp_path / name)
            made.append(Database(f"sqlite:///{tmp_path / name}"))
        return made[0], made[1]

    yield make
    for db in made:
        db.dispose()


def apply_both(one_db: Database, batch_db: Database, envs: list[EventEnvelope], monkeypatch: pytest.MonkeyPatch,
               clock: ManualClock) -> None:
    """The consumer's two ways: each event in its own transaction, and the batch in one."""
    counted_uuids(monkeypatch)
    one = handlers.handler(clock, handlers.RuleTypes().bind(one_db))
    for env in envs:
        with one_db.unit_of_work() as uow:
            one(uow, env)
            uow.commit()
    counted_uuids(monkeypatch)
    many = handlers.batch_handler(clock, handlers.RuleTypes().bind(batch_db))
    with batch_db.unit_of_work() as uow:
        many(uow, envs)
        uow.commit()


def test_the_batch_splits_into_runs_with_each_contact_once() -> None:
    split = [(bulk, [e.aggregate_id for e in run]) for bulk, run in runs(batch(), handlers.SNAPSHOTS)]
    assert split == [(True, ["c-1", "c-2", "c-3", "c-old", "c-kept"]), (True, ["c-1", "c-2"]), (False, ["c-4"]),
                     (True, ["c-5", "c-3"]), (False, ["a-1"]), (True, ["c-6", "c-7"]), (True, ["c-7"])]


def test_a_batch_of_snapshots_leaves_the_tables_as_one_by_one(
        twins: Callable[[], tuple[Database, Database]], monkeypatch: pytest.MonkeyPatch) -> None:
    one_db, batch_db = twins()
    apply_both(one_db, batch_db, batch(), monkeypatch, ManualClock(NOW))
    after = every_row(batch_db)
    assert after == every_row(one_db)
    projected = {row[0][1]: dict(row) for row in after["audience_contacts"]}
    assert (projected["c-old"]["version"], projected["c-old"]["title"]) == (5, "")  # held newer: kept
    assert (projected["c-1"]["version"], projected["c-2"]["title"]) == (2, "")  # the late older c-2 lost
    assert (projected["c-3"]["suppressed"], projected["c-5"]["suppressed"]) == ("deleted", "merged")
    assert projected["c-7"]["email"] == "e2@x.cn"  # the same version again: the later one
    assert sorted(dict(r)["tag"] for r in after["contact_tags"] if dict(r)["contact_id"] in ("c-1", "c-kept")) == [
        "gold", "new"]


def test_touches_and_rule_firings_of_counted_snapshots_are_the_same(
        prepared: Store, twins: Callable[[], tuple[Database, Database]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule counting contact.created enrols each new contact in a drip, as one by one would; the
    rule's firings, the touches, the enrolments and the outbox agree row for row."""
    store = prepared
    campaign = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
        name="Welcome", type="email")))
    welcome = store.write(lambda uow: templates.create(uow, principal=MKT, now=NOW, template=pb.Template(
        name="欢迎", contents=[pb.TemplateContent(language="zh-CN", subject="{{ name }}，欢迎", text="你好")])))
    drip = store.write(lambda uow: sequences.create(uow, principal=MKT, now=NOW, sequence=pb.Sequence(
        name="新客户", campaign_id=campaign.id, steps=[pb.SequenceStep(day=1, template_id=welcome.id)]),
        default_sender=SENDER))
    store.write(lambda uow: sequences.change_status(uow, principal=MKT, now=NOW, sequence_id=drip.id,
                                                    status="active", expected_version=0, mail_enabled=True))

    def enrol_on(trigger: str) -> None:
        rule = pb.AutomationRule(name=f"on {trigger}", campaign_id=campaign.id, sequence_id=drip.id, count=1,
                                 within_days=30, trigger=pb.RuleEvent(event_type=trigger))
        store.write(lambda uow: automation_rules.create(uow, principal=MKT, now=NOW, rule=rule, default_sender=SENDER))

    enrol_on(H.CONTACT_CREATED)
    enrol_on(H.CONTACT_TAGGED)
    one_db, batch_db = twins()
    apply_both(one_db, batch_db, batch(), monkeypatch, ManualClock(NOW))
    after = every_row(batch_db)
    assert after == every_row(one_db)
    listed, _ = Store(batch_db).read(lambda s: sequences.list_enrollments(
        s, principal=MKT, sequence_id=drip.id, status="", page_size=0, page_token=""))
    # each created contact once (c-1's tagging finds it enrolled); a consent change counts nothing
    assert sorted(e.contact_id for e in listed) == ["c-1", "c-2", "c-6", "c-7"]
