"""OpenSearch adapter (opensearch-py). Bodies come from opensearch_bodies.

Services always address the alias `<name>`; it points at one concrete index
`<name>-<UTC timestamp>` created from the `<name>` index template. `rebuild`
loads a new concrete index and moves the alias in one `_aliases` call, so
searches never see a partial index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from crmkit.errors import FailedPrecondition
from crmkit.search.analysis import QueryPlan, plan_query
from crmkit.search.highlight import document_highlights
from crmkit.search.opensearch_bodies import (
    document_body,
    index_template,
    merge_highlights,
    search_body,
)
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
)

log = logging.getLogger(__name__)

BULK_CHUNK = 1000
BULK_TIMEOUT_S = 120


def concrete_name(alias: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%f")
    return f"{alias}-{stamp}"


def alias_swap_actions(alias: str, old: Iterable[str], new: str) -> dict[str, Any]:
    """One atomic _aliases body: readers see the old index or the new, never neither."""
    actions: list[dict[str, Any]] = [{"remove": {"index": o, "alias": alias}} for o in old]
    actions.append({"add": {"index": new, "alias": alias, "is_write_index": True}})
    return {"actions": actions}


class OpenSearchIndex:
    def __init__(
        self,
        schema: IndexSchema,
        url: str,
        *,
        client: Any | None = None,
        shards: int = 1,
        replicas: int = 1,
        timeout_s: float = 10.0,
    ) -> None:
        self.schema = schema
        self.alias = schema.name
        self._shards, self._replicas = shards, replicas
        # The client connects lazily, on the first request.
        self._client = client or OpenSearch(
            hosts=[url], timeout=timeout_s, max_retries=2, retry_on_timeout=True, http_compress=True
        )

    # --- lifecycle -----------------------------------------------------------

    def ensure(self) -> None:
        with self._errors():
            self._put_template()
            if self._client.indices.exists_alias(name=self.alias):
                self._check_fingerprint()
                return
            self._client.indices.create(
                index=concrete_name(self.alias),
                body={"aliases": {self.alias: {"is_write_index": True}}},
            )

    def drop(self) -> None:
        with self._errors():
            for index in self._behind_alias():
                self._client.indices.delete(index=index, ignore_unavailable=True)
            with suppress(NotFoundError):
                self._client.indices.delete_index_template(name=self.alias)

    def close(self) -> None:
        self._client.close()

    # --- writes --------------------------------------------------------------

    def upsert(self, docs: Iterable[Mapping[str, Any]]) -> int:
        return self._bulk(self.alias, docs)

    def delete(self, ids: Iterable[str]) -> None:
        actions = ({"_op_type": "delete", "_index": self.alias, "_id": str(i)} for i in ids)
        with self._errors():
            helpers.bulk(
                self._client,
                actions,
                chunk_size=BULK_CHUNK,
                max_retries=3,
                ignore_status=(404,),  # already gone is fine: deletes are idempotent
                request_timeout=BULK_TIMEOUT_S,
            )

    def refresh(self) -> None:
        with self._errors():
            self._client.indices.refresh(index=self.alias)

    def rebuild(self, docs: Iterable[Mapping[str, Any]]) -> int:
        new = concrete_name(self.alias)
        with self._errors():
            self._put_template()
            # Bulk-load settings: no refreshes, no replicas; restored before the swap.
            self._client.indices.create(
                index=new, body={"settings": {"refresh_interval": "-1", "number_of_replicas": 0}}
            )
            try:
                count = self._bulk(new, docs)
                self._client.indices.put_settings(
                    index=new,
                    body={"index": {"refresh_interval": None, "number_of_replicas": self._replicas}},
                )
                self._client.indices.refresh(index=new)
            except BaseException:
                self._client.indices.delete(index=new, ignore_unavailable=True)
                raise
            old = [i for i in self._behind_alias() if i != new]
            self._client.indices.update_aliases(body=alias_swap_actions(self.alias, old, new))
            for index in old:
                self._client.indices.delete(index=index, ignore_unavailable=True)
        return count

    # --- reads ---------------------------------------------------------------

    def count(self) -> int:
        with self._errors():
            return int(self._client.count(index=self.alias)["count"])

    def search(self, query: SearchQuery) -> SearchResult:
        check_query(self.schema, query)
        plan = plan_query(
            query.text,
            self.schema.phone_region,
            phones=bool(self.schema.of_kind(FieldKind.PHONE)),
            emails=bool(self.schema.of_kind(FieldKind.EMAIL)),
        )
        with self._errors():
            response = self._client.search(index=self.alias, body=search_body(self.schema, plan, query))
        return parse_response(self.schema, plan, query, response)

    # --- internals -------------------------------------------------------------

    def _bulk(self, index: str, docs: Iterable[Mapping[str, Any]]) -> int:
        def actions() -> Iterator[dict[str, Any]]:
            for doc in docs:
                key = doc_id(doc)
                yield {"_index": index, "_id": key, "_source": document_body(self.schema, key, doc)}

        with self._errors():
            # max_retries: back off and resend what the cluster rejected with 429
            count, _ = helpers.bulk(
                self._client,
                actions(),
                chunk_size=BULK_CHUNK,
                max_retries=3,
                request_timeout=BULK_TIMEOUT_S,
            )
        return int(count)

    def _put_template(self) -> None:
        body = index_template(self.schema, self.alias, shards=self._shards, replicas=self._replicas)
        self._client.indices.put_index_template(name=self.alias, body=body)

    def _behind_alias(self) -> list[str]:
        try:
            return sorted(self._client.indices.get_alias(name=self.alias))
        except NotFoundError:
            return []

    def _check_fingerprint(self) -> None:
        mappings = self._client.indices.get_mapping(index=self.alias)
        for index, body in mappings.items():
            meta = body.get("mappings", {}).get("_meta", {})
            if meta.get("crmkit_fingerprint") != self.schema.fingerprint():
                raise IndexSchemaMismatch(f"search index {index!r} was built for another schema: rebuild it")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Transport failures become domain errors; their text stays in the log."""
        try:
            yield
        except OSConnectionError as exc:
            log.warning("opensearch unreachable: %s", exc)
            raise SearchUnavailable("search is unavailable") from exc
        except NotFoundError as exc:
            raise FailedPrecondition(f"search index {self.alias!r} is missing: call ensure()") from exc
        except TransportError as exc:
            if exc.status_code in (429, 502, 503, 504):
                log.warning("opensearch overloaded: %s", exc)
                raise SearchUnavailable("search is unavailable") from exc
            raise


def parse_response(
    schema: IndexSchema, plan: QueryPlan, query: SearchQuery, response: Mapping[str, Any]
) -> SearchResult:
    hits_section = response.get("hits", {})
    total = hits_section.get("total", 0)
    total = int(total["value"] if isinstance(total, Mapping) else total)
    lookup = bool(plan.phone_keys or plan.email)
    hits = []
    for raw in hits_section.get("hits", []):
        document = dict(raw.get("_source") or {})
        document.setdefault(ID_FIELD, raw["_id"])
        if not query.highlight:
            highlights: dict[str, list[str]] = {}
        elif lookup:
            highlights = document_highlights(schema, plan, document, stem=lambda w: w.lower())
        else:
            highlights = merge_highlights(raw.get("highlight") or {})
        hits.append(SearchHit(str(raw["_id"]), float(raw.get("_score") or 0.0), document, highlights))
    return SearchResult(total=total, hits=hits)
