"""Request bodies for the OpenSearch adapter: pure functions, unit-tested without a server.

Field layout (mirrors the embedded engine's sub-fields):
    text   f          standard tokenizer: Latin words + CJK unigrams (fuzzy, one-char queries)
           f.cjk      built-in `cjk` analyzer: CJK bigrams (two-char queries)
           f.en       Porter2-stemmed words ("engineers" ~ "engineering")
           f.prefix   edge n-grams 2..20 (as-you-type "Zha" -> "Zhang")
    email  f          keyword, lowercased; f.words / f.en / f.prefix as for text
    phone  f          the value as given (not indexed); f__keys: E.164 + national number
    keyword f         keyword; stored fields are not mapped (dynamic: false keeps them in _source)
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from crmkit.search.analysis import (
    EXACT_LOOKUP,
    FUZZY_WEIGHT,
    HIGHLIGHT_POST,
    HIGHLIGHT_PRE,
    PREFIX_MAX_CHARS,
    PREFIX_MIN_CHARS,
    PREFIX_WEIGHT,
    TIE_BREAKER,
    QueryPlan,
    Word,
    apply_highlight,
    merge_spans,
    phone_index_keys,
)
from crmkit.search.port import ID_FIELD, FieldKind, IndexSchema, SearchQuery, values

KEYS_SUFFIX = "__keys"
_LATIN_FILTERS = ["cjk_width", "lowercase", "asciifolding"]


def _analyzer(*extra: str) -> dict[str, Any]:
    # crm_punct: split on . _ @ ' like tantivy's simple tokenizer (the standard
    # tokenizer keeps "zhang.wei" whole, which would hide both names)
    return {
        "type": "custom",
        "tokenizer": "standard",
        "char_filter": ["crm_punct"],
        "filter": [*_LATIN_FILTERS, *extra],
    }


def index_settings(*, shards: int = 1, replicas: int = 1) -> dict[str, Any]:
    return {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        "analysis": {
            "char_filter": {"crm_punct": {"type": "pattern_replace", "pattern": "[._@'\u2019]", "replacement": " "}},
            "filter": {
                "crm_porter2": {"type": "stemmer", "language": "porter2"},
                "crm_edge": {"type": "edge_ngram", "min_gram": PREFIX_MIN_CHARS, "max_gram": PREFIX_MAX_CHARS},
            },
            "normalizer": {"crm_lowercase": {"type": "custom", "filter": ["lowercase"]}},
            "analyzer": {
                "crm_words": _analyzer(),
                "crm_en": _analyzer("crm_porter2"),
                "crm_prefix": _analyzer("crm_edge"),
            },
        },
    }


def _text_subfields() -> dict[str, Any]:
    return {
        "en": {"type": "text", "analyzer": "crm_en"},
        "prefix": {"type": "text", "analyzer": "crm_prefix", "search_analyzer": "crm_words"},
    }


def index_mappings(schema: IndexSchema) -> dict[str, Any]:
    properties: dict[str, Any] = {ID_FIELD: {"type": "keyword"}}
    for name, kind in schema.fields.items():
        if kind == FieldKind.TEXT:
            fields = {"cjk": {"type": "text", "analyzer": "cjk"}, **_text_subfields()}
            properties[name] = {"type": "text", "analyzer": "crm_words", "fields": fields}
        elif kind == FieldKind.EMAIL:
            fields = {"words": {"type": "text", "analyzer": "crm_words"}, **_text_subfields()}
            properties[name] = {"type": "keyword", "normalizer": "crm_lowercase", "fields": fields}
        elif kind == FieldKind.PHONE:
            properties[name] = {"type": "keyword", "index": False, "doc_values": False}
            properties[name + KEYS_SUFFIX] = {"type": "keyword"}
        elif kind == FieldKind.KEYWORD:
            properties[name] = {"type": "keyword"}
    return {
        "dynamic": False,
        "_meta": {"crmkit_index": schema.name, "crmkit_fingerprint": schema.fingerprint()},
        "_source": {"excludes": [f"*{KEYS_SUFFIX}"]},  # derived, recomputed on every write
        "properties": properties,
    }


def index_template(schema: IndexSchema, alias: str, *, shards: int, replicas: int) -> dict[str, Any]:
    """Composable template for every concrete index behind the alias."""
    return {
        "index_patterns": [f"{alias}-*"],
        "priority": 200,
        "template": {
            "settings": index_settings(shards=shards, replicas=replicas),
            "mappings": index_mappings(schema),
        },
        "_meta": {"managed_by": "crmkit.search"},
    }


def document_body(schema: IndexSchema, key: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(doc)
    body[ID_FIELD] = key
    for name in schema.of_kind(FieldKind.PHONE):
        keys = [k for v in values(doc.get(name)) for k in phone_index_keys(v, schema.phone_region)]
        body[name + KEYS_SUFFIX] = keys
    return body


# --- queries -----------------------------------------------------------------


def _words_field(schema: IndexSchema, name: str) -> str:
    return f"{name}.words" if schema.fields[name] == FieldKind.EMAIL else name


def _dis_max(queries: list[dict[str, Any]]) -> dict[str, Any]:
    if len(queries) == 1:
        return queries[0]
    return {"dis_max": {"queries": queries, "tie_breaker": TIE_BREAKER}}


def word_query(schema: IndexSchema, word: Word) -> dict[str, Any]:
    per_field = []
    for name in schema.of_kind(FieldKind.TEXT, FieldKind.EMAIL):
        boost = schema.boost(name)
        should: list[dict[str, Any]] = [{"match": {f"{name}.en": {"query": word.text, "boost": boost}}}]
        if word.fuzzy:
            fuzzy = {
                "query": word.text,
                "fuzziness": word.fuzzy,  # same rule as embedded: 1 edit from 5 letters
                "prefix_length": 0,
                "fuzzy_transpositions": True,
                "boost": boost * FUZZY_WEIGHT,
            }
            should.append({"match": {_words_field(schema, name): fuzzy}})
        if word.prefix:
            prefix = {"query": word.text, "boost": boost * PREFIX_WEIGHT}
            should.append({"match": {f"{name}.prefix": prefix}})
        per_field.append({"bool": {"should": should, "minimum_should_match": 1}})
    return _dis_max(per_field)


def cjk_query(schema: IndexSchema, run: str) -> dict[str, Any]:
    per_field = []
    for name in schema.of_kind(FieldKind.TEXT):
        boost = schema.boost(name)
        if len(run) == 1:  # the cjk analyzer keeps no unigrams beside bigrams: use f
            per_field.append({"match": {name: {"query": run, "boost": boost}}})
        else:
            match = {"query": run, "operator": "and", "boost": boost}
            per_field.append({"match": {f"{name}.cjk": match}})
    return _dis_max(per_field)


def _lookup(fields: Sequence[str], keys: Sequence[str]) -> dict[str, Any]:
    should: list[dict[str, Any]] = []
    for field in fields:
        should.append({"terms": {field: list(keys), "boost": EXACT_LOOKUP}})
        should += [{"prefix": {field: {"value": k, "boost": 1.0}}} for k in keys]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def text_query(schema: IndexSchema, plan: QueryPlan) -> dict[str, Any]:
    if plan.phone_keys:
        fields = [f + KEYS_SUFFIX for f in schema.of_kind(FieldKind.PHONE)]
        return _lookup(fields, plan.phone_keys)
    if plan.email:
        return _lookup(schema.of_kind(FieldKind.EMAIL), [plan.email])
    must = [word_query(schema, w) for w in plan.words] + [cjk_query(schema, r) for r in plan.cjk]
    if not must:
        return {"match_none": {}}
    return must[0] if len(must) == 1 else {"bool": {"must": must}}


def _clause(clause: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """AND across fields, OR within a field's values (an empty list matches nothing)."""
    return {"bool": {"filter": [{"terms": {f: [str(v) for v in vals]}} for f, vals in clause.items()]}}


