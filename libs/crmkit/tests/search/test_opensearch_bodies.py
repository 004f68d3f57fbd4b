"""The OpenSearch adapter without a server: its request bodies, its response
parsing, and its alias-swap sequence against a recording stand-in client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opensearchpy.serializer import JSONSerializer

from crmkit.search import FieldKind, IndexSchema, IndexSchemaMismatch, SearchQuery, SearchUnavailable, open_index
from crmkit.search.analysis import plan_query
from crmkit.search.opensearch import OpenSearchIndex, alias_swap_actions, concrete_name, parse_response
from crmkit.search.opensearch_bodies import (
    document_body,
    index_mappings,
    index_settings,
    index_template,
    merge_highlights,
    search_body,
)

SCHEMA = IndexSchema(
    "customers",
    {
        "name": FieldKind.TEXT,
        "company": FieldKind.TEXT,
        "phone": FieldKind.PHONE,
        "email": FieldKind.EMAIL,
        "region": FieldKind.KEYWORD,
        "owner_id": FieldKind.KEYWORD,
        "notes": FieldKind.STORED,
    },
    boosts={"name": 3.0, "company": 2.0},
)


def body_for(text: str, **kwargs: Any) -> dict[str, Any]:
    return search_body(SCHEMA, plan_query(text), SearchQuery(text, **kwargs))


def main_query(body: dict[str, Any]) -> dict[str, Any]:
    return body["query"]["bool"]["must"][0]


# --- index definition -----------------------------------------------------------


def test_analyzers_stem_with_porter2_and_prefix_with_edge_ngrams() -> None:
    analysis = index_settings()["analysis"]
    assert analysis["filter"]["crm_porter2"] == {"type": "stemmer", "language": "porter2"}
    assert analysis["filter"]["crm_edge"]["min_gram"] == 2
    assert analysis["analyzer"]["crm_en"]["filter"][-1] == "crm_porter2"
    assert analysis["analyzer"]["crm_prefix"]["filter"][-1] == "crm_edge"


def test_text_fields_have_cjk_english_and_prefix_subfields() -> None:
    name = index_mappings(SCHEMA)["properties"]["name"]
    assert name["analyzer"] == "crm_words"
    assert name["fields"]["cjk"]["analyzer"] == "cjk"  # built-in bigram analyzer
    assert name["fields"]["en"]["analyzer"] == "crm_en"
    # edge n-grams at index time only: the typed prefix itself is the search term
    assert name["fields"]["prefix"] == {"type": "text", "analyzer": "crm_prefix", "search_analyzer": "crm_words"}


def test_exact_kinds_are_keywords_and_stored_fields_are_not_indexed() -> None:
    mappings = index_mappings(SCHEMA)
    props = mappings["properties"]
    assert props["email"]["type"] == "keyword" and props["email"]["normalizer"] == "crm_lowercase"
    assert props["phone__keys"] == {"type": "keyword"}
    assert props["phone"]["index"] is False
    assert props["region"] == {"type": "keyword"}
    assert "notes" not in props and mappings["dynamic"] is False  # kept in _source only
    assert mappings["_meta"]["crmkit_fingerprint"] == SCHEMA.fingerprint()


def test_template_covers_every_concrete_index_behind_the_alias() -> None:
    template = index_template(SCHEMA, "customers", shards=1, replicas=1)
    assert template["index_patterns"] == ["customers-*"]
    assert concrete_name("customers").startswith("customers-2")
    assert template["template"]["mappings"] == index_mappings(SCHEMA)


def test_document_body_adds_phone_lookup_keys() -> None:
    body = document_body(SCHEMA, "c1", {"id": "c1", "name": "张伟", "phone": ["+86 138 0013 8000"]})
    assert body["phone__keys"] == ["+8613800138000", "13800138000"]
    assert body["phone"] == ["+86 138 0013 8000"] and body["name"] == "张伟"


# --- queries --------------------------------------------------------------------------


def test_a_phone_query_looks_up_normalized_keys() -> None:
    query = main_query(body_for("138-0013-8000"))
    should = query["bool"]["should"]
    assert should[0] == {"terms": {"phone__keys": ["+8613800138000", "13800138000"], "boost": 10.0}}
    assert {"prefix": {"phone__keys": {"value": "+8613800138000", "boost": 1.0}}} in should


def test_an_email_query_is_a_lowercased_term() -> None:
    should = main_query(body_for("Zhang.Wei@Huawei.com"))["bool"]["should"]
    assert should[0] == {"terms": {"email": ["zhang.wei@huawei.com"], "boost": 10.0}}


def _field_clauses(query: dict[str, Any], field: str) -> list[dict[str, Any]]:
    for per_field in query["dis_max"]["queries"]:
        should = per_field["bool"]["should"]
        if field in should[0]["match"]:
            return should
    raise AssertionError(f"no clause for {field}")


def test_a_long_word_is_fuzzy_and_a_short_one_is_not() -> None:
    siemans = _field_clauses(main_query(body_for("Siemans ")), "company.en")
    assert siemans[0] == {"match": {"company.en": {"query": "Siemans", "boost": 2.0}}}
    assert siemans[1]["match"]["company"]["fuzziness"] == 1
    acme = _field_clauses(main_query(body_for("Acme ")), "company.en")
    assert len(acme) == 1  # no fuzzy, no prefix: the word is finished


def test_the_last_word_gets_a_prefix_clause_on_the_edge_ngram_field() -> None:
    zha = _field_clauses(main_query(body_for("Zha")), "name.en")
    assert zha[-1] == {"match": {"name.prefix": {"query": "Zha", "boost": 1.5}}}
    email = _field_clauses(main_query(body_for("Zha")), "email.en")
    assert email[-1]["match"] == {"email.prefix": {"query": "Zha", "boost": 0.5}}


def test_chinese_runs_need_all_bigrams_and_single_chars_use_unigrams() -> None:
    run = main_query(body_for("华为技术"))["dis_max"]["queries"]
    assert {"match": {"company.cjk": {"query": "华为技术", "operator": "and", "boost": 2.0}}} in run
    single = main_query(body_for("张"))["dis_max"]["queries"]
    assert {"match": {"name": {"query": "张", "boost": 3.0}}} in single


def test_every_word_must_match() -> None:
    query = main_query(body_for("华为 Mate"))
    assert len(query["bool"]["must"]) == 2


def test_filters_and_visibility_are_non_scoring_filters() -> None:
    body = body_for(
        "Zhang", filters={"region": ["north", "west"]}, any_of=[{"owner_id": ["u1"]}, {"region": ["south"]}]
    )
    filters = body["query"]["bool"]["filter"]
    assert filters[0] == {"bool": {"filter": [{"terms": {"region": ["north", "west"]}}]}}
    assert filters[1]["bool"]["minimum_should_match"] == 1
    assert filters[1]["bool"]["should"][0] == {"bool": {"filter": [{"terms": {"owner_id": ["u1"]}}]}}


def test_browse_paging_and_exact_totals() -> None:
    body = body_for("", filters={"region": ["north"]}, limit=5, offset=10)
    assert main_query(body) == {"match_all": {}}
    assert (body["from"], body["size"], body["track_total_hits"]) == (10, 5, True)
    assert "highlight" not in body


def test_highlight_requested_for_text_searches_only() -> None:
    highlight = body_for("华为")["highlight"]
    assert highlight["pre_tags"] == ["<em>"] and highlight["encoder"] == "html"
    assert {"name", "name.cjk", "name.en", "name.prefix", "email.words"} <= set(highlight["fields"])
    assert "highlight" not in body_for("华为", highlight=False)
    assert "highlight" not in body_for("13800138000")


# --- responses ------------------------------------------------------------------------


def test_subfield_highlights_merge_into_their_field() -> None:
    merged = merge_highlights(
        {
            "name": ["<em>Zhang</em> Wei &amp; Co"],
            "name.prefix": ["Zhang <em>Wei</em> &amp; Co"],
            "company.cjk": ["<em>华为</em>技术有限公司"],
        }
    )
    assert merged == {"name": ["<em>Zhang</em> <em>Wei</em> &amp; Co"], "company": ["<em>华为</em>技术有限公司"]}


def test_a_response_becomes_hits_with_documents_and_highlights() -> None:
    response = {
        "hits": {
            "total": {"value": 42, "relation": "eq"},
            "hits": [
                {
                    "_id": "c1",
                    "_score": 7.5,
                    "_source": {"id": "c1", "name": "张伟", "phone": "+8613800138000"},
                    "highlight": {"name.cjk": ["<em>张伟</em>"]},
                }
            ],
        }
    }
    result = parse_response(SCHEMA, plan_query("张伟"), SearchQuery("张伟"), response)
    assert result.total == 42
    hit = result.hits[0]
    assert (hit.id, hit.score, hit.document["name"]) == ("c1", 7.5, "张伟")
    assert hit.highlights == {"name": ["<em>张伟</em>"]}
    phone = parse_response(SCHEMA, plan_query("138 0013 8000"), SearchQuery("138 0013 8000"), response)
    assert phone.hits[0].highlights == {"phone": ["<em>+8613800138000</em>"]}


# --- the adapter against a recording stand-in -------------------------------------------


class _Indices:
    def __init__(self, cluster: FakeCluster) -> None:
        self.c = cluster

    def put_index_template(self, *, name: str, body: dict[str, Any]) -> None:
        self.c.calls.append(("put_index_template", name))
        self.c.template = body

    def exists_alias(self, *, name: str) -> bool:
        return any(name in a for a in self.c.aliases.values())

    def create(self, *, index: str, body: dict[str, Any] | None = None) -> None:
        self.c.calls.append(("create", index))
        self.c.aliases[index] = set((body or {}).get("aliases", {}))
        self.c.docs[index] = {}
        self.c.mappings[index] = self.c.template["template"]["mappings"]

    def get_mapping(self, *, index: str) -> dict[str, Any]:
        return {i: {"mappings": self.c.mappings[i]} for i in self.c.aliases if index in self.c.aliases[i]}

    def get_alias(self, *, name: str) -> dict[str, Any]:
        return {i: {"aliases": {name: {}}} for i, a in self.c.aliases.items() if name in a}

    def update_aliases(self, *, body: dict[str, Any]) -> None:
        self.c.calls.append(("update_aliases", json.dumps(body, sort_keys=True)))
        for action in body["actions"]:
            ((verb, spec),) = action.items()
            target = self.c.aliases[spec["index"]]
            target.add(spec["alias"]) if verb == "add" else target.discard(spec["alias"])

    def put_settings(self, *, index: str, body: dict[str, Any]) -> None:
        self.c.calls.append(("put_settings", index))

    def refresh(self, *, index: str) -> None:
        self.c.calls.append(("refresh", index))

    def delete(self, *, index: str, ignore_unavailable: bool = False) -> None:
        self.c.calls.append(("delete", index))
        self.c.aliases.pop(index, None)


class FakeCluster:
    """Just enough of opensearch-py's client for ensure/bulk/rebuild."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.aliases: dict[str, set[str]] = {}
        self.docs: dict[str, dict[str, Any]] = {}
        self.mappings: dict[str, Any] = {}
        self.template: dict[str, Any] = {}
        self.indices = _Indices(self)
        self.transport = type("T", (), {"serializer": JSONSerializer()})()

    def resolve(self, name: str) -> str:
        return next(i for i, a in self.aliases.items() if name in a or name == i)

    def bulk(self, *, body: str, **_: Any) -> dict[str, Any]:
        lines = [json.loads(line) for line in body.splitlines() if line]
        items, i = [], 0
        while i < len(lines):
            ((op, meta),) = lines[i].items()
            self.docs[self.resolve(meta["_index"])][meta["_id"]] = lines[i + 1]
            items.append({op: {"_id": meta["_id"], "status": 201}})
            i += 2
        self.calls.append(("bulk", str(len(items))))
        return {"errors": False, "items": items}


