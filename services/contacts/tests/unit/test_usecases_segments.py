"""Segments through their use cases, on the real schema: CRUD with versions and events, every
filter dimension evaluated in SQL, members with the caller's visibility, paging through the whole
set, counting and previewing an unsaved filter, and the 400s that name the bad criterion."""
from __future__ import annotations

from datetime import timedelta

import pytest
from google.protobuf.struct_pb2 import Struct

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import events_pb2 as ev
from crm_contacts.usecases import consents, custom_fields, records, segments, tags, timeline
from crmkit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied


def person(contacts, name: str, user: str = "rep.north.1", **fields) -> pb.Contact:  # noqa: ANN003
    values = fields.pop("custom", None)
    contact = pb.Contact(name=name, **fields)
    if values:
        contact.custom_fields.update(values)
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users[user], now=contacts.now, record=contact, allow_duplicate=True))


def save(contacts, flt: pb.SegmentFilter, user: str = "rep.north.1", name: str = "高意向华北客户") -> pb.Segment:
    return contacts.write(lambda uow: segments.create_segment(
        uow, principal=contacts.users[user], now=contacts.now, segment=pb.Segment(name=name, filter=flt)))


def preview(contacts, flt: pb.SegmentFilter, user: str = "admin", page_size: int = 100) -> pb.PreviewSegmentResponse:
    return contacts.read(lambda s: segments.preview(s, principal=contacts.users[user], now=contacts.now,
                                                    filter=flt, page_size=page_size))


def names(contacts, user: str = "admin", **criteria) -> list[str]:  # noqa: ANN003
    answer = preview(contacts, pb.SegmentFilter(**criteria), user)
    assert answer.count == len(answer.contacts)
    return sorted(c.name for c in answer.contacts)


def members(contacts, segment_id: str, user: str, page_size: int = 0, token: str = "") -> tuple[list[pb.Contact], str]:
    return contacts.read(lambda s: segments.list_members(s, principal=contacts.users[user], now=contacts.now,
                                                         segment_id=segment_id, page_size=page_size,
                                                         page_token=token))


def count(contacts, segment_id: str, user: str) -> int:
    return contacts.read(lambda s: segments.count_members(s, principal=contacts.users[user], now=contacts.now,
                                                          segment_id=segment_id))


def where(country: str = "CN", province: str = "", city: str = "") -> list[pb.Address]:
    return [pb.Address(kind="office", country=country, province=province, city=city)]


# -- the record --------------------------------------------------------------------------------

def test_a_segment_is_a_versioned_record_with_its_own_events(contacts) -> None:
    made = save(contacts, pb.SegmentFilter(levels=["vip"], tags_any=[" 展会 "]))
    assert made.id and made.version == 1 and made.owner_id == "rep.north.1" and made.team == "north-sales"
    assert list(made.filter.tags_any) == ["展会"]  # normalized like a contact's tags
    assert contacts.read(lambda s: segments.get_segment(s, principal=contacts.users["rep.north.1"],
                                                        segment_id=made.id)) == made

    later = contacts.now + timedelta(minutes=1)
    patch = pb.Segment(id=made.id, name="VIP", filter=pb.SegmentFilter(levels=["vip", "regular"]))
    with pytest.raises(Conflict):
        contacts.write(lambda uow: segments.update_segment(uow, principal=contacts.users["rep.north.1"], now=later,
                                                           patch=patch, mask=["name"], expected_version=7))
    changed = contacts.write(lambda uow: segments.update_segment(
        uow, principal=contacts.users["rep.north.1"], now=later, patch=patch, mask=["name", "filter"],
        expected_version=1))
    assert (changed.version, changed.name, list(changed.filter.levels), list(changed.filter.tags_any)) == (
        2, "VIP", ["vip", "regular"], [])  # the filter is replaced as a whole
    same = contacts.write(lambda uow: segments.update_segment(
        uow, principal=contacts.users["rep.north.1"], now=later, patch=patch, mask=["name"], expected_version=0))
    assert same.version == 2  # nothing changed: no version, no event
    with pytest.raises(InvalidArgument) as refused:
        contacts.write(lambda uow: segments.update_segment(
            uow, principal=contacts.users["rep.north.1"], now=later, patch=patch, mask=["version"],
            expected_version=0))
    assert refused.value.field == "version"

    contacts.write(lambda uow: segments.delete_segment(uow, principal=contacts.users["rep.north.1"], now=later,
                                                       segment_id=made.id, expected_version=2))
    with pytest.raises(NotFound):
        count(contacts, made.id, "rep.north.1")
    assert contacts.subjects() == ["crm.contacts.segment.created", "crm.contacts.segment.updated",
                                   "crm.contacts.segment.deleted"]
    updated = contacts.payload(1)
    assert isinstance(updated, ev.SegmentUpdated) and list(updated.changed_fields) == ["filter", "name"]
    deleted = contacts.payload(2)
    assert isinstance(deleted, ev.SegmentDeleted) and deleted.segment.deleted and deleted.segment.version == 3
    assert [e.aggregate_version for e in contacts.events] == [1, 2, 3]


