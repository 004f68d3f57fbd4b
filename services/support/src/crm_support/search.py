"""The knowledge base's search index (the crmkit.search port: tantivy under DATA_DIR/search/kb,
or OpenSearch): a read model of the kb_articles table, run as a Worker. Opening it rebuilds it
from the table; each committed article change is written to it afterwards."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from crm.support.v1.support_pb2 import KbArticle, KbSearchHit, SearchKbResponse
from crm_support import store
from crmkit import logs
from crmkit.db import Database
from crmkit.errors import InvalidArgument
from crmkit.search import FieldKind, IndexSchema, SearchIndex, SearchQuery, open_index

log = logs.get("crm_support.search")
SCHEMA = IndexSchema(
    "kb_articles",
    {"title": FieldKind.TEXT, "body": FieldKind.TEXT, "tags": FieldKind.TEXT, "status": FieldKind.KEYWORD,
     "category_id": FieldKind.KEYWORD, "language": FieldKind.KEYWORD, "snippet": FieldKind.STORED},
    boosts={"title": 3.0, "tags": 2.0},
)


def document(article: KbArticle) -> dict[str, Any]:
    return {"id": article.id, "title": article.title, "body": article.body, "tags": list(article.tags),
            "status": article.status, "category_id": article.category_id, "language": article.language,
            "snippet": article.body[:200]}


class KbIndex:
    """Started before the gRPC server (a Worker), so searches never meet a half-built index; until
    then, and after stop, searches find nothing."""

    def __init__(self, db: Database, *, opensearch_url: str | None, data_dir: Path) -> None:
        self.db, self.opensearch_url, self.data_dir = db, opensearch_url, data_dir
        self.current: SearchIndex | None = None

    def start(self) -> KbIndex:
        index = open_index(SCHEMA, opensearch_url=self.opensearch_url, data_dir=self.data_dir)
        index.ensure()
        with self.db.read() as session:
            count = index.rebuild(document(a) for a in store.all_articles(session))
        log.info("knowledge base indexed", extra={"fields": {"articles": count}})
        self.current = index
        return self

    def stop(self) -> None:
        index, self.current = self.current, None
        if index is not None:
            index.close()

    def reindex(self, article: KbArticle) -> None:
        """After the commit. A failure leaves the index stale until the next start (it is rebuilt
        from the table then); the write itself has happened."""
        if self.current is None:
            return
        try:
            self.current.upsert([document(article)])
            self.current.refresh()
        except Exception:
            log.exception("could not index article %s", article.id)

    def search(self, text: str, *, published_only: bool, category_id: str = "", language: str = "",
               limit: int = 10) -> SearchKbResponse:
        index = self.current
        if index is None:
            return SearchKbResponse()
        filters: dict[str, list[str]] = {}
        if published_only:
            filters["status"] = ["published"]
        if category_id:
            filters["category_id"] = [category_id]
        if language:
            filters["language"] = [language]
        if not text.strip():
            raise InvalidArgument("type something to search for", field="q")
        result = index.search(SearchQuery(text=text.strip(), filters=filters, limit=max(1, min(limit or 10, 50))))
        hits = []
        for hit in result.hits:
            doc = hit.document
            marked = (hit.highlights.get("body") or hit.highlights.get("title") or [str(doc.get("snippet", ""))])[0]
            hits.append(KbSearchHit(id=hit.id, title=str(doc.get("title", "")), snippet=marked,
                                    category_id=str(doc.get("category_id", "")), status=str(doc.get("status", "")),
                                    score=hit.score))
        return SearchKbResponse(hits=hits, total=result.total)