def test_ensure_creates_a_concrete_index_behind_the_alias() -> None:
    cluster = FakeCluster()
    index = OpenSearchIndex(SCHEMA, "http://unused", client=cluster)
    index.ensure()
    index.ensure()  # idempotent: the alias exists now
    created = [name for call, name in cluster.calls if call == "create"]
    assert len(created) == 1 and created[0].startswith("customers-")
    assert cluster.aliases[created[0]] == {"customers"}


def test_ensure_refuses_an_index_built_for_another_schema() -> None:
    cluster = FakeCluster()
    OpenSearchIndex(SCHEMA, "http://unused", client=cluster).ensure()
    changed = IndexSchema("customers", {**SCHEMA.fields, "city": FieldKind.KEYWORD})
    with pytest.raises(IndexSchemaMismatch):
        OpenSearchIndex(changed, "http://unused", client=cluster).ensure()


def test_rebuild_loads_aside_then_swaps_the_alias_in_one_call() -> None:
    cluster = FakeCluster()
    index = OpenSearchIndex(SCHEMA, "http://unused", client=cluster)
    index.ensure()
    old = next(iter(cluster.aliases))
    assert index.rebuild([{"id": "c1", "name": "张伟", "phone": "13800138000"}]) == 1
    new = next(i for i in cluster.aliases if i != old)
    calls = [c for c, _ in cluster.calls]
    # load, restore settings, refresh, then one atomic alias update, then drop the old index
    assert calls[-5:] == ["bulk", "put_settings", "refresh", "update_aliases", "delete"]
    assert cluster.calls[-1] == ("delete", old)
    swap = json.loads(cluster.calls[-2][1])
    assert swap == alias_swap_actions("customers", [old], new)
    assert cluster.aliases == {new: {"customers"}}
    assert cluster.docs[new]["c1"]["phone__keys"] == ["+8613800138000", "13800138000"]


def test_an_unreachable_server_is_reported_as_unavailable() -> None:
    index = open_index(SCHEMA, opensearch_url="http://127.0.0.1:9", data_dir="unused")
    with pytest.raises(SearchUnavailable):
        index.count()
    index.close()