def test_who_sees_and_changes_a_segment(contacts) -> None:
    mine = save(contacts, pb.SegmentFilter())
    listed = lambda user: [s.id for s in contacts.read(lambda s: segments.list_segments(  # noqa: E731
        s, principal=contacts.users[user], page_size=0, page_token=""))[0]]
    for user in ("rep.north.1", "rep.south.1", "mkt.1", "manager.south", "finance.hq"):
        assert listed(user) == [mine.id]  # shared definitions: everyone may use a segment
    for user in ("mkt.1", "rep.north.2", "manager.south"):  # ... and only its owner or their manager change it
        with pytest.raises(PermissionDenied):
            contacts.write(lambda uow, u=user: segments.delete_segment(
                uow, principal=contacts.users[u], now=contacts.now, segment_id=mine.id, expected_version=0))
    renamed = contacts.write(lambda uow: segments.update_segment(
        uow, principal=contacts.users["manager.north"], now=contacts.now, patch=pb.Segment(id=mine.id, name="团队的"),
        mask=["name"], expected_version=1))
    assert renamed.name == "团队的" and renamed.owner_id == "rep.north.1"
    with pytest.raises(PermissionDenied):
        save(contacts, pb.SegmentFilter(), "finance.hq")
    with pytest.raises(PermissionDenied):  # a rep cannot give a segment to someone else
        contacts.write(lambda uow: segments.create_segment(
            uow, principal=contacts.users["rep.north.1"], now=contacts.now,
            segment=pb.Segment(name="x", owner_id="rep.north.2")))


@pytest.mark.parametrize(("flt", "field"), [
    (pb.SegmentFilter(levels=["gold"]), "filter.levels[0]"),
    (pb.SegmentFilter(lifecycle_stages=["customer", "won"]), "filter.lifecycle_stages[1]"),
    (pb.SegmentFilter(sources=["fax"]), "filter.sources[0]"),
    (pb.SegmentFilter(regions=["  "]), "filter.regions[0]"),
    (pb.SegmentFilter(no_interaction_days=-1), "filter.no_interaction_days"),
    (pb.SegmentFilter(spend_band="lots"), "filter.spend_band"),
    (pb.SegmentFilter(spend_band="100000-10000"), "filter.spend_band"),
    (pb.SegmentFilter(spend_band="-5"), "filter.spend_band"),
    (pb.SegmentFilter(spend_of="team", spend_band="0-1"), "filter.spend_of"),
    (pb.SegmentFilter(consent_purpose="spam"), "filter.consent_purpose"),
    (pb.SegmentFilter(custom_fields={"shoe_size": "42"}), "filter.custom_fields.shoe_size"),
    (pb.SegmentFilter(custom_fields={"budget": "lots"}), "filter.custom_fields.budget"),
    (pb.SegmentFilter(tags_all=[""]), "filter.tags_all[0]"),
])
def test_an_unknown_or_malformed_criterion_is_refused_naming_it(contacts, flt: pb.SegmentFilter, field: str) -> None:
    contacts.write(lambda uow: custom_fields.define_custom_field(uow, principal=contacts.users["admin"],
        definition=pb.CustomFieldDefinition(entity="contact", key="budget", type="number")))
    for attempt in (lambda: save(contacts, flt), lambda: preview(contacts, flt)):
        with pytest.raises(InvalidArgument) as refused:
            attempt()
        assert refused.value.field == field
    with pytest.raises(InvalidArgument) as nameless:
        save(contacts, pb.SegmentFilter(), name=" ")
    assert nameless.value.field == "name"
    assert contacts.subjects() == []


# -- each dimension ----------------------------------------------------------------------------

def test_place_industry_level_source_and_lifecycle_are_matched(contacts) -> None:
    person(contacts, "北京 VIP", region="north", industry="manufacturing", level="vip", source="trade_show",
           lifecycle_stage="customer", addresses=where(province="北京市", city="北京市"))
    person(contacts, "天津 潜在", region="north", industry="retail", level="prospect", source="website",
           lifecycle_stage="lead", addresses=[pb.Address(kind="home", country="CN"),
                                              *where(province="天津市", city="天津市")])
    person(contacts, "广州 普通", "rep.south.1", region="south", industry="manufacturing", level="regular",
           source="website", lifecycle_stage="customer", addresses=where(province="广东省", city="广州市"))
    assert names(contacts, regions=["north"]) == ["北京 VIP", "天津 潜在"]
    assert names(contacts, provinces=["天津市"]) == ["天津 潜在"]  # the first address that names one
    assert names(contacts, cities=["北京市", "广州市"]) == ["北京 VIP", "广州 普通"]
    assert names(contacts, industries=["manufacturing"]) == ["北京 VIP", "广州 普通"]
    assert names(contacts, levels=["vip", "prospect"]) == ["北京 VIP", "天津 潜在"]
    assert names(contacts, sources=["website"]) == ["天津 潜在", "广州 普通"]
    assert names(contacts, lifecycle_stages=["customer"], industries=["manufacturing"], regions=["south"]) == [
        "广州 普通"]  # criteria AND, values within one OR
    assert names(contacts) == ["北京 VIP", "天津 潜在", "广州 普通"]


