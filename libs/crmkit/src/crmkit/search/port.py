"""The search port: what services see, whichever engine sits behind it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import grpc

from crmkit.errors import DomainError, FailedPrecondition, InvalidArgument
from crmkit.search.analysis import ANALYSIS_VERSION, DEFAULT_PHONE_REGION

MAX_LIMIT = 1000
MAX_TEXT_CHARS = 256  # a search box, not a document: bounds the clauses a query builds
MAX_WINDOW = 10_000  # OpenSearch's default index.max_result_window; keep engines alike
ID_FIELD = "id"
# No "-" in names: "<name>-*" index patterns must not catch another index's indices.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,100}$")
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class FieldKind(StrEnum):
    TEXT = "text"  # full text, Chinese + English
    KEYWORD = "keyword"  # exact, filterable, may be a list
    PHONE = "phone"  # exact lookup in any written format, kept as E.164
    EMAIL = "email"  # exact, case-insensitive; its words are searchable too
    STORED = "stored"  # returned, never searched


SEARCHABLE = (FieldKind.TEXT, FieldKind.EMAIL)


class SearchUnavailable(DomainError):
    status = grpc.StatusCode.UNAVAILABLE
    title = "Search unavailable"


class IndexSchemaMismatch(FailedPrecondition):
    """The stored index was built for another schema or analysis: rebuild it."""


@dataclass(frozen=True)
class IndexSchema:
    name: str
    fields: Mapping[str, FieldKind]
    boosts: Mapping[str, float] = field(default_factory=dict)
    phone_region: str = DEFAULT_PHONE_REGION  # how national-format numbers are read

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"index name {self.name!r}: lowercase letters, digits and _")
        for name, kind in self.fields.items():
            if not _FIELD.match(name) or "__" in name or name == ID_FIELD:
                raise ValueError(f"field name {name!r} is reserved or invalid")
            FieldKind(kind)
        for name in self.boosts:
            if self.fields.get(name) not in SEARCHABLE:
                raise ValueError(f"boost on {name!r}: only text and email fields are scored")

    def of_kind(self, *kinds: FieldKind) -> list[str]:
        return [name for name, kind in self.fields.items() if kind in kinds]

    def boost(self, name: str) -> float:
        return float(self.boosts.get(name, 1.0))

    def fingerprint(self) -> str:
        """Changes whenever the stored form would: fields, kinds, analysis version."""
        payload = {
            "fields": sorted((k, FieldKind(v).value) for k, v in self.fields.items()),
            "region": self.phone_region,
            "analysis": ANALYSIS_VERSION,
        }
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SearchQuery:
    """`filters`: AND across fields, OR within one field's values.
    `any_of`: at least one clause must hold; a clause is an AND of field matches
    (visibility: owner_id in [me] OR region in [mine]). Empty text browses."""

    text: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    any_of: Sequence[Mapping[str, Sequence[str]]] = ()
    limit: int = 20
    offset: int = 0
    highlight: bool = True


@dataclass(frozen=True)
class SearchHit:
    id: str
    score: float
    document: dict[str, Any]
    highlights: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[SearchHit]


@runtime_checkable
class SearchIndex(Protocol):
    schema: IndexSchema

    def ensure(self) -> None:
        """Create the index when missing; idempotent."""

    def upsert(self, docs: Iterable[Mapping[str, Any]]) -> int:
        """Insert or replace documents by their "id"; returns how many."""

    def delete(self, ids: Iterable[str]) -> None: ...

    def refresh(self) -> None:
        """Make writes so far visible (and, embedded, durable)."""

    def search(self, query: SearchQuery) -> SearchResult: ...

    def count(self) -> int: ...

    def rebuild(self, docs: Iterable[Mapping[str, Any]]) -> int:
        """Build a fresh index from `docs` and swap it in atomically.
        Writes made during the rebuild reach the old index only: replay them."""

    def drop(self) -> None: ...

    def close(self) -> None: ...


def check_query(schema: IndexSchema, query: SearchQuery) -> None:
    """Reject what no engine can answer, naming the bad field."""
    if len(query.text) > MAX_TEXT_CHARS:
        raise InvalidArgument(f"search text is limited to {MAX_TEXT_CHARS} characters", field="text")
    if not 0 <= query.limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 0 and {MAX_LIMIT}", field="limit")
    if query.offset < 0 or query.offset + query.limit > MAX_WINDOW:
        raise InvalidArgument(f"offset + limit must stay within {MAX_WINDOW}", field="offset")
    clauses = [query.filters, *query.any_of]
    for clause in clauses:
        for name, values in clause.items():
            if name != ID_FIELD and schema.fields.get(name) != FieldKind.KEYWORD:
                raise InvalidArgument(f"cannot filter on {name!r}: not a keyword field", field=name)
            if isinstance(values, str):
                raise InvalidArgument(f"filter {name!r} takes a list of values", field=name)


def doc_id(doc: Mapping[str, Any]) -> str:
    value = doc.get(ID_FIELD)
    if value is None or value == "":
        raise InvalidArgument("every document needs an id", field=ID_FIELD)
    return str(value)


def values(value: Any) -> list[str]:
    """A field value as a list of strings: fields may be single or multi-valued."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value if v is not None and v != ""]
    return [str(value)] if value != "" else []
