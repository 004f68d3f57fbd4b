"""Search on the service's own SQL database: a third engine, for deployments that have
PostgreSQL but no OpenSearch and want more than one replica of a searching service.

The index is three tables in that database (created by ensure(), beside the service's own; a read
model like the other engines' indexes, not part of its migrations):
    crm_search_meta    one row per index: its schema fingerprint
    crm_search_docs    one row per document: the document as indexed (JSON)
    crm_search_terms   the terms of each document, analysed exactly as the embedded engine does
                       (crmkit.search.analysis): stemmed and folded words, CJK bigrams and
                       unigrams, phone keys, emails, keyword values, and for fuzzy matching each
                       word's one-deletion variants (a deletion index: no pg_trgm needed)
Every replica reads and writes the same rows, so any number of them share one index; a write is
visible (and durable) at its commit, `refresh` has nothing to do, and `rebuild` swaps in one
transaction. It runs on SQLite too (tests, one box).

What it costs: ~10-20 term rows per short text field, ×5 for the deletion variants of long
words; a search is one indexed lookup and GROUP BY per query word, intersected and ranked here,
so its time grows with the hits of its most common word (docs/scaling.md has figures). Fine for
the tens of thousands of customers of a small deployment; beyond, OpenSearch (`OPENSEARCH_URL`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select

from crmkit.search.analysis import (
    EXACT_LOOKUP,
    FUZZY_WEIGHT,
    PREFIX_WEIGHT,
    TIE_BREAKER,
    Word,
    cjk_bigrams,
    cjk_runs,
    edit_distance_at_most_one,
    fold,
    latin_words,
    normalize_email,
    normalize_text,
    phone_index_keys,
    plan_query,
)
from crmkit.search.highlight import document_highlights
from crmkit.search.port import (
    ID_FIELD,
    FieldKind,
    IndexSchema,
    IndexSchemaMismatch,
    SearchHit,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
    check_query,
    doc_id,
    values,
)

MAX_WORD = 40  # as the embedded engine's remove_long filter
FUZZY_INDEXED = 5  # words this long get deletion variants (a query word needs 5 letters to be fuzzy)
_TOP = "\U0010ffff"  # above every character: [p, p + _TOP) is "starts with p" on an index

metadata = MetaData()
meta = Table("crm_search_meta", metadata,
             Column("index_name", String(101), primary_key=True),
             Column("fingerprint", String(32), nullable=False))
docs = Table("crm_search_docs", metadata,
             Column("index_name", String(101), primary_key=True),
             Column("id", String(300), primary_key=True),
             Column("source", Text, nullable=False))
terms = Table("crm_search_terms", metadata,
              Column("index_name", String(101), nullable=False),
              Column("doc_id", String(300), nullable=False),
              Column("field", String(64), nullable=False),
              # en | raw | cjk | del | phone | email | kw
              Column("kind", String(8), nullable=False),
              Column("term", String(400), nullable=False),
              Column("word", String(100), nullable=True),  # del: the word the variant came from
              Index("ix_crm_search_terms_lookup", "index_name", "kind", "term"),
              # a document's terms: its rewrite, and the filters' probe of a candidate (kw, field, value)
              Index("ix_crm_search_terms_doc", "index_name", "doc_id", "kind", "field", "term"))


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class DatabaseSearchIndex:
    def __init__(self, schema: IndexSchema, url: str) -> None:
        """`url`: the service's SQLAlchemy database URL (its DATABASE_URL). Nothing connects
        before ensure() or the first use."""
        self.schema, self.url = schema, url
        self._engine: Engine | None = None
        self._text = schema.of_kind(FieldKind.TEXT)
        self._emails = schema.of_kind(FieldKind.EMAIL)
        self._phones = schema.of_kind(FieldKind.PHONE)
        self._keywords = schema.of_kind(FieldKind.KEYWORD)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from crmkit.db import make_engine

            self._engine = make_engine(self.url)
        return self._engine

    def _begin(self) -> Any:
        try:
            return self.engine.begin()
        except DBAPIError as exc:
            raise SearchUnavailable(f"search database unreachable: {type(exc.orig).__name__}") from exc

    # --- lifecycle --------------------------------------------------------------------------

    def ensure(self) -> None:
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except DBAPIError:  # another replica created them at the same moment
            metadata.create_all(self.engine, checkfirst=True)
        name, fingerprint = self.schema.name, self.schema.fingerprint()
        with self._begin() as conn:
            stored = conn.execute(select(meta.c.fingerprint).where(meta.c.index_name == name)).scalar()
            if stored is None:
                empty = not conn.execute(select(docs.c.id).where(docs.c.index_name == name).limit(1)).first()
                if empty:
                    conn.execute(insert(meta).values(index_name=name, fingerprint=fingerprint))
                    return
            if stored != fingerprint:
                raise IndexSchemaMismatch(f"search index {name} was built for another schema: rebuild it")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def drop(self) -> None:
        with self._begin() as conn:
            self._clear(conn)
            conn.execute(delete(meta).where(meta.c.index_name == self.schema.name))

    def refresh(self) -> None:
        """Nothing to do: a write is visible to every replica once committed."""

    # --- writes -----------------------------------------------------------------------------

    def upsert(self, documents: Iterable[Mapping[str, Any]]) -> int:
        batch = {doc_id(d): d for d in documents}  # the last one of an id wins, as elsewhere
        if not batch:
            return 0
        with self._begin() as conn:
            # In id order, the docs row first: a concurrent writer of the same document waits on
            # its row lock (PostgreSQL), then replaces these terms rather than adding to them.
            for key in sorted(batch):
                self._replace(conn, key, batch[key])
        return len(batch)

    def delete(self, ids: Iterable[str]) -> None:
        keys = sorted({str(i) for i in ids})
        if not keys:
            return
        name = self.schema.name
        with self._begin() as conn:
            conn.execute(delete(docs).where(docs.c.index_name == name, docs.c.id.in_(keys)))
            conn.execute(delete(terms).where(terms.c.index_name == name, terms.c.doc_id.in_(keys)))

    def rebuild(self, documents: Iterable[Mapping[str, Any]]) -> int:
        """One transaction: readers see the old index until it commits, then the new one."""
        n = 0
        with self._begin() as conn:
            self._exclusive(conn)
            self._clear(conn)
            conn.execute(delete(meta).where(meta.c.index_name == self.schema.name))
            conn.execute(insert(meta).values(index_name=self.schema.name, fingerprint=self.schema.fingerprint()))
            rows: list[dict[str, Any]] = []
            sources: list[dict[str, Any]] = []
            seen: set[str] = set()
            for doc in documents:
                key = doc_id(doc)
                if key in seen:  # the same id twice: the last one wins, as in upsert
                    self._flush(conn, sources, rows)
                    self._replace(conn, key, doc)
                    continue
                seen.add(key)
                sources.append({"index_name": self.schema.name, "id": key, "source": self._source(key, doc)})
                rows += self._terms(key, doc)
                n += 1
                if len(rows) > 5000:
                    self._flush(conn, sources, rows)
            self._flush(conn, sources, rows)
        if self.engine.dialect.name == "postgresql":  # fresh statistics, or the planner guesses 1 row
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE crm_search_docs, crm_search_terms"))
        return n

    @staticmethod
    def _flush(conn: Connection, sources: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        if sources:
            conn.execute(insert(docs), sources)
        if rows:
            conn.execute(insert(terms), rows)
        sources.clear()
        rows.clear()

    def _exclusive(self, conn: Connection) -> None:
        """Two replicas rebuilding at once take turns (PostgreSQL; SQLite has one writer anyway)."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                         {"key": f"crm-search-rebuild:{self.schema.name}"})

    def _clear(self, conn: Connection) -> None:
        conn.execute(delete(terms).where(terms.c.index_name == self.schema.name))
        conn.execute(delete(docs).where(docs.c.index_name == self.schema.name))

    def _replace(self, conn: Connection, key: str, doc: Mapping[str, Any]) -> None:
        name, source = self.schema.name, self._source(key, doc)
        stmt: Any
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        stmt = upsert(docs).values(index_name=name, id=key, source=source)
        conn.execute(stmt.on_conflict_do_update(index_elements=["index_name", "id"], set_={"source": source}))
        conn.execute(delete(terms).where(terms.c.index_name == name, terms.c.doc_id == key))
        rows = self._terms(key, doc)
        if rows:
            conn.execute(insert(terms), rows)

    @staticmethod
    def _source(key: str, doc: Mapping[str, Any]) -> str:
        source = dict(doc)
        source[ID_FIELD] = key
        return json.dumps(source, ensure_ascii=False, default=str)

    def _terms(self, key: str, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
        from crmkit.search.embedded import stem  # the embedded engine's analyzer: one meaning of a word

        found: set[tuple[str, str, str, str | None]] = set()

        def words(field: str, text: str) -> None:
            for word in latin_words(text):
                folded = fold(word)
                if len(folded) >= MAX_WORD:
                    continue
                found.add((field, "en", stem(word), None))
                found.add((field, "raw", folded, None))
                if len(folded) >= FUZZY_INDEXED and not any(c.isdigit() for c in folded):
                    found.update((field, "del", variant, folded) for variant in _deletions(folded))

        for name in self._text:
            for value in values(doc.get(name)):
                value = normalize_text(value)
                words(name, value)
                for run in cjk_runs(value):
                    found.update((name, "raw", char, None) for char in run)
                    found.update((name, "cjk", gram, None) for gram in cjk_bigrams(run) if len(gram) == 2)
        for name in self._emails:
            for value in values(doc.get(name)):
                found.add((name, "email", normalize_email(value), None))
                words(name, value)
        for name in self._phones:
            for value in values(doc.get(name)):
                found.update((name, "phone", k, None) for k in phone_index_keys(value, self.schema.phone_region))
        for name in self._keywords:
            found.update((name, "kw", v, None) for v in values(doc.get(name)))
        return [{"index_name": self.schema.name, "doc_id": key, "field": f, "kind": k, "term": t[:400], "word": w}
                for f, k, t, w in found]

    # --- reads ------------------------------------------------------------------------------

    def count(self) -> int:
        with self._begin() as conn:
            return int(conn.execute(select(func.count()).select_from(docs)
                                    .where(docs.c.index_name == self.schema.name)).scalar() or 0)

    def search(self, query: SearchQuery) -> SearchResult:
        from crmkit.search.embedded import stem

        check_query(self.schema, query)
        plan = plan_query(query.text, self.schema.phone_region, phones=bool(self._phones), emails=bool(self._emails))
        name = self.schema.name
        with self._begin() as conn:
            # Each requirement is one indexed lookup and GROUP BY, run alone and intersected here:
            # a join of grouped subqueries leaves PostgreSQL guessing one row each and looping.
            scores: dict[str, float] | None = None
            if query.text.strip():
                if plan.is_empty:
                    return SearchResult(total=0, hits=[])
                for part in self._requirements(conn, plan.phone_keys, plan.email, plan.words, plan.cjk, stem):
                    got = {str(d): float(s) for d, s in conn.execute(select(part.c.doc_id, part.c.score))}
                    scores = got if scores is None else {d: scores[d] + s for d, s in got.items() if d in scores}
                    if not scores:
                        return SearchResult(total=0, hits=[])
            ok = self._restrictions(docs.c.id, query)
            if scores is None:  # empty text browses what the filters allow
                scores = dict.fromkeys(conn.execute(select(docs.c.id).where(docs.c.index_name == name, ok)).scalars(),
                                       0.0)
            elif query.filters or query.any_of:
                ids, allowed = sorted(scores), set()
                for at in range(0, len(ids), 1000):
                    allowed.update(conn.execute(select(docs.c.id).where(
                        docs.c.index_name == name, docs.c.id.in_(ids[at:at + 1000]), ok)).scalars())
                scores = {d: s for d, s in scores.items() if d in allowed}
            ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
            chosen = ranked[query.offset:query.offset + query.limit]
            sources = dict(conn.execute(select(docs.c.id, docs.c.source).where(
                docs.c.index_name == name, docs.c.id.in_([d for d, _ in chosen]))).tuples().all()) if chosen else {}
            total = len(ranked)
        page = [(d, s, sources[d]) for d, s in chosen if d in sources]
        hits = []
        for key, value, source in page:
            document = json.loads(source)
            highlights = document_highlights(self.schema, plan, document, stem) if query.highlight else {}
            hits.append(SearchHit(id=key, score=float(value), document=document, highlights=highlights))
        return SearchResult(total=total, hits=hits)

    def _requirements(self, conn: Connection, phone_keys: Sequence[str], email: str | None, words: Sequence[Word],
                      runs: Sequence[str], stem: Any) -> list[Any]:
        """One subquery (doc_id, score) per thing the query requires; a document must be in all."""
        if phone_keys:
            return [self._lookup("phone", phone_keys)]
        if email:
            return [self._lookup("email", [email])]
        parts = [self._word(conn, w, stem) for w in words]
        parts += [self._cjk(run) for run in runs]
        return [p.subquery() for p in parts]

    def _terms_of(self, *where: ColumnElement[bool]) -> Select[Any]:
        return select(terms.c.doc_id, terms.c.field).where(terms.c.index_name == self.schema.name, *where)

    def _boost(self) -> ColumnElement[Any]:
        boosts = {f: self.schema.boost(f) for f in (*self._text, *self._emails) if self.schema.boost(f) != 1.0}
        if not boosts:
            return literal(1.0, Float)
        return case(*((terms.c.field == f, literal(b, Float)) for f, b in boosts.items()), else_=literal(1.0, Float))

    def _best_field(self, per_field: Select[Any]) -> Select[Any]:
        """dis_max across fields, with a little for each further field that matched."""
        pf = per_field.subquery()
        best = func.max(pf.c.score)
        return select(pf.c.doc_id, (best + TIE_BREAKER * (func.sum(pf.c.score) - best)).label("score")).group_by(
            pf.c.doc_id)

    def _word(self, conn: Connection, word: Word, stem: Any) -> Select[Any]:
        folded, stemmed = fold(word.text), stem(word.text)
        exact = and_(terms.c.kind == "en", terms.c.term == stemmed)
        options: list[tuple[ColumnElement[bool], float]] = [(exact, 1.0)]
        if word.fuzzy:
            near = self._near(conn, folded)
            if near:
                options.append((and_(terms.c.kind == "raw", terms.c.term.in_(sorted(near))), FUZZY_WEIGHT))
        if word.prefix:
            starts = and_(terms.c.kind == "raw", terms.c.term >= folded, terms.c.term < folded + _TOP)
            options.append((starts, PREFIX_WEIGHT))
        fields = [*self._text, *self._emails]
        weight = sum((func.max(case((cond, literal(w, Float)), else_=literal(0.0, Float))) for cond, w in options),
                     start=literal(0.0, Float))
        per_field = (select(terms.c.doc_id, terms.c.field, (weight * func.max(self._boost())).label("score"))
                     .where(terms.c.index_name == self.schema.name, terms.c.field.in_(fields),
                            or_(*(cond for cond, _ in options)))
                     .group_by(terms.c.doc_id, terms.c.field))
        return self._best_field(per_field)

    def _near(self, conn: Connection, folded: str) -> set[str]:
        """Indexed words within one edit of `folded`: those it becomes by one deletion (raw
        terms), and those that become it or one of its deletions by one (their variants)."""
        if len(folded) >= MAX_WORD:
            return set()
        variants = _deletions(folded) | {folded}
        name = self.schema.name
        shorter = conn.execute(select(terms.c.term).distinct().where(
            terms.c.index_name == name, terms.c.kind == "raw", terms.c.term.in_(sorted(variants)))).scalars()
        longer = conn.execute(select(terms.c.word).distinct().where(
            terms.c.index_name == name, terms.c.kind == "del", terms.c.term.in_(sorted(variants)))).scalars()
        return {w for w in (*shorter, *longer) if w and edit_distance_at_most_one(w, folded)}

    def _cjk(self, run: str) -> Select[Any]:
        if len(run) == 1:  # a lone character: the unigrams
            matched = self._terms_of(terms.c.kind == "raw", terms.c.term == run, terms.c.field.in_(self._text))
            having: ColumnElement[bool] = true()
        else:  # every bigram of the run in one field: 技术 finds 华为技术有限公司
            grams = sorted(set(cjk_bigrams(run)))
            matched = self._terms_of(terms.c.kind == "cjk", terms.c.term.in_(grams), terms.c.field.in_(self._text))
            having = func.count(terms.c.term.distinct()) == len(grams)
        per_field = (matched.add_columns(func.max(self._boost()).label("score"))
                     .group_by(terms.c.doc_id, terms.c.field).having(having))
        return self._best_field(per_field)

    def _lookup(self, kind: str, keys: Sequence[str]) -> Any:
        """Exact keys score EXACT_LOOKUP; a key typed in part (as-you-type) still finds, lower."""
        exact = terms.c.term.in_(list(keys))
        partial = or_(*(and_(terms.c.term >= k, terms.c.term < k + _TOP) for k in keys))
        score = func.max(case((exact, literal(EXACT_LOOKUP, Float)), else_=literal(1.0, Float)))
        return (select(terms.c.doc_id, score.label("score"))
                .where(terms.c.index_name == self.schema.name, terms.c.kind == kind, or_(exact, partial))
                .group_by(terms.c.doc_id).subquery())

    def _restrictions(self, id_column: ColumnElement[Any], query: SearchQuery) -> ColumnElement[bool]:
        """filters: AND across fields, OR within a field's values; any_of: one clause must hold."""

        def clause(fields: Mapping[str, Sequence[str]]) -> ColumnElement[bool]:
            parts: list[ColumnElement[bool]] = []
            for field, wanted in fields.items():
                vals = [str(v) for v in wanted]
                if not vals:
                    parts.append(false())
                elif field == ID_FIELD:
                    parts.append(id_column.in_(vals))
                else:  # uncorrelated: computed once (a hashed subplan), not probed per candidate
                    parts.append(id_column.in_(select(terms.c.doc_id).where(
                        terms.c.index_name == self.schema.name, terms.c.kind == "kw", terms.c.field == field,
                        terms.c.term.in_(vals))))
            return and_(true(), *parts)

        restrictions: list[ColumnElement[bool]] = []
        if query.filters:
            restrictions.append(clause(query.filters))
        if query.any_of:
            restrictions.append(or_(*(clause(c) for c in query.any_of)))
        return and_(true(), *restrictions)
