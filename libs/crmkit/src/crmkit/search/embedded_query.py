"""QueryPlan -> tantivy Query, for the sub-fields laid out in embedded.tantivy_schema."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import tantivy
from tantivy import Occur, Query

from crmkit.search.analysis import (
    EXACT_LOOKUP,
    FUZZY_WEIGHT,
    PREFIX_MAX_CHARS,
    PREFIX_WEIGHT,
    TIE_BREAKER,
    QueryPlan,
    Word,
    cjk_bigrams,
    fold,
)
from crmkit.search.port import FieldKind, IndexSchema, SearchQuery


def _any(queries: Sequence[Query]) -> Query:
    if not queries:
        return Query.empty_query()
    if len(queries) == 1:
        return queries[0]
    return Query.boolean_query([(Occur.Should, q) for q in queries])


def _all(queries: Sequence[Query]) -> Query:
    if len(queries) == 1:
        return queries[0]
    return Query.boolean_query([(Occur.Must, q) for q in queries])


def _best(queries: Sequence[Query]) -> Query:
    if not queries:
        return Query.empty_query()
    if len(queries) == 1:
        return queries[0]
    return Query.disjunction_max_query(list(queries), tie_breaker=TIE_BREAKER)


def _word(ts: tantivy.Schema, schema: IndexSchema, word: Word, stem: Callable[[str], str]) -> Query:
    folded, stemmed = fold(word.text), stem(word.text)
    per_field = []
    for name in schema.of_kind(FieldKind.TEXT, FieldKind.EMAIL):
        boost = schema.boost(name)
        options = [Query.boost_query(Query.term_query(ts, f"{name}__en", stemmed, "freq"), boost)]
        if word.fuzzy:
            fuzzy = Query.fuzzy_term_query(ts, f"{name}__raw", folded, distance=word.fuzzy)
            options.append(Query.boost_query(fuzzy, boost * FUZZY_WEIGHT))
        if word.prefix:
            if len(folded) <= PREFIX_MAX_CHARS:
                prefix = Query.term_query(ts, f"{name}__prefix", folded, "basic")
            else:
                prefix = Query.fuzzy_term_query(ts, f"{name}__raw", folded, distance=0, prefix=True)
            options.append(Query.const_score_query(prefix, boost * PREFIX_WEIGHT))
        per_field.append(_any(options))
    return _best(per_field)


def _cjk(ts: tantivy.Schema, schema: IndexSchema, run: str) -> Query:
    per_field = []
    for name in schema.of_kind(FieldKind.TEXT):
        if len(run) == 1:  # unigrams live in __raw (see split_cjk_chars)
            q = Query.term_query(ts, f"{name}__raw", run, "freq")
        else:  # every bigram, not the whole word: 技术 finds 华为技术有限公司
            q = _all([Query.term_query(ts, f"{name}__cjk", g, "freq") for g in cjk_bigrams(run)])
        per_field.append(Query.boost_query(q, schema.boost(name)))
    return _best(per_field)


def _lookup(ts: tantivy.Schema, fields: Sequence[str], keys: Sequence[str]) -> Query:
    options = []
    for name in fields:
        exact = Query.term_set_query(ts, name, list(keys))
        options.append(Query.const_score_query(exact, EXACT_LOOKUP))
        for key in keys:  # as-you-type: a partial number or address still finds it
            prefix = Query.fuzzy_term_query(ts, name, key, distance=0, prefix=True)
            options.append(Query.const_score_query(prefix, 1.0))
    return _any(options)


def text_query(ts: tantivy.Schema, schema: IndexSchema, plan: QueryPlan, stem: Callable[[str], str]) -> Query:
    if plan.phone_keys:
        return _lookup(ts, schema.of_kind(FieldKind.PHONE), plan.phone_keys)
    if plan.email:
        return _lookup(ts, schema.of_kind(FieldKind.EMAIL), [plan.email])
    parts = [_word(ts, schema, w, stem) for w in plan.words]
    parts += [_cjk(ts, schema, run) for run in plan.cjk]
    return _all(parts) if parts else Query.empty_query()


def _clause(ts: tantivy.Schema, clause: Mapping[str, Sequence[str]]) -> Query:
    """AND across fields, OR within a field's values."""
    parts = [
        Query.term_set_query(ts, name, [str(v) for v in vals]) if vals else Query.empty_query()
        for name, vals in clause.items()
    ]
    return _all(parts) if parts else Query.all_query()


def compile_query(
    ts: tantivy.Schema,
    schema: IndexSchema,
    plan: QueryPlan,
    query: SearchQuery,
    stem: Callable[[str], str],
) -> Query:
    # empty text browses: every document the filters allow
    scored = text_query(ts, schema, plan, stem) if query.text.strip() else Query.all_query()
    restrictions = []
    if query.filters:
        restrictions.append(_clause(ts, query.filters))
    if query.any_of:
        restrictions.append(_any([_clause(ts, c) for c in query.any_of]))
    if not restrictions:
        return scored
    # Filters must not change the ranking: score them 0.
    return Query.boolean_query(
        [(Occur.Must, scored)] + [(Occur.Must, Query.const_score_query(r, 0.0)) for r in restrictions]
    )
