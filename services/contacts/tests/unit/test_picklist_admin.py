"""An administrator edits the picklists contacts owns (usecases/picklists.py): the change commits
with crm.contacts.picklist.updated carrying the whole vocabulary, and contacts' own writes,
filters and segments follow it at once: an added source is accepted, a retired one is refused on
new writes naming `source` and the active keys, and stays on the records and in filters."""
from __future__ import annotations

import pytest

from crm.common.v1.picklists_pb2 import Picklist, Picklists, PicklistValue
from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.usecases import picklists as admin
from crm_contacts.usecases import records, segments
from crmkit import picklists
from crmkit.errors import Conflict, InvalidArgument, PermissionDenied
from crmkit.runtime_tables import audit_row


def _change(contacts, values, *, name="source", user="admin", expected=None, restricted=True) -> Picklists:
    return contacts.write(lambda uow: admin.update_picklist(
        uow, principal=contacts.users[user], now=contacts.now, expected_version=expected,
        change=Picklist(name=name, values=values, restricted=restricted)))


def _sources(*, webinar_retired=False):
    values = [PicklistValue(key=k) for k in picklists.SOURCES]
    return [*values, PicklistValue(key="webinar", label_zh="线上研讨会", label_en="Webinar", retired=webinar_retired)]


def _create(contacts, **fields) -> pb.Contact:
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now, record=pb.Contact(**fields),
        allow_duplicate=True))


def test_an_added_source_is_accepted_and_the_change_leaves_as_one_event(contacts) -> None:
    with pytest.raises(InvalidArgument):
        _create(contacts, name="王芳", source="webinar")
    document = _change(contacts, _sources())
    assert document.version == 1 and document.updated_by == "admin"
    assert contacts.subjects() == ["crm.contacts.picklist.updated"]
    sent = contacts.payload()
    assert isinstance(sent, Picklists) and sent == document
    assert _create(contacts, name="王芳", source="webinar").source == "webinar"
    [entry] = [row for row in contacts.rows(audit_row) if row.action == "picklist_updated"]
    assert (entry.actor, entry.action, entry.record_id) == ("admin", "picklist_updated", "source")
    assert "webinar" in entry.details and "version 1" in entry.details
    listed = contacts.read(admin.get_picklists)
    [source] = [p for p in listed.picklists if p.name == "source"]
    assert (source.values[-1].label_zh, source.values[-1].label_en) == ("线上研讨会", "Webinar")


def test_a_retired_source_is_refused_on_new_writes_but_stays_on_records_and_in_filters(contacts) -> None:
    _change(contacts, _sources())
    old = _create(contacts, name="王芳", source="webinar")
    _change(contacts, _sources(webinar_retired=True), expected=1)
    with pytest.raises(InvalidArgument) as err:
        _create(contacts, name="李雷", source="webinar")
    assert err.value.field == "source" and "website, web_form" in err.value.message
    assert "webinar" not in err.value.details["allowed"]
    # the record keeps it through an update of another field
    kept = contacts.write(lambda uow: records.update_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now, patch=pb.Contact(id=old.id, title="经理"),
        mask=["title"], expected_version=old.version))
    assert (kept.source, kept.title) == ("webinar", "经理")
    found, _ = contacts.read(lambda s: records.list_records(
        s, principal=contacts.users["rep.north.1"], kind=pb.Contact, filter=pb.ListFilter(source="webinar"),
        page_size=10, page_token=""))
    assert [c.id for c in found] == [old.id]
    preview = contacts.read(lambda s: segments.preview(
        s, principal=contacts.users["rep.north.1"], now=contacts.now, filter=pb.SegmentFilter(sources=["webinar"]),
        page_size=5))
    assert preview.count == 1


def test_a_filter_naming_no_key_of_the_picklist_is_a_400_not_an_empty_list(contacts) -> None:
    with pytest.raises(InvalidArgument) as err:
        contacts.read(lambda s: records.list_records(
            s, principal=contacts.users["rep.north.1"], kind=pb.Contact, filter=pb.ListFilter(level="gold"),
            page_size=10, page_token=""))
    assert err.value.field == "level"


def test_only_an_admin_changes_a_picklist_and_a_stale_version_conflicts(contacts) -> None:
    with pytest.raises(PermissionDenied):
        _change(contacts, _sources(), user="manager.north")
    _change(contacts, _sources())
    with pytest.raises(Conflict):
        _change(contacts, _sources(webinar_retired=True), expected=7)
    assert contacts.subjects() == ["crm.contacts.picklist.updated"]


def test_expecting_version_0_is_a_check_so_two_first_changes_cannot_both_win(contacts) -> None:
    first = _change(contacts, _sources(), expected=0)  # read the defaults (version 0), nobody saved since
    assert first.version == 1
    with pytest.raises(Conflict) as err:  # a second admin who also read the defaults
        _change(contacts, _sources(webinar_retired=True), expected=0)
    assert err.value.field == "If-Match"
    kept = contacts.read(admin.get_picklists)
    [source] = [p for p in kept.picklists if p.name == "source"]
    assert kept.version == 1 and [v.retired for v in source.values if v.key == "webinar"] == [False]
    assert contacts.subjects() == ["crm.contacts.picklist.updated"]


def test_a_change_that_changes_nothing_keeps_the_version_and_emits_nothing(contacts) -> None:
    _change(contacts, _sources())
    again = _change(contacts, _sources(), expected=1)
    assert again.version == 1 and len(contacts.events) == 1


def test_an_added_level_and_lifecycle_stage_hold_on_contacts_and_accounts(contacts) -> None:
    levels = [*(PicklistValue(key=k) for k in picklists.LEVELS), PicklistValue(key="gold", label_zh="金牌", label_en="Gold")]
    _change(contacts, levels, name="level")
    stages = [*(PicklistValue(key=k) for k in picklists.LIFECYCLE),
              PicklistValue(key="partner", label_zh="合作伙伴", label_en="Partner")]
    _change(contacts, stages, name="lifecycle_stage", expected=1)
    assert _create(contacts, name="甲", level="gold", lifecycle_stage="partner").level == "gold"
    account = contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now, record=pb.Account(name="乙公司", level="gold"),
        allow_duplicate=True))
    assert account.level == "gold"


def test_the_document_read_and_sent_back_as_it_is_changes_nothing_and_a_flipped_flag_is_refused(contacts) -> None:
    _change(contacts, _sources())
    [source] = [p for p in contacts.read(admin.get_picklists).picklists if p.name == "source"]
    echoed = list(source.values)  # every value with its labels, retired and built_in flags
    assert [v.built_in for v in echoed][-1:] == [False] and echoed[0].built_in
    again = _change(contacts, echoed, expected=1)
    assert again.version == 1 and len(contacts.events) == 1
    flipped = [PicklistValue.FromString(v.SerializeToString()) for v in echoed]
    flipped[-1].built_in = True  # webinar, an added value, claimed built in
    with pytest.raises(InvalidArgument) as err:
        _change(contacts, flipped, expected=1)
    assert err.value.field == f"values[{len(flipped) - 1}].built_in"
