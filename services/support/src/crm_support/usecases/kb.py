"""Knowledge base: categories and articles (draft / published / archived, Chinese and English) in
the database; searched through the KB index (`crm_support.search`), which the servicer updates
after each committed change."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crm.support.v1 import events_pb2 as ev
from crm.support.v1.support_pb2 import KbArticle, KbCategory, SearchKbResponse
from crm_support import store
from crm_support.events import SUPPORT, emit
from crm_support.rules.access import is_public, require_agent, require_staff
from crm_support.rules.tickets import check_tags, language_of
from crm_support.search import KbIndex
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound
from crmkit.fields import patchable
from crmkit.records import bump, check_version, new_id, stamp_new

STATUSES = ("draft", "published", "archived")
LANGUAGES = ("zh", "en")
UPDATABLE = patchable(KbArticle)
MAX_TITLE = 300
MAX_ARTICLE = 200_000


def _check(article: KbArticle, session: Session) -> None:
    article.title = article.title.strip()
    if not article.title or len(article.title) > MAX_TITLE:
        raise InvalidArgument(f"a title of 1 to {MAX_TITLE} characters", field="title")
    if len(article.body) > MAX_ARTICLE:
        raise InvalidArgument(f"an article is limited to {MAX_ARTICLE} characters", field="body")
    article.status = article.status or "draft"
    if article.status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", field="status")
    article.language = article.language or language_of(article.title + article.body)
    if article.language not in LANGUAGES:
        raise InvalidArgument(f"language must be one of {', '.join(LANGUAGES)}", field="language")
    check_tags(article.tags)
    if article.category_id and not store.category_exists(session, article.category_id):
        raise InvalidArgument(f"no category {article.category_id}", field="category_id")


def create_category(uow: UnitOfWork, *, principal: Principal, category: KbCategory) -> KbCategory:
    require_agent(principal)
    category.name = category.name.strip()
    if not category.name:
        raise InvalidArgument("a category needs a name", field="name")
    if category.parent_id and not store.category_exists(uow.session, category.parent_id):
        raise InvalidArgument(f"no category {category.parent_id}", field="parent_id")
    category.id = new_id()
    store.save_category(uow.session, category)
    return category


def list_categories(session: Session) -> list[KbCategory]:
    return store.categories(session)


def create_article(uow: UnitOfWork, *, principal: Principal, now: datetime, article: KbArticle) -> KbArticle:
    require_agent(principal)
    _check(article, uow.session)
    article.id = ""  # always ours
    stamp_new(article, now)
    article.author_id = principal.user_id
    article.helpful_count = article.not_helpful_count = 0
    if article.status == "published":
        article.published_at.FromDatetime(now)
    store.save_article(uow.session, article, new=True)
    emit(uow, principal, SUPPORT.KB_ARTICLE_CREATED, article.id, article.version,
         ev.KbArticleSaved(article=article), now)
    if article.status == "published":
        emit(uow, principal, SUPPORT.KB_ARTICLE_PUBLISHED, article.id, article.version,
             ev.KbArticlePublished(article=article), now)
    return article


def update_article(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: KbArticle, paths: Sequence[str],
                   expected_version: int) -> KbArticle:
    require_agent(principal)
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    article = store.load_article(uow.session, patch.id, for_update=True)
    if article is None:
        raise NotFound(f"article {patch.id} not found", field="id")
    check_version(article.version, expected_version)
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
    bump(article, now)
    published = article.status == "published" and was != "published"
    if published:
        article.published_at.FromDatetime(now)
    store.save_article(uow.session, article, new=False)
    emit(uow, principal, SUPPORT.KB_ARTICLE_UPDATED, article.id, article.version,
         ev.KbArticleSaved(article=article), now)
    if published:
        emit(uow, principal, SUPPORT.KB_ARTICLE_PUBLISHED, article.id, article.version,
             ev.KbArticlePublished(article=article), now)
    return article


def get_article(session: Session, *, principal: Principal, article_id: str) -> KbArticle:
    article = store.load_article(session, article_id) if article_id else None
    if article is None or (is_public(principal) and article.status != "published"):
        raise NotFound(f"article {article_id} not found", field="id")
    return article


def list_articles(session: Session, *, principal: Principal, category_id: str, status: str, page_size: int,
                  page_token: str) -> tuple[list[KbArticle], str]:
    require_staff(principal)
    return store.list_articles(session, category_id, status, page_size, page_token)


def rate(uow: UnitOfWork, *, principal: Principal, now: datetime, article_id: str, helpful: bool,
         comment: str) -> KbArticle:
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
    store.add_feedback(uow.session, article.id, helpful, comment, now)
    emit(uow, principal, SUPPORT.KB_ARTICLE_RATED, article.id, article.version,
         ev.KbFeedbackGiven(article_id=article.id, helpful=helpful, comment=comment), now)
    return article


def search(index: KbIndex, *, principal: Principal, text: str, public: bool, limit: int, category_id: str = "",
           language: str = "", requested_limit: int = 0) -> SearchKbResponse:
    """Staff search everything (drafts too) unless they are the public principal; the public
    calls see published articles only. `limit` caps what the caller asked for."""
    if not public:
        require_staff(principal)
    return index.search(text, published_only=public or is_public(principal), category_id=category_id,
                        language=language, limit=min(requested_limit or limit, limit))
