"""Knowledge base: categories and articles (draft / published / archived, Chinese and English)
in the database, searched through the search port. The index is a read model of the articles
table: rebuilt from it at start, and updated after each committed change."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from crm.support.v1 import events_pb2 as ev
from crm.support.v1.support_pb2 import KbArticle, KbCategory, KbSearchHit, SearchKbResponse
from crm_support import rules, store
from crm_support.common import check_version, emit, is_public, new_id, require_agent, require_staff
from crm_support.tables import kb_feedback
from crmkit import logs
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound
from crmkit.search import FieldKind, IndexSchema, SearchIndex, SearchQuery

log = logs.get("crm_support.kb")
STATUSES = ("draft", "published", "archived")
LANGUAGES = ("zh", "en")
SCHEMA = IndexSchema(
    "kb_articles",
    {"title": FieldKind.TEXT, "body": FieldKind.TEXT, "tags": FieldKind.TEXT, "status": FieldKind.KEYWORD,
     "category_id": FieldKind.KEYWORD, "language": FieldKind.KEYWORD, "snippet": FieldKind.STORED},
    boosts={"title": 3.0, "tags": 2.0},
)
UPDATABLE = ("title", "body", "category_id", "status", "language", "tags")
MAX_TITLE = 300
MAX_ARTICLE = 200_000


def document(article: KbArticle) -> dict[str, Any]:
    return {"id": article.id, "title": article.title, "body": article.body, "tags": list(article.tags),
            "status": article.status, "category_id": article.category_id, "language": article.language,
            "snippet": article.body[:200]}


def rebuild(index: SearchIndex, session: Session) -> int:
    return index.rebuild(document(a) for a in store.all_articles(session))


def reindex(index: SearchIndex | None, article: KbArticle) -> None:
    """After the commit. A failure leaves the index stale until the next start (it is rebuilt
    from the table then); the write itself has happened."""
    if index is None:
        return
    try:
        index.upsert([document(article)])
        index.refresh()
    except Exception:
        log.exception("could not index article %s", article.id)


def _check(article: KbArticle, session: Session) -> None:
    article.title = article.title.strip()
    if not article.title or len(article.title) > MAX_TITLE:
        raise InvalidArgument(f"a title of 1 to {MAX_TITLE} characters", field="title")
    if len(article.body) > MAX_ARTICLE:
        raise InvalidArgument(f"an article is limited to {MAX_ARTICLE} characters", field="body")
    article.status = article.status or "draft"
    if article.status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", field="status")
    article.language = article.language or rules.language_of(article.title + article.body)
    if article.language not in LANGUAGES:
        raise InvalidArgument(f"language must be one of {', '.join(LANGUAGES)}", field="language")
    if article.category_id and not store.category_exists(session, article.category_id):
        raise InvalidArgument(f"no category {article.category_id}", field="category_id")


def create_category(uow: UnitOfWork, principal: Principal, category: KbCategory) -> KbCategory:
    require_agent(principal)
    category.name = category.name.strip()
    if not category.name:
        raise InvalidArgument("a category needs a name", field="name")
    if category.parent_id and not store.category_exists(uow.session, category.parent_id):
        raise InvalidArgument(f"no category {category.parent_id}", field="parent_id")
    category.id = new_id()
    store.save_category(uow.session, category)
    return category


def create_article(uow: UnitOfWork, principal: Principal, article: KbArticle, now: datetime) -> KbArticle:
    require_agent(principal)
    _check(article, uow.session)
    article.id = new_id()
    article.author_id = principal.user_id
    article.version = 1
    article.helpful_count = article.not_helpful_count = 0
    article.created_at.FromDatetime(now)
    article.updated_at.FromDatetime(now)
    if article.status == "published":
        article.published_at.FromDatetime(now)
    store.save_article(uow.session, article, new=True)
    emit(uow, principal, "kb_article", "created", article.id, article.version, ev.KbArticleSaved(article=article), now)
    if article.status == "published":
        emit(uow, principal, "kb_article", "published", article.id, article.version,
             ev.KbArticlePublished(article=article), now)
    return article


def update_article(uow: UnitOfWork, principal: Principal, patch: KbArticle, paths: Sequence[str], expected: int,
                   now: datetime) -> KbArticle:
    require_agent(principal)
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    article = store.load_article(uow.session, patch.id, for_update=True)
    if article is None:
        raise NotFound(f"article {patch.id} not found", field="id")
    check_version(article.version, expected)
    was = article.status
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument(f"{path} cannot be changed", field=path)
        if path == "tags":
            del article.tags[:]
            article.tags.extend(patch.tags)
        else:
            setattr(article, path, getattr(patch, path))
    _check(article, uow.session)
    article.version += 1
    article.updated_at.FromDatetime(now)
    if article.status == "published" and was != "published":
        article.published_at.FromDatetime(now)
    store.save_article(uow.session, article, new=False)
    emit(uow, principal, "kb_article", "updated", article.id, article.version, ev.KbArticleSaved(article=article), now)
    if article.status == "published" and was != "published":
        emit(uow, principal, "kb_article", "published", article.id, article.version,
             ev.KbArticlePublished(article=article), now)
    return article


def get_article(session: Session, principal: Principal, article_id: str) -> KbArticle:
    article = store.load_article(session, article_id) if article_id else None
    if article is None or (is_public(principal) and article.status != "published"):
        raise NotFound(f"article {article_id} not found", field="id")
    return article


def list_articles(session: Session, principal: Principal, category_id: str, status: str, page_size: int,
                  page_token: str) -> tuple[list[KbArticle], str]:
    require_staff(principal)
    return store.list_articles(session, category_id, status, page_size, page_token)


def rate(uow: UnitOfWork, principal: Principal, article_id: str, helpful: bool, comment: str,
         now: datetime) -> KbArticle:
    article = store.load_article(uow.session, article_id, for_update=True) if article_id else None
    if article is None or article.status != "published":
        raise NotFound(f"article {article_id} not found", field="id")
    if len(comment) > 2000:
        raise InvalidArgument("a comment is limited to 2000 characters", field="comment")
    if helpful:
        article.helpful_count += 1
    else:
        article.not_helpful_count += 1
    # Counters are not content: the version (the ETag editors rely on) stays.
    store.save_article(uow.session, article, new=False)
    uow.session.execute(insert(kb_feedback).values(article_id=article.id, helpful=helpful, comment=comment, at=now))
    emit(uow, principal, "kb_article", "rated", article.id, article.version,
         ev.KbFeedbackGiven(article_id=article.id, helpful=helpful, comment=comment), now)
    return article


def search(index: SearchIndex | None, text: str, *, published_only: bool, category_id: str = "",
           language: str = "", limit: int = 10) -> SearchKbResponse:
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
