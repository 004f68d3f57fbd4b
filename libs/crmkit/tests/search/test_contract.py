"""The search contract: what a CRM user notices, asserted against every engine.

"embedded" and "database" (the index in a SQL database, on SQLite) always run; "postgres" (the
same adapter on PostgreSQL) when one answers at 127.0.0.1:5432; "opensearch" when OPENSEARCH_URL
points at a server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from crmkit.errors import InvalidArgument
from crmkit.search import FieldKind, IndexSchema, SearchIndex, SearchQuery, SearchResult, open_index
from crmkit.testing import fresh_postgres_database, postgres_reachable

FIELDS = {
    "name": FieldKind.TEXT,
    "company": FieldKind.TEXT,
    "phone": FieldKind.PHONE,
    "email": FieldKind.EMAIL,
    "region": FieldKind.KEYWORD,
    "owner_id": FieldKind.KEYWORD,
    "tags": FieldKind.KEYWORD,
    "notes": FieldKind.STORED,
}
BOOSTS = {"name": 3.0, "company": 2.0}

CUSTOMERS: list[dict[str, Any]] = [
    {
        "id": "c1",
        "name": "张伟",
        "company": "华为技术有限公司",
        "phone": "+8613800138000",
        "email": "zhang.wei@huawei.com",
        "region": "north",
        "owner_id": "u1",
        "tags": ["vip"],
        "notes": "年度框架协议",
    },
    {
        "id": "c2",
        "name": "李娜",
        "company": "阿里巴巴网络技术有限公司",
        "phone": "+8613900139000",
        "email": "li.na@alibaba-inc.com",
        "region": "east",
        "owner_id": "u2",
        "tags": ["partner", "vip"],
    },
    {
        "id": "c3",
        "name": "马化腾",
        "company": "腾讯科技有限公司",
        "phone": "+8675586013388",
        "email": "pony@tencent.com",
        "region": "south",
        "owner_id": "u3",
    },
    {
        "id": "c4",
        "name": "Zhang Wei",
        "company": "Siemens AG",
        "phone": "+49 89 636 00",
        "email": "Zhang.Wei@Siemens.com",
        "region": "west",
        "owner_id": "u1",
    },
    {
        "id": "c5",
        "name": "John Smith",
        "company": "Acme Engineering Ltd",
        "phone": "+1 415 555 0100",
        "email": "john.smith@acme.example",
        "region": "south",
        "owner_id": "u3",
        "tags": ["lead"],
    },
    {
        "id": "c6",
        "name": "王芳",
        "company": "华为Mate体验店",
        "phone": "+8613700137000",
        "region": "north",
        "owner_id": "u2",
    },
    {
        "id": "c7",
        "name": "Emily Zhao",
        "company": "Alibaba Cloud Europe",
        "email": "emily.zhao@cloud.example",
        "region": "central",
        "owner_id": "u4",
    },
    {
        "id": "c8",
        "name": "Li Wei",
        "company": "Huawei Technologies Deutschland GmbH",
        "region": "west",
        "owner_id": "u4",
    },
    {
        "id": "c9",
        "name": "Hans Müller",
        "company": "Siemers Logistik GmbH",
        "region": "central",
        "owner_id": "u4",
    },
]


def make_index(
    engine: str, fields: Mapping[str, FieldKind], boosts: Mapping[str, float], data_dir: Path
) -> SearchIndex:
    url, database_url = None, None
    if engine == "opensearch":
        url = os.environ.get("OPENSEARCH_URL")
        if not url:
            pytest.skip("OPENSEARCH_URL is not set: the opensearch engine needs a server")
    elif engine == "database":
        database_url = f"sqlite:///{data_dir / 'search.db'}"
    elif engine == "postgres":
        database_url = _postgres_database()
    # A unique name: OpenSearch indexes outlive the test process if it dies.
    schema = IndexSchema(f"crm_contract_{uuid.uuid4().hex[:10]}", dict(fields), dict(boosts))
    index = open_index(schema, opensearch_url=url, data_dir=data_dir, refresh_interval=None, database_url=database_url)
    index.ensure()
    return index


_PG: list[str] = []


def _postgres_database() -> str:
    """One database for the module's postgres indexes (each index has its own name in it)."""
    if not _PG:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    return _PG[0]


