"""A data-subject erasure and export in webhooks (crm.privacy.v1.DataSubject) on the real schema:
an erased person's queued delivery is never sent, their delivered bodies are gone and cannot be
replayed, and someone else's deliveries are untouched, whether the subscriber saw the person's
email masked (an integration user) or whole (an admin)."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm.privacy.v1 import privacy_pb2 as ppb
from crm_webhooks import jobs, tables
from crm_webhooks.rules import subjects
from crm_webhooks.usecases import deliveries, subject
from crmkit.auth import Principal, set_principal
from crmkit.db import Database
from crmkit.errors import NotFound
from crmkit.events import new_event, parse_envelope
from crmkit.testing import ManualClock

from ..fakes import KEY, FakeSender
from .test_deliveries import ADMIN, ERP, NOW, arrive, log_of, subscribe

DPO = Principal("privacy", ("dpo",))


def contact_event(contact_id: str, email: str, phone: str) -> bytes:
    contact = contacts_pb2.Contact(id=contact_id, name="张伟", emails=[contacts_pb2.Email(address=email)],
                                   phones=[contacts_pb2.Phone(number=phone, raw=phone)])
    return new_event(producer="contacts", event_type="crm.contacts.contact.updated", aggregate_type="contact",
                     aggregate_id=contact_id, aggregate_version=2,
                     payload=events_pb2.ContactUpdated(contact=contact)).data


@pytest.fixture
def as_dpo() -> Iterator[None]:
    token = set_principal(DPO)
    yield
    set_principal(None)
    del token


def test_whom_an_event_is_about_is_read_before_masking() -> None:
    env = parse_envelope(contact_event("c-1", "Zhang.Wei@Example.com", "+8613800138000"))
    from crmkit.events import unpack_payload
    assert subjects.of(env, unpack_payload(env)) == [
        ("contact", "c-1"), ("email", "zhang.wei@example.com"), ("phone", "+8613800138000")]


def test_an_erased_persons_queued_delivery_is_never_sent_and_their_log_is_gone(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock, as_dpo: None) -> None:
    erp = subscribe(db, ERP, types=("contact.updated",))       # sees emails masked
    hq = subscribe(db, ADMIN, types=("contact.updated",))      # sees them whole
    arrive(db, contact_event("c-erased-1", "zhang.wei@example.com", "+8613800138000"))
    jobs.run_due(db, how, clock(), clock)                      # delivered to both
    assert len(sender.sent) == 2
    assert sum(b"zhang.wei@example.com" in s.body for s in sender.sent) == 1  # the admin's body only
    arrive(db, contact_event("c-erased-1", "zhang.wei@example.com", "+8613800138001"))  # queued, not yet sent
    arrive(db, contact_event("c-kept-2", "li.na@example.com", "+8613900139000"))          # someone else
    servicer = subject.servicer(db, KEY, clock)
    person = ppb.Subject(contact_ids=["c-erased-1"], emails=["zhang.wei@example.com"])

    part = servicer.ExportSubject(ppb.ExportSubjectRequest(subject=person), None)
    exported = json.loads(part.document)[subject.DELIVERIES]
    assert len(exported) == 4 and {e["subscription_id"] for e in exported} == {erp.id, hq.id}
    assert all(e["body"]["data"]["contact"]["id"] == "c-erased-1" for e in exported)

    answer = servicer.EraseSubject(ppb.EraseSubjectRequest(subject=person, erasure_id="er-1"), None)
    assert {c.holding: c.rows for c in answer.counts}[subject.DELIVERIES] == 4
    sender.sent.clear()
    jobs.run_due(db, how, clock(), clock)
    assert [json.loads(s.body)["data"]["contact"]["id"] for s in sender.sent] == ["c-kept-2", "c-kept-2"]
    for sub, who in ((erp, ERP), (hq, ADMIN)):
        with db.read() as session:
            bodies = [session.execute(select(tables.deliveries.c.body)
                                      .where(tables.deliveries.c.id == d.id)).scalar_one() for d in log_of(db, sub, who)]
        assert bodies and all(b"c-erased-1" not in b and b"zhang.wei" not in b for b in bodies)
    with db.read() as session:
        left = session.execute(select(func.count()).select_from(tables.delivery_subjects)
                               .where(tables.delivery_subjects.c.contact_id == "c-erased-1")).scalar_one()
    assert left == 0
    again = servicer.EraseSubject(ppb.EraseSubjectRequest(subject=person, erasure_id="er-1"), None)
    assert {c.holding: c.rows for c in again.counts}[subject.DELIVERIES] == 0  # idempotent


def test_an_erased_delivery_cannot_be_replayed(
        db: Database, how: jobs.Delivering, clock: ManualClock, as_dpo: None) -> None:
    erp = subscribe(db, ERP, types=("contact.updated",))
    arrive(db, contact_event("c-erased-3", "wang.fang@example.com", "+8613700137000"))
    jobs.run_due(db, how, clock(), clock)
    (delivered,) = log_of(db, erp)
    # By phone alone: the masked body does not carry it, the subjects table does.
    subject.servicer(db, KEY, clock).EraseSubject(ppb.EraseSubjectRequest(subject=ppb.Subject(phones=["+8613700137000"])), None)
    assert log_of(db, erp) == []
    with db.unit_of_work() as uow, pytest.raises(NotFound):
        deliveries.replay(uow, principal=ERP, now=NOW, sub_id=erp.id, delivery_id=delivered.id,
                          schedule=how.schedule)


def test_an_event_about_an_erased_person_arriving_late_makes_no_delivery(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock, as_dpo: None) -> None:
    subscribe(db, ERP, types=("contact.updated",))
    late = contact_event("c-erased-4", "zhao.liu@example.com", "+8613600136000")  # still in the stream
    subject.servicer(db, KEY, clock).EraseSubject(ppb.EraseSubjectRequest(subject=ppb.Subject(
        contact_ids=["c-erased-4"], emails=["zhao.liu@example.com"])), None)
    assert arrive(db, late) == 0
    assert arrive(db, contact_event("c-new-5", "ZHAO.LIU@example.com", "+8613500135000")) == 0  # the email
    assert arrive(db, contact_event("c-kept-6", "sun.li@example.com", "+8613400134000")) == 1
    jobs.run_due(db, how, clock(), clock)
    assert [json.loads(s.body)["data"]["contact"]["id"] for s in sender.sent] == ["c-kept-6"]
    with db.read() as session:
        kept = [str(h) for h in session.execute(select(tables.erased_subjects.c.hash)).scalars()]
    assert len(kept) == 2 and not any("zhao" in h or "c-erased" in h for h in kept)  # hashes, not the values