def test_tags_all_and_any(contacts) -> None:
    both = person(contacts, "两个都有", tags=["高意向", "价格敏感"])
    person(contacts, "只有高意向", tags=["高意向"])
    person(contacts, "没有标签")
    assert names(contacts, tags_all=["高意向", "价格敏感"]) == ["两个都有"]
    assert names(contacts, tags_any=["价格敏感", "高意向"]) == ["两个都有", "只有高意向"]
    assert names(contacts, tags_all=["高意向"], tags_any=["价格敏感", "不存在"]) == ["两个都有"]
    contacts.write(lambda uow: tags.tag_contact(uow, principal=contacts.users["rep.north.1"], now=contacts.now,
                                                contact_id=both.id, add=[], remove=["价格敏感"]))
    assert names(contacts, tags_all=["高意向", "价格敏感"]) == []  # re-tagging keeps the side table in step


def test_custom_fields_match_by_their_type(contacts) -> None:
    for key, kind, choices in (("budget", "number", []), ("vip_club", "boolean", []), ("tier", "choice", ["A", "B"]),
                               ("since", "date", [])):
        contacts.write(lambda uow, k=key, t=kind, c=choices: custom_fields.define_custom_field(
            uow, principal=contacts.users["admin"], definition=pb.CustomFieldDefinition(
                entity="contact", key=k, type=t, choices=c)))
    person(contacts, "五千", custom={"budget": 5000, "vip_club": True, "tier": "A", "since": "2024-01-31"})
    person(contacts, "五千五", custom={"budget": 5500.5, "vip_club": False, "tier": "B"})
    person(contacts, "未填")
    assert names(contacts, custom_fields={"budget": "5000.0"}) == ["五千"]  # read as a number
    assert names(contacts, custom_fields={"budget": "5500.5"}) == ["五千五"]
    assert names(contacts, custom_fields={"vip_club": "TRUE"}) == ["五千"]
    assert names(contacts, custom_fields={"vip_club": "false", "tier": "B"}) == ["五千五"]
    assert names(contacts, custom_fields={"since": "2024-01-31"}) == ["五千"]
    with pytest.raises(InvalidArgument) as refused:
        names(contacts, custom_fields={"tier": "C"})
    assert refused.value.field == "filter.custom_fields.tier"


def test_no_interaction_in_n_days_counts_the_whole_timeline_but_bookkeeping(contacts) -> None:
    recent, old, never = person(contacts, "上周联系过"), person(contacts, "半年前联系过"), person(contacts, "从未联系")
    for who, days in ((recent, 7), (old, 180)):
        logged = pb.Interaction(contact_id=who.id, kind="call", content="回访")
        logged.occurred_at.FromDatetime(contacts.now - timedelta(days=days))
        contacts.write(lambda uow, i=logged: timeline.log_interaction(
            uow, principal=contacts.users["rep.north.1"], now=contacts.now, interaction=i))
    moved = pb.TimelineEntry(id="transfer-1", contact_id=never.id, kind="owner_changed", summary="转给李娜")
    moved.occurred_at.FromDatetime(contacts.now)  # bookkeeping, not contact with the customer
    assert contacts.write(lambda uow: timeline.add_foreign_entry(uow, entry=moved))
    assert names(contacts, no_interaction_days=90) == ["从未联系", "半年前联系过"]  # "no contact in 3 months"
    assert names(contacts, no_interaction_days=365) == ["从未联系"]
    assert names(contacts, no_interaction_days=3) == ["上周联系过", "从未联系", "半年前联系过"]


def test_consent_purpose_is_the_current_state(contacts) -> None:
    yes, withdrawn = person(contacts, "同意"), person(contacts, "撤回")
    person(contacts, "没问过")
    for who, answers in ((yes, [True]), (withdrawn, [True, False])):
        for granted in answers:
            contacts.write(lambda uow, c=who, g=granted: consents.record_consent(
                uow, principal=contacts.users["rep.north.1"], now=contacts.now, contact_id=c.id,
                consent=pb.Consent(purpose="marketing_email", granted=g, source="agent")))
    assert names(contacts, consent_purpose="marketing_email") == ["同意"]
    assert names(contacts, consent_purpose="marketing_sms") == []


