"""Segments and consent through the real gRPC API on SQLite and PostgreSQL: segment CRUD and its
events on JetStream, members streamed with each caller's visibility, the spend band fed by won
deals published on the SALES stream, and consent decisions with their history, events and
retries."""
from __future__ import annotations

import uuid

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc import StatusCode

from crm.common.v1.envelope_pb2 import Actor
from crm.common.v1.types_pb2 import Money, PageRequest
from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as ev
from crm.sales.v1 import events_pb2 as sales_ev
from crm.sales.v1.sales_pb2 import Opportunity
from crmkit.events import new_event, unpack_payload
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration
MANAGER = Actor(user_id="manager.north", roles=["manager"], team="north-sales", region="north")


def new_contact(client, name: str, **fields) -> pb.Contact:  # noqa: ANN001, ANN003
    return client.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name=name, **fields),
                                                        allow_duplicate=True))


def every_member(client, segment_id: str, page_size: int = 2) -> list[pb.Contact]:  # noqa: ANN001
    found, token = [], ""
    for _ in range(1000):
        page = client.ListSegmentMembers(pb.ListSegmentMembersRequest(
            segment_id=segment_id, page=PageRequest(page_size=page_size, page_token=token)))
        found.extend(page.contacts)
        token = page.page.next_page_token
        if not token:
            return found
    raise AssertionError("paging never ended")


def count(client, segment_id: str) -> int:  # noqa: ANN001
    return client.CountSegmentMembers(pb.CountSegmentMembersRequest(segment_id=segment_id)).count


def test_segment_crud_with_versions_and_events_on_the_stream(api, contacts, stream, fails) -> None:
    rep = api("rep.north.1")
    made = rep.CreateSegment(pb.CreateSegmentRequest(segment=pb.Segment(
        name="三个月未联系的 VIP", filter=pb.SegmentFilter(levels=["vip"], no_interaction_days=90))), key="seg-1")
    again = rep.CreateSegment(pb.CreateSegmentRequest(segment=pb.Segment(
        name="三个月未联系的 VIP", filter=pb.SegmentFilter(levels=["vip"], no_interaction_days=90))), key="seg-1")
    assert again == made and made.version == 1  # a retry with the key: the first answer, no second segment
    assert rep.GetSegment(pb.GetSegmentRequest(id=made.id)) == made

    stale = fails(StatusCode.ABORTED, rep.UpdateSegment, pb.UpdateSegmentRequest(
        segment=pb.Segment(id=made.id, name="x"), update_mask=FieldMask(paths=["name"]), expected_version=5))
    assert stale.details.get("current_version") == 1
    changed = rep.UpdateSegment(pb.UpdateSegmentRequest(
        segment=pb.Segment(id=made.id, filter=pb.SegmentFilter(levels=["vip", "regular"])),
        update_mask=FieldMask(paths=["filter"]), expected_version=1))
    assert changed.version == 2 and list(changed.filter.levels) == ["vip", "regular"]
    assert changed.filter.no_interaction_days == 0  # the filter is replaced as a whole
    bad = fails(StatusCode.INVALID_ARGUMENT, rep.UpdateSegment, pb.UpdateSegmentRequest(
        segment=pb.Segment(id=made.id, filter=pb.SegmentFilter(lifecycle_stages=["won"])),
        update_mask=FieldMask(paths=["filter"])))
    assert bad.field == "filter.lifecycle_stages[0]"
    assert fails(StatusCode.PERMISSION_DENIED, api("rep.north.2").DeleteSegment,
                 pb.DeleteSegmentRequest(id=made.id)).message
    rep.DeleteSegment(pb.DeleteSegmentRequest(id=made.id, expected_version=2))
    assert fails(StatusCode.NOT_FOUND, rep.GetSegment, pb.GetSegmentRequest(id=made.id)).field == "id"

    events = stream.events(contacts, made.id)
    assert [s for s, _ in events] == ["crm.contacts.segment.created", "crm.contacts.segment.updated",
                                      "crm.contacts.segment.deleted"]
    assert [env.aggregate_version for _, env in events] == [1, 2, 3]
    assert unpack_payload(events[1][1]).changed_fields == ["filter"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("flt", "field"), [
    (pb.SegmentFilter(levels=["platinum"]), "filter.levels[0]"),
    (pb.SegmentFilter(no_interaction_days=-90), "filter.no_interaction_days"),
    (pb.SegmentFilter(spend_band="10k-100k"), "filter.spend_band"),
    (pb.SegmentFilter(consent_purpose="cold_calls"), "filter.consent_purpose"),
])
def test_bad_criteria_are_refused_naming_them(api, fails, row_counts, flt: pb.SegmentFilter, field: str) -> None:
    before = row_counts()
    refused = fails(StatusCode.INVALID_ARGUMENT, api("rep.north.1").CreateSegment,
                    pb.CreateSegmentRequest(segment=pb.Segment(name="x", filter=flt)))
    assert refused.field == field
    assert fails(StatusCode.INVALID_ARGUMENT, api("rep.north.1").PreviewSegment,
                 pb.PreviewSegmentRequest(filter=flt)).field == field
    assert row_counts() == before


