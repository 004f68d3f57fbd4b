"""A consumer batch through the batch handler the composition root wires (what a bulk import's
events go through): events nobody subscribed to make no delivery and cost the same few statements
whatever the batch's size; with subscriptions to some types, the batch makes exactly the deliveries
the events applied one by one make, none about a person erased here."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from crm.common.v1.envelope_pb2 import EventEnvelope, SealedFields
from crm.contacts.v1 import contacts_pb2
from crm.contacts.v1 import events_pb2 as contact_events
from crm.privacy.v1 import privacy_pb2 as ppb
from crm_webhooks import bootstrap, handlers, tables
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.usecases import deliveries, subject
from crmkit.auth import Principal, set_principal
from crmkit.db import Database
from crmkit.events import new_event, parse_envelope
from crmkit.service import Components
from crmkit.testing import ManualClock, in_process_settings, migrated_database

from ..fakes import KEY
from .test_deliveries import ADMIN, ERP, NOW, subscribe, won_event

ENV = {"WEBHOOKS_SECRET_KEY": "unit-test-webhooks-secret-key-0123456789abcdef",
       "PRIVACY_SUPPRESSION_KEY": KEY.decode()}  # the key `erase` hashes the erased people with


def composed(db: Database, tmp_path: Path) -> Components:
    settings = in_process_settings("webhooks", "sqlite://", "nats://127.0.0.1:1", tmp_path, "x" * 40)
    spec = bootstrap.spec(clock=ManualClock(NOW), env=ENV)
    return spec.compose(db, settings)


def contact_event(contact_id: str, event_type: str = "crm.contacts.contact.created", version: int = 1) -> EventEnvelope:
    contact = contacts_pb2.Contact(id=contact_id, name="客户", emails=[contacts_pb2.Email(address=f"{contact_id}@example.cn")],
                                   phones=[contacts_pb2.Phone(number="+8613800138000")])
    payload = (contact_events.ContactCreated(contact=contact) if event_type.endswith("created")
               else contact_events.ContactUpdated(contact=contact))
    return parse_envelope(new_event(producer="contacts", event_type=event_type, aggregate_type="contact",
                                    aggregate_id=contact_id, aggregate_version=version, payload=payload).data)


def imported(count: int) -> list[EventEnvelope]:
    return [contact_event(f"c-{i}") for i in range(count)]


@contextmanager
def counting_statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def apply_batch(db: Database, parts: Components, envs: Sequence[EventEnvelope]) -> list[str]:
    """The batch handler inside one transaction, as the consumer calls it; the statements it ran."""
    assert parts.batch_handler is not None
    with db.unit_of_work() as uow:
        with counting_statements() as seen:
            parts.batch_handler(uow, envs)
        uow.commit()
    return seen


def delivery_log(db: Database) -> list[tuple[str, str]]:
    """(whom the delivery is about, its subscriber) in the order they were made, every delivery
    pending, with the body of its event masked for its subscriber."""
    d, s = tables.deliveries.c, tables.subscriptions.c
    with db.read() as session:
        rows = session.execute(select(s.owner_id, d.event_type, d.status, d.body)
                               .join(tables.subscriptions, s.id == d.subscription_id).order_by(d.seq)).all()
    log = []
    for row in rows:
        body = json.loads(row.body)
        assert row.status == "pending" and body["type"] == row.event_type
        log.append((body["aggregate"]["id"], row.owner_id))
    return log


def test_a_batch_nobody_listens_to_makes_no_delivery_in_one_statement_whatever_its_size(
        db: Database, tmp_path: Path) -> None:
    subscribe(db, ERP, types=("opportunity.won",))  # someone listens, but not to contact.created
    parts = composed(db, tmp_path)
    small = apply_batch(db, parts, imported(10))
    large = apply_batch(db, parts, imported(200))
    assert len(small) == len(large) == 1  # who listens to the batch's types; nothing per event
    assert delivery_log(db) == []


def test_a_batch_makes_exactly_the_deliveries_of_its_events_applied_one_by_one(tmp_path: Path) -> None:
    stream = [*imported(3), contact_event("c-1", "crm.contacts.contact.updated", 2),
              parse_envelope(won_event("o-1")), contact_event("c-erased", "crm.contacts.contact.updated", 2),
              *imported(2), contact_event("c-0", "crm.contacts.contact.updated", 2)]
    one_by_one, batched = (migrated_database(bootstrap.MIGRATIONS, tmp_path) for _ in range(2))
    for db in (one_by_one, batched):
        subscribe(db, ERP, types=("contact.updated",))
        subscribe(db, ADMIN, types=("contact.updated", "opportunity.won"))
        erase(db, "c-erased")
    parts = composed(one_by_one, tmp_path)
    assert parts.handler is not None
    for env in stream:  # the consumer's retry of a failed batch: one transaction an event
        with one_by_one.unit_of_work() as uow:
            parts.handler(uow, env)
            uow.commit()
    apply_batch(batched, composed(batched, tmp_path), stream)

    made = delivery_log(batched)
    assert sorted(made) == sorted(delivery_log(one_by_one))
    # in stream order, each event to each of its subscribers (their order within an event is the database's)
    assert [about for about, _ in made] == ["c-1", "c-1", "o-1", "c-0", "c-0"]
    assert sorted(made[:2]) == [("c-1", "admin.hq"), ("c-1", "erp.bot")]
    assert made[2] == ("o-1", "admin.hq")


def sealed_contact_event(contact_id: str) -> EventEnvelope:
    """A contact event as the producer sends it: its personal fields in a sealed block."""
    env = contact_event(contact_id)
    env.sealed.CopyFrom(SealedFields(key_id=f"contacts/contact/{contact_id}", nonce=b"n" * 12, ciphertext=b"\x01"))
    return env


def test_only_event_types_someone_subscribed_to_are_opened_and_a_newer_subscriber_s_event_waits_to_be(
        db: Database) -> None:
    ticks = [0.0]
    listened = handlers.Listened(db, ttl=1.0, clock=lambda: ticks[0])
    subscribe(db, ERP, types=("opportunity.won",))
    assert listened("crm.sales.opportunity.won") and not listened("crm.contacts.contact.created")
    assert composed(db, db_path(db)).opens is not None  # the composition root wires it as the consumer's

    handle_many = handlers.batch_handler(Schedule(base=30.0), ManualClock(NOW), lambda: None, KEY, listened)
    with db.unit_of_work() as uow:  # nobody listens: sealed as it came, nothing made, nothing refused
        handle_many(uow, [sealed_contact_event("c-1")])
        uow.commit()

    subscribe(db, ERP, types=("contact.created",))  # newer than the consumer's view (no tick yet)
    assert not listened("crm.contacts.contact.created")
    with db.unit_of_work() as uow, pytest.raises(deliveries.StillSealed):
        handle_many(uow, [sealed_contact_event("c-2")])
    assert listened("crm.contacts.contact.created")  # read again at once: the retry opens it
    assert delivery_log(db) == []


def db_path(db: Database) -> Path:
    return Path(str(db.engine.url.database)).parent


def erase(db: Database, contact_id: str) -> None:
    set_principal(Principal("privacy", ("dpo",)))
    try:
        subject.servicer(db, KEY, ManualClock(NOW)).EraseSubject(
            ppb.EraseSubjectRequest(subject=ppb.Subject(contact_ids=[contact_id]), erasure_id=f"er-{contact_id}"), None)
    finally:
        set_principal(None)