@pytest.fixture(scope="module", params=["embedded", "database", "postgres", "opensearch"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "postgres" and postgres_reachable():
        with fresh_postgres_database("crm_search_contract") as url:
            _PG.append(url)
            try:
                yield request.param
            finally:
                _PG.clear()
        return
    yield request.param


@pytest.fixture(scope="module")
def seeded(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    """Read-only: the customers above. Tests that write use `fresh`."""
    index = make_index(engine, FIELDS, BOOSTS, tmp_path_factory.mktemp("seeded"))
    index.upsert(CUSTOMERS)
    index.refresh()
    yield index
    index.drop()
    index.close()


@pytest.fixture
def fresh(engine: str, tmp_path: Path) -> Iterator[SearchIndex]:
    index = make_index(engine, FIELDS, BOOSTS, tmp_path)
    index.upsert(CUSTOMERS)
    index.refresh()
    yield index
    index.drop()
    index.close()


def ids(result: SearchResult) -> list[str]:
    return [hit.id for hit in result.hits]


def find(index: SearchIndex, text: str, **kwargs: Any) -> list[str]:
    return ids(index.search(SearchQuery(text, **kwargs)))


# --- Chinese -----------------------------------------------------------------


def test_two_chinese_characters_find_the_company_that_contains_them(seeded: SearchIndex) -> None:
    assert set(find(seeded, "华为")) == {"c1", "c6"}
    assert find(seeded, "腾讯") == ["c3"]


def test_two_characters_from_the_middle_of_a_name_are_enough(seeded: SearchIndex) -> None:
    assert set(find(seeded, "技术")) == {"c1", "c2"}  # 华为技术…, 阿里巴巴网络技术…


def test_a_longer_chinese_query_narrows_to_companies_containing_all_of_it(seeded: SearchIndex) -> None:
    assert find(seeded, "华为技术") == ["c1"]  # the Mate store has 华为 but not 为技/技术


def test_a_single_chinese_character_finds_people_by_surname(seeded: SearchIndex) -> None:
    assert find(seeded, "张") == ["c1"]
    assert find(seeded, "李") == ["c2"]


def test_chinese_and_english_in_one_query_must_both_match(seeded: SearchIndex) -> None:
    assert find(seeded, "华为 Mate") == ["c6"]
    assert find(seeded, "Huawei Deutschland") == ["c8"]


# --- English -----------------------------------------------------------------


def test_english_words_match_their_stem(seeded: SearchIndex) -> None:
    assert find(seeded, "engineers") == ["c5"]
    assert find(seeded, "engineer") == ["c5"]


def test_one_typo_in_a_longer_word_is_forgiven(seeded: SearchIndex) -> None:
    assert find(seeded, "Siemans")[0] == "c4"
    assert "c7" in find(seeded, "Alibba")  # Alibaba Cloud Europe


def test_typos_in_short_words_are_not_guessed(seeded: SearchIndex) -> None:
    assert find(seeded, "Acne") == []  # four letters: too short to correct to Acme


def test_the_word_being_typed_matches_as_a_prefix(seeded: SearchIndex) -> None:
    zha = find(seeded, "Zha")
    # Zhang Wei and Emily Zhao by name, ahead of 张伟 whose email starts with zhang
    assert set(zha[:2]) == {"c4", "c7"} and zha[2:] == ["c1"]
    assert "c8" in find(seeded, "hua")  # Huawei Technologies
    assert find(seeded, "Zhang W")[0] == "c4"


def test_a_finished_word_is_not_expanded(seeded: SearchIndex) -> None:
    assert find(seeded, "Zha ") == []


def test_nonsense_finds_nothing(seeded: SearchIndex) -> None:
    result = seeded.search(SearchQuery("Zzyzx Qwertz"))
    assert result.total == 0 and result.hits == []


# --- phones and emails ----------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "+86 138-0013-8000",
        "13800138000",
        "0086 138 0013 8000",
        "138 0013 8000",
        "(+86) 138 0013 8000",
        "+8613800138000",
    ],
)
def test_a_phone_number_is_found_however_it_is_written(seeded: SearchIndex, typed: str) -> None:
    assert find(seeded, typed) == ["c1"]


def test_a_foreign_number_is_found_in_its_national_format(seeded: SearchIndex) -> None:
    assert find(seeded, "(415) 555-0100") == ["c5"]
    assert find(seeded, "089 636 00") == ["c4"]


def test_a_phone_hit_highlights_the_number(seeded: SearchIndex) -> None:
    hit = seeded.search(SearchQuery("138 0013 8000")).hits[0]
    assert hit.highlights["phone"] == ["<em>+8613800138000</em>"]


def test_an_email_is_found_whatever_its_case(seeded: SearchIndex) -> None:
    assert find(seeded, "ZHANG.WEI@SIEMENS.COM") == ["c4"]
    assert find(seeded, "zhang.wei@huawei.com") == ["c1"]


def test_words_of_an_email_are_searchable(seeded: SearchIndex) -> None:
    assert find(seeded, "pony") == ["c3"]
    assert find(seeded, "tencent") == ["c3"]


# --- filters and visibility -------------------------------------------------------


def test_empty_text_with_filters_browses(seeded: SearchIndex) -> None:
    result = seeded.search(SearchQuery("", filters={"region": ["south"]}))
    assert result.total == 2 and set(ids(result)) == {"c3", "c5"}


def test_filters_are_or_within_a_field_and_and_across_fields(seeded: SearchIndex) -> None:
    assert set(find(seeded, "", filters={"region": ["south", "west"]})) == {"c3", "c4", "c5", "c8"}
    assert set(find(seeded, "", filters={"region": ["south", "west"], "owner_id": ["u1"]})) == {"c4"}


def test_multi_valued_keywords_filter_on_any_value(seeded: SearchIndex) -> None:
    assert set(find(seeded, "", filters={"tags": ["vip"]})) == {"c1", "c2"}


def test_any_of_limits_results_to_what_the_user_may_see(seeded: SearchIndex) -> None:
    visible = [{"owner_id": ["u2"]}, {"region": ["west"]}]
    # 张伟 (c1, owner u1, north) is hidden; Zhang Wei (c4, west) is visible
    assert find(seeded, "Zhang", any_of=visible) == ["c4"]
    assert set(find(seeded, "华为", any_of=visible)) == {"c6"}  # owner u2


def test_an_any_of_clause_needs_all_its_fields(seeded: SearchIndex) -> None:
    clause = [{"owner_id": ["u1"], "region": ["north"]}]
    assert set(find(seeded, "", any_of=clause)) == {"c1"}


def test_an_oversized_query_is_rejected_naming_the_text(seeded: SearchIndex) -> None:
    with pytest.raises(InvalidArgument) as err:
        seeded.search(SearchQuery("华为 " * 100))
    assert err.value.field == "text"


def test_filtering_on_a_text_field_is_rejected_naming_it(seeded: SearchIndex) -> None:
    with pytest.raises(InvalidArgument) as err:
        seeded.search(SearchQuery("", filters={"company": ["Siemens AG"]}))
    assert err.value.field == "company"


# --- ranking, highlights, paging ---------------------------------------------------


def test_an_exact_match_ranks_above_a_fuzzy_one(seeded: SearchIndex) -> None:
    assert find(seeded, "Siemens")[:2] == ["c4", "c9"]  # Siemens AG, then Siemers Logistik


@pytest.mark.parametrize(("boosts", "first"), [({"name": 3.0}, "person"), ({"company": 3.0}, "firm")])
def test_boosted_fields_count_more(engine: str, tmp_path: Path, boosts: dict[str, float], first: str) -> None:
    index = make_index(engine, FIELDS, boosts, tmp_path)
    try:
        index.upsert(
            [
                {"id": "person", "name": "Jordan Lee", "company": "Northwind Traders"},
                {"id": "firm", "name": "Alex Kim", "company": "Jordan Logistics"},
            ]
        )
        index.refresh()
        assert find(index, "Jordan")[0] == first
    finally:
        index.drop()
        index.close()


def test_matched_terms_are_highlighted(seeded: SearchIndex) -> None:
    hit = seeded.search(SearchQuery("华为")).hits
    by_id = {h.id: h for h in hit}
    assert by_id["c1"].highlights["company"] == ["<em>华为</em>技术有限公司"]
    stemmed = seeded.search(SearchQuery("engineers")).hits[0]
    assert stemmed.highlights["company"] == ["Acme <em>Engineering</em> Ltd"]


@pytest.mark.parametrize("text", ["华为", "engineers", "Zhan", "13800138000", "zhang.wei@huawei.com"])
def test_without_highlights_the_same_hits_come_in_the_same_order(seeded: SearchIndex, text: str) -> None:
    lit = seeded.search(SearchQuery(text))
    plain = seeded.search(SearchQuery(text, highlight=False))
    assert lit.hits and any(hit.highlights for hit in lit.hits)  # the query does highlight by default
    assert [(h.id, h.document) for h in plain.hits] == [(h.id, h.document) for h in lit.hits]
    assert plain.total == lit.total
    assert [h.highlights for h in plain.hits] == [{}] * len(plain.hits)


def test_hits_carry_the_document_as_indexed(seeded: SearchIndex) -> None:
    assert find(seeded, "年度") == []  # stored-only fields are not searched…
    hit = seeded.search(SearchQuery("张伟")).hits[0]
    assert hit.document == CUSTOMERS[0]  # …but come back with the document


def test_pages_do_not_overlap_and_share_the_total(seeded: SearchIndex) -> None:
    first = seeded.search(SearchQuery("", limit=4, offset=0))
    second = seeded.search(SearchQuery("", limit=4, offset=4))
    assert first.total == second.total == len(CUSTOMERS)
    assert len(first.hits) == 4 and not set(ids(first)) & set(ids(second))


# --- writes ---------------------------------------------------------------------


def test_an_update_is_searchable_after_refresh(fresh: SearchIndex) -> None:
    fresh.upsert([dict(CUSTOMERS[0], company="荣耀终端有限公司")])
    fresh.refresh()
    assert find(fresh, "荣耀") == ["c1"]
    assert "c1" not in find(fresh, "华为")
    assert fresh.count() == len(CUSTOMERS)  # replaced, not duplicated


def test_a_deleted_customer_disappears(fresh: SearchIndex) -> None:
    fresh.delete(["c5", "no-such-id"])
    fresh.refresh()
    assert find(fresh, "Acme") == []
    assert fresh.count() == len(CUSTOMERS) - 1


def test_rebuild_replaces_the_whole_index(fresh: SearchIndex) -> None:
    fresh.rebuild([CUSTOMERS[3], {"id": "n1", "name": "赵敏", "company": "字节跳动"}])
    assert fresh.count() == 2
    assert find(fresh, "字节") == ["n1"]
    assert find(fresh, "华为") == []
    fresh.upsert([CUSTOMERS[0]])  # still writable after the swap
    fresh.refresh()
    assert find(fresh, "华为") == ["c1"]


def test_a_document_without_id_is_rejected(fresh: SearchIndex) -> None:
    with pytest.raises(InvalidArgument):
        fresh.upsert([{"name": "无名"}])