def test_members_stream_with_each_callers_visibility(api) -> None:
    tag = f"wave-{uuid.uuid4().hex[:8]}"
    owners = {"rep.north.1": 3, "rep.north.2": 2, "rep.south.1": 4}
    for user, n in owners.items():
        for i in range(n):
            new_contact(api(user), f"{user} 客户 {i}", tags=[tag], level="vip" if i % 2 == 0 else "regular")
        new_contact(api(user), f"{user} 无标签")
    segment = api("admin").CreateSegment(pb.CreateSegmentRequest(segment=pb.Segment(
        name="波次", filter=pb.SegmentFilter(tags_any=[tag]))))
    service = api("system")  # what marketing's service token sees: everyone
    streamed = every_member(service, segment.id)
    assert len(streamed) == 9 == count(service, segment.id) and len({c.id for c in streamed}) == 9
    assert [c.id for c in streamed] == [c.id for c in every_member(service, segment.id, page_size=1000)]
    assert {c.owner_id for c in every_member(api("rep.north.2"), segment.id)} == {"rep.north.2"}
    assert count(api("manager.north"), segment.id) == 5 and count(api("rep.south.1"), segment.id) == 4
    preview = api("rep.north.1").PreviewSegment(pb.PreviewSegmentRequest(
        filter=pb.SegmentFilter(tags_all=[tag], levels=["vip"]), page_size=1))
    assert preview.count == 2 and len(preview.contacts) == 1


def test_the_spend_band_follows_won_deals_from_the_sales_stream(api, publisher) -> None:
    rep = api("rep.north.1")
    tag = f"spend-{uuid.uuid4().hex[:8]}"
    buyer, browser = new_contact(rep, "大单客户", tags=[tag]), new_contact(rep, "观望客户", tags=[tag])
    segment = rep.CreateSegment(pb.CreateSegmentRequest(segment=pb.Segment(
        name="年消费十万以上", filter=pb.SegmentFilter(tags_all=[tag], spend_band="100000-"))))
    small = rep.CreateSegment(pb.CreateSegmentRequest(segment=pb.Segment(
        name="年消费一万以下", filter=pb.SegmentFilter(tags_all=[tag], spend_band="0-10000"))))
    assert count(rep, segment.id) == 0 and count(rep, small.id) == 2
    opportunity = Opportunity(id=str(uuid.uuid4()), name="年度采购", status="won", contact_id=buyer.id,
                              amount=Money(currency_code="CNY", amount="120000.00"))
    won = new_event(producer="sales", event_type="crm.sales.opportunity.won", aggregate_type="opportunity",
                    aggregate_id=opportunity.id, aggregate_version=4,
                    payload=sales_ev.OpportunityClosed(opportunity=opportunity), actor=MANAGER)
    publisher.publish("sales", won)
    wait_for(lambda: count(rep, segment.id) == 1, timeout=20, what="the won deal in the spend band")
    again = publisher.publish("sales", won, msg_id=f"redelivery-{uuid.uuid4()}")
    publisher.wait_consumed("sales", again)
    assert [c.id for c in every_member(rep, segment.id)] == [buyer.id]
    assert [c.id for c in every_member(rep, small.id)] == [browser.id]


def test_consent_decisions_history_events_and_retries(api, contacts, stream, fails, new_email) -> None:
    rep = api("rep.north.1")
    email = new_email()
    person = new_contact(rep, "同意测试", emails=[pb.Email(address=email)], language="en")
    granted = rep.RecordConsent(pb.RecordConsentRequest(contact_id=person.id, consent=pb.Consent(
        purpose="marketing_email", granted=True, source="web_form:expo", evidence="IP 203.0.113.9")), key="c-1")
    retried = rep.RecordConsent(pb.RecordConsentRequest(contact_id=person.id, consent=pb.Consent(
        purpose="marketing_email", granted=True, source="web_form:expo", evidence="IP 203.0.113.9")), key="c-1")
    assert retried == granted and granted.version == 2

    service = api("system")  # marketing's unsubscribe link: finds the person by address, withdraws
    found = service.FindContactByEmail(pb.FindContactByEmailRequest(email=email.upper()))
    assert found.id == person.id
    assert fails(StatusCode.PERMISSION_DENIED, rep.FindContactByEmail, pb.FindContactByEmailRequest(email=email))
    withdrawn = service.RecordConsent(pb.RecordConsentRequest(contact_id=person.id, consent=pb.Consent(
        purpose="marketing_email", granted=False, source="unsubscribe_link")))
    assert [(c.purpose, c.granted, c.recorded_by) for c in withdrawn.consents] == [
        ("marketing_email", False, "system")]
    assert rep.GetContact(pb.GetContactRequest(id=person.id)).consents == withdrawn.consents
    history = rep.ListConsentHistory(pb.ListConsentHistoryRequest(contact_id=person.id)).history
    assert [(c.granted, c.source) for c in history] == [(False, "unsubscribe_link"), (True, "web_form:expo")]
    assert fails(StatusCode.INVALID_ARGUMENT, rep.RecordConsent, pb.RecordConsentRequest(
        contact_id=person.id, consent=pb.Consent(purpose="marketing_email", lawful_basis="whim"))).field == \
        "consent.lawful_basis"
    assert fails(StatusCode.NOT_FOUND, api("rep.south.1").RecordConsent, pb.RecordConsentRequest(
        contact_id=person.id, consent=pb.Consent(purpose="marketing_email", granted=True))).field == "id"
    assert fails(StatusCode.INVALID_ARGUMENT, rep.CreateContact, pb.CreateContactRequest(contact=pb.Contact(
        name="x", consents=[pb.Consent(purpose="marketing_email", granted=True)]))).field == "consents"

    events = stream.events(contacts, person.id)
    assert [s for s, _ in events] == ["crm.contacts.contact.created", "crm.contacts.consent.changed",
                                      "crm.contacts.consent.changed"]
    last = unpack_payload(events[-1][1])
    assert isinstance(last, ev.ConsentChanged)
    assert (last.contact.version, last.contact.language, last.previous.granted, last.consent.granted) == (
        3, "en", True, False)
    assert events[-1][1].aggregate_type == "contact" and events[-1][1].actor.user_id == "system"