# -- members -----------------------------------------------------------------------------------

def test_members_are_evaluated_with_the_callers_visibility(contacts) -> None:
    for user in ("rep.north.1", "rep.north.2", "rep.south.1"):
        person(contacts, f"{user} 的 VIP", user, level="vip")
        person(contacts, f"{user} 的普通客户", user, level="regular")
    segment = save(contacts, pb.SegmentFilter(levels=["vip"]), "mkt.1")
    seen = lambda user: sorted(c.owner_id for c in members(contacts, segment.id, user)[0])  # noqa: E731
    assert seen("rep.north.1") == ["rep.north.1"]  # the same segment, each rep their own customers
    assert seen("manager.north") == ["rep.north.1", "rep.north.2"]
    assert seen("admin") == ["rep.north.1", "rep.north.2", "rep.south.1"]
    assert seen("mkt.1") == []  # marketing sees the segment, not other people's customers
    assert seen("system") == ["rep.north.1", "rep.north.2", "rep.south.1"]  # a service token: everyone
    assert count(contacts, segment.id, "manager.north") == 2 and count(contacts, segment.id, "rep.north.2") == 1
    assert count(contacts, segment.id, "finance.hq") == 0  # finance owns no customers


def test_paging_streams_every_member_once_in_a_stable_order(contacts) -> None:
    made = [person(contacts, f"客户 {i:03d}", tags=["wave"] if i % 3 else []) for i in range(25)]
    segment = save(contacts, pb.SegmentFilter(tags_any=["wave"]))
    seen, token, pages = [], "", 0
    while True:
        page, token = members(contacts, segment.id, "rep.north.1", page_size=4, token=token)
        seen.extend(c.id for c in page)
        pages += 1
        if pages == 2:  # joins while streaming: the end of the order, so it is still reached
            made.append(person(contacts, "新客户", tags=["wave"]))
        if not token:
            break
    expected = [c.id for i, c in enumerate(made) if i % 3 or c.name == "新客户"]
    assert seen == expected and len(set(seen)) == len(seen) == 17
    assert count(contacts, segment.id, "rep.north.1") == 17
    with pytest.raises(InvalidArgument) as bad:
        members(contacts, segment.id, "rep.north.1", token="not-ours")
    assert bad.value.field == "page_token"


def test_preview_counts_and_samples_an_unsaved_filter_without_saving_it(contacts) -> None:
    for i in range(15):
        person(contacts, f"展会客户 {i:02d}", source="trade_show")
    answer = preview(contacts, pb.SegmentFilter(sources=["trade_show"]), "rep.north.1", page_size=0)
    assert answer.count == 15 and len(answer.contacts) == 10  # the default sample
    assert [c.name for c in answer.contacts] == [f"展会客户 {i:02d}" for i in range(10)]
    assert preview(contacts, pb.SegmentFilter(sources=["trade_show"]), "rep.south.1").count == 0
    with pytest.raises(InvalidArgument) as too_many:
        preview(contacts, pb.SegmentFilter(), page_size=101)
    assert too_many.value.field == "page_size"
    assert contacts.subjects().count("crm.contacts.segment.created") == 0


def test_deleted_and_merged_contacts_are_no_members(contacts) -> None:
    keep, gone = person(contacts, "留下", level="vip"), person(contacts, "删除", level="vip")
    merged = person(contacts, "合并掉", level="vip")
    contacts.write(lambda uow: records.delete_record(uow, principal=contacts.users["rep.north.1"], now=contacts.now,
                                                     kind=pb.Contact, record_id=gone.id, expected_version=0))
    from crm_contacts.usecases import duplicates
    contacts.write(lambda uow: duplicates.merge_contacts(uow, principal=contacts.users["rep.north.1"],
                                                         now=contacts.now, survivor_id=keep.id, merged_ids=[merged.id]))
    assert names(contacts, levels=["vip"]) == ["留下"]


def test_custom_values_of_a_struct_that_no_filter_can_match_are_not_indexed(contacts) -> None:
    contacts.write(lambda uow: custom_fields.define_custom_field(uow, principal=contacts.users["admin"],
        definition=pb.CustomFieldDefinition(entity="contact", key="notes", type="text")))
    long_text = Struct()
    long_text.update({"notes": "很长" * 150})
    made = person(contacts, "长备注", custom={"notes": "很长" * 150})
    assert made.custom_fields["notes"] == long_text["notes"]  # kept on the record, of course
    with pytest.raises(InvalidArgument):
        names(contacts, custom_fields={"notes": "很长" * 150})  # longer than any filter matches
    assert names(contacts, custom_fields={"notes": "很长"}) == []
