"""Search port and adapters. Services depend on the port; `open_index` picks the
engine from configuration (OPENSEARCH_URL set: OpenSearch; a database URL given: the index in
that database; else embedded).

    schema = IndexSchema("customers", {"name": FieldKind.TEXT, "phone": FieldKind.PHONE,
                                       "owner_id": FieldKind.KEYWORD}, boosts={"name": 3.0})
    index = open_index(schema, opensearch_url=settings.opensearch_url, data_dir=settings.data_dir)
    index.ensure()                                   # at start-up, not at import
    index.upsert([{"id": "c1", "name": "华为技术有限公司", "phone": "+8613800138000"}])
    index.refresh()                                  # visible (and, embedded, durable) now
    index.search(SearchQuery("华为", any_of=[{"owner_id": ["u1"]}]))

The index is a read model: feed it from events, and `rebuild` it from the
source of truth when the schema changes (ensure() raises IndexSchemaMismatch).
"""

from __future__ import annotations

from pathlib import Path

from crmkit.search.port import (
    FieldKind,
    IndexSchema,
    IndexSchemaMismatch,
    SearchHit,
    SearchIndex,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
)

__all__ = [
    "FieldKind",
    "IndexSchema",
    "IndexSchemaMismatch",
    "SearchHit",
    "SearchIndex",
    "SearchQuery",
    "SearchResult",
    "SearchUnavailable",
    "open_index",
]


def open_index(
    schema: IndexSchema,
    *,
    opensearch_url: str | None,
    data_dir: str | Path,
    refresh_interval: float | None = 1.0,
    database_url: str | None = None,
) -> SearchIndex:
    """The OpenSearch adapter when a URL is given, else with `database_url` the index in that SQL
    database (crmkit.search.database: shared by every replica), else the embedded engine under
    data_dir. Nothing connects or touches disk until ensure() or first use."""
    if opensearch_url:
        from crmkit.search.opensearch import OpenSearchIndex  # imports opensearch-py lazily

        return OpenSearchIndex(schema, opensearch_url)
    if database_url:
        from crmkit.search.database import DatabaseSearchIndex

        return DatabaseSearchIndex(schema, database_url)
    from crmkit.search.embedded import EmbeddedSearchIndex

    return EmbeddedSearchIndex(schema, data_dir, refresh_interval=refresh_interval)
