"""A person in contacts for the privacy service: resolved from an email or a phone to every
contact carrying it (with all their emails, phones and names), exported with timeline and
consents, erased with everything hanging off the contact while another person stays, and refused
when added again by an erased email or a phone in any format."""
from __future__ import annotations

import pytest

from crm.contacts.v1 import contacts_pb2 as pb
from crm.privacy.v1 import privacy_pb2 as ppb
from crm_contacts import tables
from crm_contacts.usecases import consents, records, subject, timeline
from crmkit.errors import FailedPrecondition
from crmkit.privacy import SuppressionList, erase, export, suppression_hashes

KEY = b"k" * 32


def person(contacts, name: str, email: str, phone: str) -> pb.Contact:
    contact = pb.Contact(name=name, emails=[pb.Email(address=email)], phones=[pb.Phone(raw=phone)])
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now, record=contact, allow_duplicate=True))


def test_a_person_is_resolved_exported_and_erased_while_another_stays(contacts) -> None:
    li = person(contacts, "李雷", "Li.Lei@Example.com", "138 0013 8000")
    twin = person(contacts, "Lei Li", "lei.li@example.com", "+86 138-0013-8000")  # the same phone
    other = person(contacts, "韩梅梅", "han@example.com", "13900139000")
    rep = contacts.users["rep.north.1"]
    contacts.write(lambda uow: timeline.log_interaction(uow, principal=rep, now=contacts.now, interaction=pb.Interaction(
        contact_id=li.id, kind="call", subject="首次电话")))
    contacts.write(lambda uow: consents.record_consent(uow, principal=rep, now=contacts.now, contact_id=li.id,
                                                       consent=pb.Consent(purpose="marketing_email", granted=True)))

    resolved = contacts.read(lambda s: subject.resolve(s, ppb.Subject(emails=["LI.LEI@example.com"])))
    assert resolved.contact_ids == [li.id] and resolved.names == ["李雷"] and resolved.phones == ["+8613800138000"]
    by_phone = contacts.read(lambda s: subject.resolve(s, ppb.Subject(phones=["+8613800138000"])))
    assert sorted(by_phone.contact_ids) == sorted([li.id, twin.id])

    found = contacts.read(lambda s: export(s, subject.HOLDINGS, resolved))
    assert [c["id"] for c in found.sections["contacts"]] == [li.id]
    assert [e["record"]["interaction"]["subject"] for e in found.sections["timeline"]] == ["首次电话"]
    assert [c["record"]["purpose"] for c in found.sections["consent history"]] == ["marketing_email"]

    counts = contacts.write(lambda uow: erase(uow.session, subject.HOLDINGS, resolved)).counts
    assert counts["contacts"] == 1 and counts["timeline"] == 1 and counts["consent history"] == 1
    assert counts["outbox"] >= 3  # its created, interaction and consent events, published or not
    left = {r.id for r in contacts.rows(tables.contacts)}
    assert left == {twin.id, other.id}
    assert {r.entity_id for r in contacts.rows(tables.identities)} == {twin.id, other.id}


def test_an_erased_email_or_phone_is_refused_in_any_format() -> None:
    suppression = SuppressionList(KEY, None, lambda: "")
    suppression.add(suppression_hashes(KEY, ["li.lei@example.com"], ["+8613800138000"]))
    with pytest.raises(FailedPrecondition) as by_email:
        subject.refuse_suppressed(suppression, pb.Contact(name="x", emails=[
            pb.Email(address="han@example.com"), pb.Email(address="LI.LEI@example.com")]))
    assert by_email.value.field == "emails[1].address"
    with pytest.raises(FailedPrecondition) as by_phone:
        subject.refuse_suppressed(suppression, pb.Contact(name="x", phones=[pb.Phone(raw="0086 138 0013 8000")]))
    assert by_phone.value.field == "phones[0].number"
    subject.refuse_suppressed(suppression, pb.Contact(name="x", emails=[pb.Email(address="han@example.com")],
                                                      phones=[pb.Phone(raw="not a phone")]))
