"""Customer search without an engine: what a contact or account becomes in the index, that the
search filters let exactly the same people find a customer as visibility.py lets read it, and
the checks on a search request."""
from __future__ import annotations

import itertools

import pytest

from crm.contacts.v1.contacts_pb2 import Account, Address, Contact, Email, Phone
from crm_contacts.rules.search_docs import (
    MAX_QUERY_CHARS,
    SCHEMA,
    customer_document,
    matches,
    search_query,
    to_hit,
    visibility_clauses,
)
from crm_contacts.rules.visibility import VISIBILITY
from crm_devtools.users import DEMO_USERS
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.search import FieldKind, SearchHit

REP = DEMO_USERS["rep.north.1"]
OTHERS = {
    "support.1": Principal("support.1", ("support",), "support", ""),
    "analyst.1": Principal("analyst.1", ("analyst",), "bi", ""),
    "finance.1": Principal("finance.1", ("finance",), "finance", "north"),
    "mkt.1": Principal("mkt.1", ("marketing",), "marketing", "north"),
    "manager.none": Principal("manager.none", ("manager",), "", ""),
    "manager.team-only": Principal("manager.team-only", ("manager",), "key-accounts", ""),
}
PRINCIPALS = {**DEMO_USERS, **OTHERS}


def contact(**fields) -> Contact:
    base = dict(id="c1", name="张伟", owner_id="rep.north.1", team="north-sales", region="north")
    return Contact(**{**base, **fields})


def test_a_contact_document_holds_what_people_search_for() -> None:
    doc = customer_document(contact(
        title="采购总监", company_name="华为技术有限公司", level="vip", tags=["展会", "华北"],
        phones=[Phone(number="+8613800138000", raw="138-0013-8000")],
        emails=[Email(address="zhang.wei@huawei.com")],
        addresses=[Address(country="CN", province="广东省", city="深圳市", district="龙岗区"),
                   Address(country="CN", province="广东省", city="东莞市")],
    ))
    assert doc == {
        "id": "c1", "kind": "contact", "name": "张伟", "company": "华为技术有限公司", "title": "采购总监",
        "phones": ["+8613800138000"], "emails": ["zhang.wei@huawei.com"], "tags": ["展会", "华北"],
        "location": "广东省 深圳市 龙岗区 东莞市", "owner_id": "rep.north.1", "team": "north-sales",
        "region": "north", "level": "vip", "city": "深圳市",
    }
    assert set(doc) - {"id"} == set(SCHEMA.fields)


def test_a_contact_without_a_company_is_found_under_its_accounts_name() -> None:
    assert customer_document(contact(account_id="a1"), account_name="顺纽科技")["company"] == "顺纽科技"
    own = customer_document(contact(account_id="a1", company_name="自己的公司"), account_name="顺纽科技")
    assert own["company"] == "自己的公司"


def test_an_account_document_is_kind_account_without_company_or_title() -> None:
    doc = customer_document(Account(id="a1", name="阿里巴巴网络技术有限公司", owner_id="rep.south.1",
                                    team="south-sales", region="south", level="regular",
                                    phones=[Phone(number="+8657185022088")]))
    assert doc["kind"] == "account" and doc["company"] == "" and doc["title"] == ""
    assert doc["name"] == "阿里巴巴网络技术有限公司" and doc["phones"] == ["+8657185022088"]
    assert doc["location"] == "" and doc["city"] == ""


def test_owner_team_region_and_kind_are_filterable_keywords() -> None:
    for name in ("kind", "owner_id", "team", "region"):
        assert SCHEMA.fields[name] == FieldKind.KEYWORD
    assert SCHEMA.fields["phones"] == FieldKind.PHONE and SCHEMA.fields["emails"] == FieldKind.EMAIL


# (owner, team, region): every combination the demo users could meet
OWNERS = ("rep.north.1", "rep.north.2", "rep.south.1", "admin", "mkt.1", "finance.1")
TEAMS = ("north-sales", "south-sales", "key-accounts", "")
REGIONS = ("north", "south", "")


@pytest.mark.parametrize("user", sorted(PRINCIPALS))
def test_search_filters_let_exactly_the_readers_of_a_customer_find_it(user: str) -> None:
    principal = PRINCIPALS[user]
    clauses = visibility_clauses(principal)
    for owner, team, region in itertools.product(OWNERS, TEAMS, REGIONS):
        doc = customer_document(contact(owner_id=owner, team=team, region=region))
        assert matches(doc, clauses) == VISIBILITY.can_read(principal, owner, team, region), (user, owner, team, region)


def test_a_rep_is_filtered_to_their_own_customers_and_a_manager_to_team_or_region() -> None:
    assert visibility_clauses(REP) == [{"owner_id": ["rep.north.1"]}]
    assert visibility_clauses(DEMO_USERS["manager.north"]) == [{"team": ["north-sales"]}, {"region": ["north"]}]
    assert visibility_clauses(DEMO_USERS["admin"]) is None
    assert visibility_clauses(OTHERS["support.1"]) is None


def test_a_manager_without_team_or_region_gets_no_query_at_all() -> None:
    assert search_query(OTHERS["manager.none"], "华为", "", 0, 0) is None


def test_a_search_query_carries_the_kind_filter_visibility_and_paging() -> None:
    query = search_query(REP, "  华为 ", "account", 5, 10)
    assert query is not None
    assert query.text == "华为" and query.filters == {"kind": ["account"]}
    assert list(query.any_of) == [{"owner_id": ["rep.north.1"]}]
    assert (query.limit, query.offset) == (5, 10)
    assert query.highlight, "hits are highlighted unless the caller says otherwise"
    plain = search_query(REP, "华为", "", 0, 0, highlight=False)
    assert plain is not None and not plain.highlight
    everything = search_query(DEMO_USERS["admin"], "x", "", 0, 0)
    assert everything is not None and everything.limit == 20 and not everything.any_of and not everything.filters


@pytest.mark.parametrize(("text", "kind", "limit", "offset", "field"), [
    ("", "", 0, 0, "query"),
    ("   ", "", 0, 0, "query"),
    ("x" * (MAX_QUERY_CHARS + 1), "", 0, 0, "query"),
    ("华为", "lead", 0, 0, "kind"),
    ("华为", "", 101, 0, "limit"),
    ("华为", "", -1, 0, "limit"),
    ("华为", "", 20, -1, "offset"),
    ("华为", "", 100, 9_950, "offset"),
])
def test_a_bad_search_request_is_refused_naming_the_field(text: str, kind: str, limit: int, offset: int,
                                                         field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        search_query(REP, text, kind, limit, offset)
    assert info.value.field == field


def test_a_hit_carries_the_document_fields_and_highlights_in_schema_order() -> None:
    doc = customer_document(contact(company_name="华为技术有限公司", title="采购总监"))
    hit = to_hit(SearchHit("c1", 7.5, doc, {"company": ["<em>华为</em>技术有限公司"], "name": ["<em>张</em>伟"]}))
    assert (hit.id, hit.kind, hit.name, hit.company, hit.title) == ("c1", "contact", "张伟", "华为技术有限公司", "采购总监")
    assert hit.score == 7.5 and hit.owner_id == "rep.north.1" and hit.region == "north"
    assert [(h.field, list(h.fragments)) for h in hit.highlights] == [
        ("name", ["<em>张</em>伟"]), ("company", ["<em>华为</em>技术有限公司"])]