def highlight_fields(schema: IndexSchema) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, kind in schema.fields.items():
        if kind == FieldKind.TEXT:
            for sub in (name, f"{name}.cjk", f"{name}.en", f"{name}.prefix"):
                fields[sub] = {}
        elif kind == FieldKind.EMAIL:
            for sub in (f"{name}.words", f"{name}.en", f"{name}.prefix"):
                fields[sub] = {}
    return fields


def search_body(schema: IndexSchema, plan: QueryPlan, query: SearchQuery) -> dict[str, Any]:
    main = text_query(schema, plan) if query.text.strip() else {"match_all": {}}
    filters = [_clause(query.filters)] if query.filters else []
    if query.any_of:
        filters.append({"bool": {"should": [_clause(c) for c in query.any_of], "minimum_should_match": 1}})
    body: dict[str, Any] = {
        "query": {"bool": {"must": [main], "filter": filters}},  # filter: no effect on ranking
        "from": query.offset,
        "size": query.limit,
        "track_total_hits": True,
    }
    # Lookups (phone, email) are highlighted client-side from the document.
    if query.highlight and query.text.strip() and not (plan.phone_keys or plan.email):
        body["highlight"] = {
            "pre_tags": [HIGHLIGHT_PRE],
            "post_tags": [HIGHLIGHT_POST],
            "encoder": "html",
            "number_of_fragments": 0,  # whole values: CRM fields are short
            "require_field_match": True,
            "fields": highlight_fields(schema),
        }
    return body


# --- responses ---------------------------------------------------------------

_TAG = re.compile(f"({re.escape(HIGHLIGHT_PRE)}|{re.escape(HIGHLIGHT_POST)})")


def _spans(fragment: str) -> tuple[str, list[tuple[int, int]]]:
    """Plain text and highlighted spans of an html-encoded, tagged fragment."""
    text, spans, start = [], [], 0
    pos = 0
    for part in _TAG.split(fragment):
        if part == HIGHLIGHT_PRE:
            start = pos
        elif part == HIGHLIGHT_POST:
            spans.append((start, pos))
        else:
            plain = html.unescape(part)
            text.append(plain)
            pos += len(plain)
    return "".join(text), spans


def merge_highlights(raw: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """One entry per base field: sub-field highlights of one value are unioned,
    so "name" shows what name.cjk, name.en and name.prefix each matched."""
    by_field: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for key, fragments in raw.items():
        base = key.split(".", 1)[0]
        for fragment in fragments:
            text, spans = _spans(fragment)
            by_field.setdefault(base, {}).setdefault(text, []).extend(spans)
    out: dict[str, list[str]] = {}
    for base, texts in by_field.items():
        out[base] = [apply_highlight(text, merge_spans(spans)) for text, spans in texts.items()]
    return out
