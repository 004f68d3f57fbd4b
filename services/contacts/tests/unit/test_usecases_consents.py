"""Consent per purpose through its use cases: history (append-only) and the current state on the
snapshot, withdrawal, who may record, the event that carries it, merges, and what refuses
consents (a create, an update mask)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as ev
from crm_contacts.tables import consent_history, contact_consents
from crm_contacts.usecases import consents, duplicates, records
from crmkit.auth import SYSTEM
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied
from crmkit.records import dt


def person(contacts, name: str = "张伟", user: str = "rep.north.1", email: str = "") -> pb.Contact:
    contact = pb.Contact(name=name, emails=[pb.Email(address=email)] if email else [])
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users[user], now=contacts.now, record=contact, allow_duplicate=True))


def record(contacts, contact_id: str, consent: pb.Consent, user: str = "rep.north.1", minutes: int = 0) -> pb.Contact:
    at = contacts.now + timedelta(minutes=minutes)
    principal = SYSTEM if user == "system" else contacts.users[user]
    return contacts.write(lambda uow: consents.record_consent(uow, principal=principal, now=at,
                                                              contact_id=contact_id, consent=consent))


def history(contacts, contact_id: str, user: str = "rep.north.1") -> list[pb.Consent]:
    return contacts.read(lambda s: consents.list_consent_history(s, principal=contacts.users[user],
                                                                 contact_id=contact_id))


def test_a_decision_is_kept_in_history_and_becomes_the_current_state(contacts) -> None:
    made = person(contacts)
    given = record(contacts, made.id, pb.Consent(purpose="marketing_email", granted=True, source="web_form:f-17",
                                                 evidence="  IP 10.0.0.8; 勾选了「接收营销邮件」 "))
    assert given.version == 2
    [state] = given.consents
    assert (state.purpose, state.granted, state.lawful_basis, state.source, state.recorded_by) == (
        "marketing_email", True, "consent", "web_form:f-17", "rep.north.1")
    assert state.evidence == "  IP 10.0.0.8; 勾选了「接收营销邮件」 "  # kept as typed
    assert dt(state.at) == contacts.now

    sms = record(contacts, made.id, pb.Consent(purpose="marketing_sms", granted=True), minutes=1)
    withdrawn = record(contacts, made.id, pb.Consent(purpose="marketing_email", granted=False,
                                                     source="unsubscribe_link"), "system", minutes=2)
    assert [(c.purpose, c.granted) for c in withdrawn.consents] == [("marketing_email", False), ("marketing_sms", True)]
    assert withdrawn.version == 4 and withdrawn.consents[0].recorded_by == "system"
    assert sms.consents[1].source == "api"  # the default source
    got = contacts.read(lambda s: records.get_record(s, principal=contacts.users["rep.north.1"], kind=pb.Contact,
                                                     record_id=made.id))
    assert got == withdrawn  # the snapshot holds the current state

    assert [(c.purpose, c.granted, c.source) for c in history(contacts, made.id)] == [
        ("marketing_email", False, "unsubscribe_link"), ("marketing_sms", True, "api"),
        ("marketing_email", True, "web_form:f-17")]  # newest first, nothing overwritten
    assert contacts.count(consent_history) == 3 and contacts.count(contact_consents) == 2


def test_each_decision_is_an_event_carrying_the_snapshot_and_the_previous_state(contacts) -> None:
    made = person(contacts)
    record(contacts, made.id, pb.Consent(purpose="marketing_email", granted=True))
    record(contacts, made.id, pb.Consent(purpose="marketing_email", granted=False), minutes=1)
    assert contacts.subjects() == ["crm.contacts.contact.created", "crm.contacts.consent.changed",
                                   "crm.contacts.consent.changed"]
    first, second = contacts.payload(1), contacts.payload(2)
    assert isinstance(first, ev.ConsentChanged) and not first.HasField("previous")
    assert isinstance(second, ev.ConsentChanged) and second.previous.granted and not second.consent.granted
    assert second.contact.version == 3 and not second.contact.consents[0].granted
    envelope = contacts.events[2]
    assert (envelope.aggregate_type, envelope.aggregate_id, envelope.aggregate_version) == ("contact", made.id, 3)


@pytest.mark.parametrize(("consent", "field"), [
    (pb.Consent(granted=True), "consent.purpose"),
    (pb.Consent(purpose="newsletter", granted=True), "consent.purpose"),
    (pb.Consent(purpose="marketing_email", lawful_basis="because", granted=True), "consent.lawful_basis"),
    (pb.Consent(purpose="marketing_email", source="carrier_pigeon"), "consent.source"),
    (pb.Consent(purpose="marketing_email", source="web_form:"), "consent.source"),
    (pb.Consent(purpose="marketing_email", evidence="x" * 2001), "consent.evidence"),
])
def test_a_bad_decision_is_refused_naming_the_field(contacts, consent: pb.Consent, field: str) -> None:
    made = person(contacts)
    with pytest.raises(InvalidArgument) as refused:
        record(contacts, made.id, consent)
    assert refused.value.field == field
    assert contacts.count(consent_history) == 0 and contacts.subjects() == ["crm.contacts.contact.created"]


def test_the_contacts_writers_admins_and_services_record_others_do_not(contacts) -> None:
    made = person(contacts)
    email = pb.Consent(purpose="marketing_email", granted=True)
    for user in ("rep.north.1", "manager.north", "admin", "system"):
        record(contacts, made.id, email, user)
    with pytest.raises(PermissionDenied):
        record(contacts, made.id, email, "support.1")  # reads every customer, changes none
    for user in ("rep.south.1", "finance.hq", "mkt.1"):
        with pytest.raises(NotFound):
            record(contacts, made.id, email, user)  # not even visible to them
    with pytest.raises(NotFound):
        history(contacts, made.id, "rep.south.1")
    assert len(history(contacts, made.id, "support.1")) == 4


def test_consents_change_only_through_record_consent(contacts) -> None:
    with pytest.raises(InvalidArgument) as on_create:
        contacts.write(lambda uow: records.create_record(
            uow, principal=contacts.users["rep.north.1"], now=contacts.now, allow_duplicate=True,
            record=pb.Contact(name="张伟", consents=[pb.Consent(purpose="marketing_email", granted=True)])))
    assert on_create.value.field == "consents"
    made = person(contacts)
    with pytest.raises(InvalidArgument) as on_update:
        contacts.write(lambda uow: records.update_record(
            uow, principal=contacts.users["rep.north.1"], now=contacts.now, patch=pb.Contact(id=made.id),
            mask=["consents"], expected_version=0))
    assert on_update.value.field == "consents"


def test_a_merge_keeps_the_later_decision_per_purpose_and_both_histories(contacts) -> None:
    survivor, other = person(contacts, "张伟"), person(contacts, "张伟 (重复)")
    record(contacts, survivor.id, pb.Consent(purpose="marketing_email", granted=True))
    record(contacts, other.id, pb.Consent(purpose="marketing_email", granted=False, source="unsubscribe_link"),
           minutes=5)  # withdrawn later on the duplicate: the withdrawal stands
    record(contacts, other.id, pb.Consent(purpose="marketing_sms", granted=True), minutes=6)
    record(contacts, survivor.id, pb.Consent(purpose="profiling", granted=True), minutes=7)
    merged = contacts.write(lambda uow: duplicates.merge_contacts(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now + timedelta(minutes=8),
        survivor_id=survivor.id, merged_ids=[other.id]))
    assert [(c.purpose, c.granted) for c in merged.consents] == [
        ("marketing_email", False), ("marketing_sms", True), ("profiling", True)]
    assert len(history(contacts, survivor.id)) == 4
    from crm_contacts.usecases import segments
    audience = contacts.read(lambda s: segments.preview(s, principal=contacts.users["admin"], now=contacts.now,
                                                        filter=pb.SegmentFilter(consent_purpose="marketing_email"),
                                                        page_size=10))
    assert audience.count == 0


def test_language_is_a_normalized_bcp47_tag(contacts) -> None:
    made = contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now, allow_duplicate=True,
        record=pb.Contact(name="Amy", language="ZH_cn")))
    assert made.language == "zh-CN"
    with pytest.raises(InvalidArgument) as bad:
        contacts.write(lambda uow: records.create_record(
            uow, principal=contacts.users["rep.north.1"], now=contacts.now, allow_duplicate=True,
            record=pb.Contact(name="Amy", language="Chinese please")))
    assert bad.value.field == "language"


def test_find_by_email_is_for_admins_and_services(contacts) -> None:
    first = person(contacts, "张伟", email="Zhang.Wei@Example.COM")
    person(contacts, "张伟 again", email="zhang.wei@example.com")
    found = contacts.read(lambda s: consents.find_contact_by_email(s, principal=SYSTEM, email=" ZHANG.wei@example.com"))
    assert found.id == first.id  # the oldest of the duplicates
    with pytest.raises(PermissionDenied):
        contacts.read(lambda s: consents.find_contact_by_email(s, principal=contacts.users["rep.north.1"],
                                                               email="zhang.wei@example.com"))
    with pytest.raises(NotFound) as none:
        contacts.read(lambda s: consents.find_contact_by_email(s, principal=SYSTEM, email="nobody@example.com"))
    assert none.value.field == "email"
    with pytest.raises(InvalidArgument):
        contacts.read(lambda s: consents.find_contact_by_email(s, principal=SYSTEM, email="not an address"))
