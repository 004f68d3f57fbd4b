"""Listing customers: every filter, and cursor paging that neither loses nor repeats a record,
even while records are added and removed between pages."""
from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1.types_pb2 import PageRequest
from crm.contacts.v1 import contacts_pb2 as pb

pytestmark = pytest.mark.integration

# (name, owner, region, level, source, tags)
PEOPLE = [
    ("Alice Chen", "rep.north.1", "north", "vip", "trade_show", ["展会", "key"]),
    ("Bob Li", "rep.north.1", "north", "regular", "website", ["展会"]),
    ("陈静", "rep.north.2", "north", "vip", "referral", []),
    ("刘洋", "rep.south.1", "south", "prospect", "trade_show", ["key"]),
    ("Emily Zhao", "rep.south.2", "south", "vip", "ads", ["展会"]),
    ("王磊", "rep.south.1", "south", "regular", "website", []),
]


def _ids(records) -> list[str]:
    return [r.id for r in records]


def _list_all(client, flt: pb.ListFilter, page_size: int = 100) -> list[pb.Contact]:
    """Every page of a listing; asserts the cursor ends."""
    found: list[pb.Contact] = []
    token = ""
    for _ in range(1000):
        page = client.ListContacts(pb.ListContactsRequest(filter=flt, page=PageRequest(page_size=page_size,
                                                                                      page_token=token)))
        found.extend(page.contacts)
        token = page.page.next_page_token
        if not token:
            return found
    raise AssertionError("paging never ended")


@pytest.fixture(scope="module")
def people(api) -> dict[str, pb.Contact]:
    admin = api("admin")
    created = {}
    for name, owner, region, level, source, tags in PEOPLE:
        team = f"{region}-sales"
        created[name] = admin.CreateContact(pb.CreateContactRequest(contact=pb.Contact(
            name=name, owner_id=owner, team=team, region=region, level=level, source=source, tags=tags,
            company_name="Acme 顺纽" if "Li" in name else "")))
    return created


@pytest.mark.parametrize(("flt", "expected"), [
    (pb.ListFilter(), [p[0] for p in PEOPLE]),
    (pb.ListFilter(owner_id="rep.north.1"), ["Alice Chen", "Bob Li"]),
    (pb.ListFilter(owner_id="nobody"), []),
    (pb.ListFilter(region="south"), ["刘洋", "Emily Zhao", "王磊"]),
    (pb.ListFilter(tag="展会"), ["Alice Chen", "Bob Li", "Emily Zhao"]),
    (pb.ListFilter(tag="key", region="south"), ["刘洋"]),
    (pb.ListFilter(level="vip"), ["Alice Chen", "陈静", "Emily Zhao"]),
    (pb.ListFilter(source="trade_show"), ["Alice Chen", "刘洋"]),
    (pb.ListFilter(source="website", level="regular", region="north"), ["Bob Li"]),
    (pb.ListFilter(query="chen"), ["Alice Chen"]),
    (pb.ListFilter(query="acme"), ["Bob Li"]),            # matches the company name
], ids=["all", "owner", "owner-none", "region", "tag", "tag+region", "level", "source", "source+level+region",
        "query-name", "query-company"])
def test_filters_return_exactly_the_matching_contacts(api, people, flt, expected) -> None:
    listed = _list_all(api("admin"), flt)
    assert [c.name for c in listed] == expected


def test_created_range_and_updated_since(api, people) -> None:
    admin = api("admin")
    later = [admin.CreateContact(pb.CreateContactRequest(contact=pb.Contact(
        name=f"Later {i}", owner_id="rep.west", region="west", level="vip"))) for i in range(3)]
    cut = later[0].created_at
    assert _ids(_list_all(admin, pb.ListFilter(region="west", created_after=cut))) == _ids(later)
    assert _ids(_list_all(admin, pb.ListFilter(created_before=cut))) == _ids(people.values())
    window = pb.ListFilter(created_after=later[1].created_at, created_before=later[2].created_at)
    assert _ids(_list_all(admin, window)) == [later[1].id]

    touched = admin.UpdateContact(pb.UpdateContactRequest(
        contact=pb.Contact(id=people["陈静"].id, title="CFO"), update_mask=FieldMask(paths=["title"])))
    since = _list_all(admin, pb.ListFilter(updated_since=touched.updated_at))
    assert _ids(since) == [touched.id]
    assert set(_ids(_list_all(admin, pb.ListFilter(updated_since=cut)))) == {*_ids(later), touched.id}


def test_cursor_paging_through_many_pages_loses_and_repeats_nothing(api) -> None:
    manager = api("manager.south")
    batch = [manager.CreateContact(pb.CreateContactRequest(contact=pb.Contact(
        name=f"客户{i:02d}", owner_id="rep.south.2", region="south", tags=["paging"],
        level="vip" if i % 3 == 0 else "regular"))) for i in range(23)]
    flt = pb.ListFilter(tag="paging")

    pages = []
    token = ""
    while True:
        page = manager.ListContacts(pb.ListContactsRequest(filter=flt, page=PageRequest(page_size=5, page_token=token)))
        pages.append(_ids(page.contacts))
        token = page.page.next_page_token
        if not token:
            break
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [i for p in pages for i in p] == _ids(batch)

    # a filter that matches sparsely across the pages
    vip = _list_all(manager, pb.ListFilter(tag="paging", level="vip"), page_size=2)
    assert _ids(vip) == _ids(batch[::3])

    # records added and removed while a client pages: nothing already listed comes back, nothing
    # that was there all along is skipped, and the new record shows up at the end
    first = manager.ListContacts(pb.ListContactsRequest(filter=flt, page=PageRequest(page_size=10)))
    manager.DeleteContact(pb.DeleteContactRequest(id=batch[2].id))     # already seen
    manager.DeleteContact(pb.DeleteContactRequest(id=batch[15].id))    # not seen yet
    extra = manager.CreateContact(pb.CreateContactRequest(contact=pb.Contact(
        name="新客户", owner_id="rep.south.2", region="south", tags=["paging"])))
    rest: list[pb.Contact] = []
    token = first.page.next_page_token
    while token:
        page = manager.ListContacts(pb.ListContactsRequest(filter=flt, page=PageRequest(page_size=4, page_token=token)))
        rest.extend(page.contacts)
        token = page.page.next_page_token
    seen = _ids(first.contacts) + _ids(rest)
    assert len(seen) == len(set(seen))
    assert seen == [c.id for c in batch if c.id != batch[15].id] + [extra.id]


def test_page_size_is_capped_and_defaulted(api) -> None:
    admin = api("admin")
    for i in range(3):
        admin.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name=f"cap {i}", tags=["cap"])))
    page = admin.ListContacts(pb.ListContactsRequest(filter=pb.ListFilter(tag="cap"), page=PageRequest(page_size=-1)))
    assert len(page.contacts) == 3 and page.page.next_page_token == ""
    page = admin.ListContacts(pb.ListContactsRequest(filter=pb.ListFilter(tag="cap"),
                                                     page=PageRequest(page_size=3)))
    assert len(page.contacts) == 3 and page.page.next_page_token == ""   # exact fit: no empty last page
